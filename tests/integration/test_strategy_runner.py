"""The server runs published indicator strategies and bots on closed candles: the signals it emits
live are exactly the backtest's, never twice, and bots keep their temperature, confirmation period
and cooldown rules. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, select, update

from tests.support import make_runtime, seed_marketplace
from tradewire.adapters.candles_parquet import read_candles
from tradewire.adapters.passwords import verify_secret
from tradewire.adapters.store.tables import signals, strategies
from tradewire.domain.candles import Candles
from tradewire.domain.strategies.builtin import build_strategy
from tradewire.runtime import Runtime
from tradewire.services.ingest import SignalIngest
from tradewire.services.strategy_runner import RECOVERY_CANDLES, StrategyRunner

SERIES = "ohlcv/freqtrade/ETH_BTC-5m.parquet"
STEPS = 700


class Replay:
    """A candle source over real candles that closes one more candle per `advance()`."""

    def __init__(self, candles: Candles, start: int) -> None:
        self.candles = candles
        self.closed = start

    def advance(self) -> None:
        self.closed += 1

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        return self.candles.rows(max(0, self.closed - limit), self.closed)


class Clock:
    """Stands still until moved; starts when the given candle closes."""

    def __init__(self, candles: Candles | None = None, index: int = 0) -> None:
        self.at = datetime(2026, 1, 1, tzinfo=UTC)
        if candles is not None:
            self.at = datetime.fromtimestamp((int(candles.ts[index]) + 300_000) / 1000, tz=UTC)

    def now(self) -> datetime:
        return self.at


def _define(engine: Engine, strategy_id: int, definition: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(update(strategies).where(strategies.c.id == strategy_id).values(definition=definition))


def _emitted(engine: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(select(signals).order_by(signals.c.id)).all()
    return [(r.details["candle"], r.action, r.details) for r in rows]


def _runner(runtime: Runtime, replay: Replay, clock: Clock) -> StrategyRunner:
    return StrategyRunner(runtime.store, runtime.ingest, lambda name: replay, clock)


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat()


def _bot_at_its_first_entry(
    engine: Engine, tmp_path: Path, data_dir: Path, cooldown_minutes: int
) -> tuple[Runtime, Candles, int, Replay, Clock]:
    """A bot on ema_cross's defaults holding entries 10 minutes, the market and clock at the close of
    its first entry candle."""
    candles = read_candles(data_dir / SERIES, "ETH/BTC", "5m")
    bot = {"min_temperature": 0, "confirmation_minutes": 10, "cooldown_minutes": cooldown_minutes}
    entries = build_strategy("ema_cross", {}).signals(candles).entries
    seeded = seed_marketplace(engine, [])
    _define(
        engine,
        seeded.strategy_id,
        {"builtin": "ema_cross", "timeframe": "5m", "symbols": ["ETH/BTC"], "bot": bot},
    )
    runtime = make_runtime(tmp_path, engine.url.render_as_string(hide_password=False))
    entry = next(i for i in range(30, len(candles)) if entries[i])
    return runtime, candles, entry, Replay(candles, entry + 1), Clock(candles, entry)


async def test_live_signals_are_the_backtest_signals_and_never_sent_twice(
    engine: Engine, tmp_path: Path, data_dir: Path
) -> None:
    candles = read_candles(data_dir / SERIES, "ETH/BTC", "5m")
    seeded = seed_marketplace(engine, [])
    _define(engine, seeded.strategy_id, {"builtin": "ema_cross", "timeframe": "5m", "symbols": ["ETH/BTC"]})
    runtime = make_runtime(tmp_path, engine.url.render_as_string(hide_password=False))
    replay, clock = Replay(candles, 30), Clock()
    runner = _runner(runtime, replay, clock)
    for _ in range(STEPS):
        await runner.tick()
        replay.advance()

    # The same strategy over the same candles, vectorised as the backtester runs it.
    full = build_strategy("ema_cross", {}).signals(candles)
    last = replay.closed - 1  # the last candle the runner saw closed
    expected = [
        (_iso(int(candles.ts[i])), "exit" if full.exits[i] else "buy")
        for i in range(30 - RECOVERY_CANDLES, last)
        if full.entries[i] or full.exits[i]
    ]
    emitted = _emitted(engine)
    assert [(c, a) for c, a, _ in emitted] == expected
    assert len(expected) >= 4

    # A restarted server evaluates the last candle again: nothing is sent twice.
    again = _runner(runtime, replay, clock)
    replay.closed = int(np.searchsorted(candles.ts, candles.ts[last])) + 1
    await again.tick()
    assert len(_emitted(engine)) == len(emitted)


async def test_a_changed_definition_applies_without_a_restart(
    engine: Engine, tmp_path: Path, data_dir: Path
) -> None:
    candles = read_candles(data_dir / SERIES, "ETH/BTC", "5m")
    seeded = seed_marketplace(engine, [])
    definition: dict[str, Any] = {"builtin": "ema_cross", "timeframe": "5m", "symbols": ["ETH/BTC"]}
    _define(engine, seeded.strategy_id, {**definition, "enabled": False})
    runtime = make_runtime(tmp_path, engine.url.render_as_string(hide_password=False))
    replay, clock = Replay(candles, 30), Clock()
    runner = _runner(runtime, replay, clock)
    for _ in range(300):
        await runner.tick()
        replay.advance()
    assert _emitted(engine) == []  # stopped

    _define(engine, seeded.strategy_id, {**definition, "params": {"fast": 3, "slow": 8}})
    for _ in range(300):
        await runner.tick()
        replay.advance()

    fast = build_strategy("ema_cross", {"fast": 3, "slow": 8}).signals(candles)
    # Re-enabled, it first looks back over the last RECOVERY_CANDLES candles (closed while it was off).
    start = 330 - RECOVERY_CANDLES
    first = next(i for i in range(start, len(candles)) if fast.entries[i] or fast.exits[i])
    assert _emitted(engine)[0][0] == _iso(int(candles.ts[first]))


async def test_a_bot_entry_must_be_warm_hold_its_confirmation_period_and_respect_the_cooldown(
    engine: Engine, tmp_path: Path, data_dir: Path
) -> None:
    runtime, candles, entry, replay, clock = _bot_at_its_first_entry(engine, tmp_path, data_dir, 15)
    runner = _runner(runtime, replay, clock)

    await runner.tick()  # the entry candle has just closed
    assert _emitted(engine) == []  # it must hold for 10 minutes first
    clock.at += timedelta(minutes=9, seconds=59)
    await runner.tick()
    assert _emitted(engine) == []
    clock.at += timedelta(seconds=1)
    await runner.tick()

    [(candle, action, details)] = _emitted(engine)
    assert (candle, action) == (_iso(int(candles.ts[entry])), "buy")
    assert 0 <= details["temperature"] <= 100 and details["held_minutes"] == 10.0


async def test_a_bot_waits_out_its_cooldown_after_a_signal_on_the_pair(
    engine: Engine, tmp_path: Path, data_dir: Path
) -> None:
    candles = read_candles(data_dir / SERIES, "ETH/BTC", "5m")
    seeded = seed_marketplace(engine, [])
    bot = {"min_temperature": 0, "confirmation_minutes": 0, "cooldown_minutes": 120}
    params = {"fast": 3, "slow": 8, "rsi_max": None}  # a nervous strategy: many signals close together
    definition = {"builtin": "ema_cross", "params": params, "timeframe": "5m", "symbols": ["ETH/BTC"]}
    _define(engine, seeded.strategy_id, {**definition, "bot": bot})
    runtime = make_runtime(tmp_path, engine.url.render_as_string(hide_password=False))
    replay, clock = Replay(candles, 30), Clock(candles, 29)
    ingest = SignalIngest(runtime.store, runtime.exchanges, runtime.bus, clock, verify_secret)
    runner = StrategyRunner(runtime.store, ingest, lambda name: replay, clock)
    for _ in range(1500):
        await runner.tick()
        replay.advance()
        clock.at += timedelta(minutes=5)

    with engine.connect() as conn:
        rows = conn.execute(select(signals.c.action, signals.c.received_at).order_by(signals.c.id)).all()
    buys = [i for i, r in enumerate(rows) if r.action == "buy"]
    assert len(buys) >= 3
    for i in buys[1:]:
        assert rows[i].received_at - rows[i - 1].received_at >= timedelta(minutes=120)
    entries = build_strategy("ema_cross", params).signals(candles).entries[30:1530]
    assert len(buys) < int(entries.sum())  # some entries fell inside a cooldown


async def test_a_restart_keeps_a_bot_entry_waiting_and_recovers_a_signal_missed_while_down(
    engine: Engine, tmp_path: Path, data_dir: Path
) -> None:
    runtime, candles, entry, replay, clock = _bot_at_its_first_entry(engine, tmp_path, data_dir, 0)
    await _runner(runtime, replay, clock).tick()  # the entry is seen, then the server stops
    assert _emitted(engine) == []

    # Down for 7 minutes: a candle closed meanwhile. The new process rebuilds the waiting entry from
    # the candles, with its clock running from the entry candle's close.
    clock.at += timedelta(minutes=7)
    replay.advance()
    again = _runner(runtime, replay, clock)
    await again.tick()
    assert _emitted(engine) == []
    clock.at += timedelta(minutes=3)
    await again.tick()
    await again.tick()

    [(candle, action, details)] = _emitted(engine)
    assert (candle, action) == (_iso(int(candles.ts[entry])), "buy") and details["held_minutes"] == 10.0
