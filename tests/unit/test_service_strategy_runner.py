"""StrategyRunner against the in-memory twin: on every closed candle it emits exactly the signals the
strategy computes on the candles so far, never twice (a repeated tick, a restart), and a definition
that no longer validates is skipped while the others run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import numpy as np
import pytest

from tests.fakes.memory_exchange import Symbols
from tests.fakes.memory_store import MemoryStore
from tests.fakes.world import World, world
from tests.unit.test_confirmation import five_minute
from tradewire.domain.candles import Candles
from tradewire.domain.partitions import Partitions
from tradewire.domain.strategies.builtin import build_strategy
from tradewire.services.ingest import SignalIngest
from tradewire.services.strategy_runner import RECOVERY_CANDLES, StrategyRunner

PARAMS = {"fast": 3, "slow": 8, "rsi_max": None}
FIVE_MINUTES = 300_000
T0 = 1_767_614_400_000  # 2026-01-05 12:00 UTC


def _candles(n: int = 90) -> Candles:
    """Down, up, down and up again: the EMAs cross both ways more than once."""
    x = np.arange(n, dtype=np.float64)
    return five_minute(100 + 15 * np.sin(x / 9), T0 + np.arange(n, dtype=np.int64) * FIVE_MINUTES)


class Replay:
    """Closed candles up to `closed`, which a test moves one candle at a time."""

    def __init__(self, candles: Candles, closed: int) -> None:
        self.candles, self.closed = candles, closed

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        return self.candles.rows(max(0, self.closed - limit), self.closed)


def _runner(w: World, replay: Replay) -> StrategyRunner:
    ingest = SignalIngest(w.store, Symbols(), w.bus, w.clock, verify=lambda secret, stored: False)
    return StrategyRunner(w.store, ingest, lambda source: replay, w.clock)


def _strategy(w: World, slug: str) -> int:
    """Another indicator strategy of the seeded user's; its id."""
    row = {"owner_id": 1, "slug": slug, "name": "s", "source": "indicator", "passphrase_hash": "-"}
    return w.members.create_strategy({**row, "created_at": w.clock.now()})


def _define(store: MemoryStore, strategy_id: int, definition: object) -> None:
    store.tables["strategies"][strategy_id]["definition"] = definition


async def test_live_signals_are_the_strategy_s_own_signals_on_each_closed_candle_never_twice() -> None:
    w = world([])
    _define(
        w.store, w.seeded.strategy_id, {"builtin": "ema_cross", "params": PARAMS, "symbols": ["BTC/USDT"]}
    )
    candles = _candles()
    replay = Replay(candles, 21)  # the first look goes back RECOVERY_CANDLES, to candle 18
    runner = _runner(w, replay)

    emitted = await runner.tick()
    for step in [1, 4] * 20:  # one candle closed since the last look, or several
        replay.closed = min(replay.closed + step, len(candles))
        emitted += await runner.tick()
        emitted += await runner.tick()  # the same candles again: nothing new
    restarted = await _runner(w, replay).tick()

    expected = build_strategy("ema_cross", PARAMS).signals(candles)
    want = [
        ("exit" if expected.exits[i] else "buy", int(candles.ts[i]))
        for i in range(21 - RECOVERY_CANDLES, len(candles))
        if expected.exits[i] or expected.entries[i]
    ]
    got = [(s["action"], _ms(s["details"]["candle"])) for s in w.rows("signals")]
    assert len(want) >= 3 and got == want
    assert (emitted, restarted) == (len(want), 0)
    assert w.column("signals", "symbol", "status")[0] == ("BTC/USDT", "received")


async def test_a_definition_that_no_longer_validates_is_skipped_and_the_others_run() -> None:
    w = world([])
    other = w.members.create_strategy(
        {
            "owner_id": 1,
            "slug": "bot",
            "name": "b",
            "source": "indicator",
            "passphrase_hash": "-",
            "created_at": w.clock.now(),
        }
    )
    _define(w.store, w.seeded.strategy_id, {"builtin": "no_such_strategy", "symbols": ["BTC/USDT"]})
    _define(w.store, other, {"builtin": "ema_cross", "params": PARAMS, "symbols": ["BTC/USDT"]})
    candles = _candles()
    replay = Replay(candles, 30)
    runner = _runner(w, replay)

    for _ in range(len(candles) - 30):
        replay.closed += 1
        await runner.tick()

    strategies = {s["strategy_id"] for s in w.rows("signals")}
    assert strategies == {other}


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


class Seconds(Replay):
    """Records which timeframes were read."""

    def __init__(self, candles: Candles, closed: int) -> None:
        super().__init__(candles, closed)
        self.read: list[str] = []

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        self.read.append(timeframe)
        return await super().closed_candles(symbol, timeframe, limit)


async def test_1s_strategies_run_in_their_own_round_and_only_their_symbols_are_streamed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = world([])
    paper_1s = _strategy(w, "paper-1s")
    off_1s = _strategy(w, "off-1s")
    base = {"builtin": "ema_cross", "params": PARAMS}
    _define(
        w.store,
        w.seeded.strategy_id,
        {**base, "timeframe": "5m", "symbols": ["BTC/USDT"], "candles_from": "binance"},
    )
    _define(w.store, paper_1s, {**base, "timeframe": "1s", "symbols": ["ETH/USDT"]})  # stored before the rule
    _define(
        w.store,
        off_1s,
        {**base, "timeframe": "1s", "symbols": ["SOL/USDT"], "candles_from": "okx", "enabled": False},
    )
    fast = _strategy(w, "fast")
    _define(
        w.store,
        fast,
        {**base, "timeframe": "1s", "symbols": ["BTC/USDT", "ETH/USDT"], "candles_from": "binance"},
    )
    replay = Seconds(_candles(), 40)
    followed: list[dict[str, frozenset[str]]] = []
    ingest = SignalIngest(w.store, Symbols(), w.bus, w.clock, verify=lambda secret, stored: False)
    runner = StrategyRunner(w.store, ingest, lambda source: replay, w.clock, follow_trades=followed.append)

    assert await runner.tick_seconds() == 0 and replay.read == []  # nothing loaded yet
    await runner.tick()
    assert followed == [{"binance": frozenset({"BTC/USDT", "ETH/USDT"})}]
    assert sorted(replay.read) == ["1s", "1s", "5m"]
    replay.read.clear()
    await runner.tick_seconds()
    assert replay.read == ["1s", "1s"]  # the 5m strategy waits for the slower round
    assert (
        f"strategy {paper_1s}: 1s candles come from an exchange's trade stream; paper has none" in caplog.text
    )


async def test_run_evaluates_1s_strategies_in_their_faster_round() -> None:
    w = world([])
    base = {"builtin": "ema_cross", "params": PARAMS, "candles_from": "binance"}
    _define(w.store, w.seeded.strategy_id, {**base, "timeframe": "5m", "symbols": ["BTC/USDT"]})
    fast = _strategy(w, "fast")
    _define(w.store, fast, {**base, "timeframe": "1s", "symbols": ["BTC/USDT"]})
    replay = Seconds(_candles(), 40)
    ingest = SignalIngest(w.store, Symbols(), w.bus, w.clock, verify=lambda secret, stored: False)
    runner = StrategyRunner(
        w.store, ingest, lambda source: replay, w.clock, interval_s=60, seconds_interval_s=0.01
    )
    stop = asyncio.Event()

    task = asyncio.ensure_future(runner.run(stop))
    async with asyncio.timeout(5):  # five 1 s rounds, each 0.01 s after the last, well within 5m's 60 s
        while replay.read.count("1s") < 5:
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)

    assert replay.read.count("5m") == 1
    assert replay.read.count("1s") >= 5


class _Share:
    """A worker's share beside other workers (a fixed set of partitions; the leader or not)."""

    def __init__(self, owned: set[int], leader: bool, count: int = 2) -> None:
        self.partitions = Partitions(count, frozenset(owned))
        self.leader = leader

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[Partitions | None]:
        yield self.partitions


@pytest.mark.parametrize("candles_from", ["binance", "paper"])
async def test_beside_other_workers_each_strategy_is_evaluated_by_one_worker(candles_from: str) -> None:
    """An exchange's candles: the owner of the strategy's partition; the paper market's: the leader."""
    w = world([])
    strategy_id = w.seeded.strategy_id
    _define(
        w.store,
        strategy_id,
        {"builtin": "ema_cross", "params": PARAMS, "symbols": ["BTC/USDT"], "candles_from": candles_from},
    )
    replay = Replay(_candles(), 21)
    ingest = SignalIngest(w.store, Symbols(), w.bus, w.clock, verify=lambda secret, stored: False)
    mine, other = {strategy_id % 2}, {1 - strategy_id % 2}
    workers = {
        "owner": _Share(mine, leader=False),
        "leader": _Share(other, leader=True),
        "neither": _Share(other, leader=False),
    }
    runners = {
        name: StrategyRunner(w.store, ingest, lambda _source: replay, w.clock, ownership=share)
        for name, share in workers.items()
    }
    evaluating = "owner" if candles_from == "binance" else "leader"
    emitted = dict.fromkeys(workers, 0)
    while replay.closed < 90:
        replay.closed += 1
        # The evaluating worker ticks last: a worker that wrongly evaluated would store the signals first.
        for name in sorted(runners, key=lambda n: n == evaluating):
            emitted[name] += await runners[name].tick()
    assert emitted[evaluating] > 0
    assert {n: e for n, e in emitted.items() if n != evaluating} == {n: 0 for n in workers if n != evaluating}
