"""1 s candles from Binance's public trade stream, through the real ccxt pro client and the fake
exchange: the candles are the trades pushed (exact), empty seconds are candles, duplicates and late
trades change nothing, a broken stream reconnects and its gap is never bridged, and only the symbols
asked for are streamed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select, update

from tests.fakes.exchange import FakeExchange
from tests.support import make_runtime, seed_marketplace
from tradewire.adapters.live.trade_candles import TradeCandles
from tradewire.adapters.store.tables import signals, strategies
from tradewire.domain.strategies.builtin import build_strategy
from tradewire.domain.trade_candles import SecondCandle, SecondCandles
from tradewire.runtime import Runtime
from tradewire.services.strategy_runner import StrategyRunner

BTC, ETH = "BTC/USDT", "ETH/USDT"
T0 = 1_767_225_600_000  # a whole second; the test's clock
WAIT = 5.0
D = Decimal


class Clock:
    def __init__(self) -> None:
        self.ms = T0

    def __call__(self) -> int:
        return self.ms


async def until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


def stream_urls(fake: FakeExchange) -> dict[str, str]:
    """What an operator puts in candles_urls: the REST urls and the market-data stream's."""
    return {**fake.ccxt_urls(), "ws.spot": fake.ccxt_ws_urls()["spot"]}


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    with FakeExchange("binance") as server:
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def source(fake: FakeExchange, clock: Clock) -> AsyncIterator[TradeCandles]:
    candles = TradeCandles("binance", stream_urls(fake), 5_000, grace_ms=250, retry_s=0.05, now_ms=clock)
    try:
        yield candles
    finally:
        await candles.close()


async def following(source: TradeCandles, fake: FakeExchange, *symbols: str) -> None:
    source.follow(symbols)
    await until(lambda: all(fake.trade_subscribers(s) == 1 for s in symbols))


def book(source: TradeCandles, symbol: str = BTC) -> SecondCandles:
    found = source.book(symbol)
    assert found is not None
    return found


async def taken(source: TradeCandles, count: int, symbol: str = BTC) -> None:
    """Wait until the symbol's buffer has seen `count` trades (added, duplicate or late)."""
    b = book(source, symbol)
    await until(lambda: b.added + b.duplicates + b.late >= count)


async def test_candles_are_the_trades_pushed_exactly_with_empty_seconds_between(
    fake: FakeExchange, source: TradeCandles, clock: Clock
) -> None:
    await following(source, fake, BTC)
    pushed = [
        ("50000.10", "0.001", "buy", 10),
        ("50000.30", "0.002", "sell", 400),
        ("49999.90", "0.1", "buy", 999),
        # second 1 has no trade
        ("50001.00", "0.00001", "sell", 2_050),
        ("50000.50", "0.3", "sell", 2_500),
    ]
    sent = [
        fake.push_trade(BTC, price, amount, taker, time_ms=T0 + at) for price, amount, taker, at in pushed
    ]
    await taken(source, len(pushed))

    clock.ms = T0 + 3_000 + 249  # second 2 ended, but the grace is not over
    assert await source.closed_candles(BTC, "1s", 3) is None
    clock.ms = T0 + 3_250
    candles = await source.closed_candles(BTC, "1s", 3)

    assert book(source).history() == [
        SecondCandle(
            T0, D("50000.1"), D("50000.3"), D("49999.9"), D("49999.9"), D("0.103"), D("0.101"), D("0.002"), 3
        ),
        SecondCandle(T0 + 1_000, *[D("49999.9")] * 4, D(0), D(0), D(0), 0),
        SecondCandle(
            T0 + 2_000,
            D("50001"),
            D("50001"),
            D("50000.5"),
            D("50000.5"),
            D("0.30001"),
            D(0),
            D("0.30001"),
            2,
        ),
    ]
    assert candles is not None and candles.symbol == BTC and candles.timeframe == "1s"
    assert candles.ts.tolist() == [T0, T0 + 1_000, T0 + 2_000]
    assert candles.close.tolist() == [49999.9, 49999.9, 50000.5]
    assert candles.volume.tolist() == [0.103, 0.0, 0.30001]
    assert candles.buy_volume is not None and candles.buy_volume.tolist() == [0.101, 0.0, 0.0]
    # The taker side is Binance's "m" read the right way round: buyer is maker -> the taker sold.
    assert [e["m"] for e in sent] == [False, True, False, True, True]


async def test_a_trade_sent_twice_counts_once(fake: FakeExchange, source: TradeCandles, clock: Clock) -> None:
    await following(source, fake, BTC)
    first = fake.push_trade(BTC, "100", "1", time_ms=T0 + 100)
    fake.push_trade(BTC, "100", "1", time_ms=T0 + 100, trade_id=first["t"])
    fake.push_trade(BTC, "101", "2", time_ms=T0 + 200)
    await taken(source, 3)
    clock.ms = T0 + 2_000

    candles = await source.closed_candles(BTC, "1s", 1)

    assert book(source).duplicates == 1
    assert candles is not None and candles.volume.tolist() == [3.0]


async def test_a_trade_held_back_past_its_second_is_late_and_left_out(
    fake: FakeExchange, source: TradeCandles, clock: Clock
) -> None:
    await following(source, fake, BTC)
    fake.push_trade(BTC, "100", "1", time_ms=T0 + 100)
    await taken(source, 1)
    fake.pause_trade_stream()
    fake.push_trade(BTC, "200", "5", time_ms=T0 + 900)  # stuck on the wire
    clock.ms = T0 + 1_300
    closed = await source.closed_candles(BTC, "1s", 1)  # the second closes without it
    fake.pause_trade_stream(False)
    await taken(source, 2)

    assert book(source).late == 1
    assert closed is not None and closed.volume.tolist() == [1.0]
    assert book(source).history()[0].high == D("100")


@pytest.mark.parametrize("abort", [False, True], ids=["closed", "reset"])
async def test_a_broken_stream_reconnects_and_strategies_wait_for_fresh_candles(
    fake: FakeExchange, source: TradeCandles, clock: Clock, abort: bool
) -> None:
    await following(source, fake, BTC)
    fake.push_trade(BTC, "100", "1", time_ms=T0 + 100)
    await taken(source, 1)
    clock.ms = T0 + 5_300
    assert await source.closed_candles(BTC, "1s", 5) is not None

    clock.ms = T0 + 5_600
    assert fake.drop_trade_streams(abort=abort) == 1
    await until(lambda: book(source).gaps == 1)
    await until(lambda: fake.trade_subscribers(BTC) == 1)  # ccxt subscribed again

    # Nothing from before the gap, and nothing made up for the seconds missed.
    assert len(book(source)) == 0
    clock.ms = T0 + 9_000
    assert await source.closed_candles(BTC, "1s", 1) is None
    fake.push_trade(BTC, "105", "2", "sell", time_ms=T0 + 9_100)
    await taken(source, 2)
    clock.ms = T0 + 11_300
    assert await source.closed_candles(BTC, "1s", 3) is None  # two fresh candles, three asked
    fresh = await source.closed_candles(BTC, "1s", 2)
    assert fresh is not None and fresh.ts.tolist() == [T0 + 9_000, T0 + 10_000]
    assert fresh.close.tolist() == [105.0, 105.0] and fresh.volume.tolist() == [2.0, 0.0]


async def test_only_the_symbols_asked_for_are_streamed(
    fake: FakeExchange, source: TradeCandles, clock: Clock
) -> None:
    await following(source, fake, BTC, ETH)
    fake.push_trade(ETH, "3000", "1", time_ms=T0 + 100)
    await taken(source, 1, ETH)

    source.follow([BTC])

    await until(lambda: fake.trade_subscribers(ETH) == 0)
    assert source.following == [BTC] and source.book(ETH) is None
    assert fake.trade_subscribers(BTC) == 1
    clock.ms = T0 + 2_000
    assert await source.closed_candles(ETH, "1s", 1) is None
    with pytest.raises(ValueError, match="1s"):
        await source.closed_candles(BTC, "1m", 1)


async def test_an_exchange_without_a_trade_stream_gives_no_candles_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = TradeCandles("bitopro_not_an_exchange")
    source.follow([BTC])
    assert source.following == []
    assert await source.closed_candles(BTC, "1s", 10) is None
    assert "no 1s candles" in caplog.text
    await source.close()


# ---------------------------------------------------------------------- a 1 s strategy end to end


def _define(engine: Engine, strategy_id: int, definition: dict[str, object]) -> None:
    with engine.begin() as conn:
        conn.execute(update(strategies).where(strategies.c.id == strategy_id).values(definition=definition))


def _signals(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(signals).order_by(signals.c.id)).all())


class FixedClock:
    def __init__(self, ms: int) -> None:
        self.at = datetime.fromtimestamp(ms / 1000, tz=UTC)

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def runtime(engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    built = make_runtime(tmp_path, engine.url.render_as_string(hide_password=False))
    try:
        yield built
    finally:
        built.engine.dispose()


async def test_a_1s_strategy_signals_on_the_closed_second_its_trades_made(
    engine: Engine, runtime: Runtime, fake: FakeExchange, source: TradeCandles, clock: Clock
) -> None:
    seeded = seed_marketplace(engine, [])
    _define(
        engine,
        seeded.strategy_id,
        {"builtin": "macd", "timeframe": "1s", "symbols": [BTC], "candles_from": "binance"},
    )
    runner = StrategyRunner(
        runtime.store,
        runtime.ingest,
        lambda name: source if name == "binance" else None,
        FixedClock(T0),
        follow_trades=lambda wanted: source.follow(wanted.get("binance", frozenset())),
    )

    # The first round starts the stream the strategy needs; 240 s of a falling market follow.
    await runner.tick()
    await until(lambda: fake.trade_subscribers(BTC) == 1)
    for i in range(240):
        fake.push_trade(BTC, str(Decimal(30_000) - i), "0.01", "sell", time_ms=T0 + i * 1_000 + 500)
    await taken(source, 240)
    clock.ms = T0 + 240_250
    assert await runner.tick_seconds() == 0
    # Then the market turns: one second at a time, evaluated as each one closes.
    emitted = 0
    second = 240
    while emitted == 0 and second < 300:
        fake.push_trade(
            BTC, str(Decimal(29_761) + 5 * (second - 239)), "0.02", "buy", time_ms=T0 + second * 1_000
        )
        await taken(source, second + 1)
        second += 1
        clock.ms = T0 + second * 1_000 + 250
        emitted = await runner.tick_seconds()

    # The one entry is the strategy's own on those candles, on the second that just closed.
    candles = await source.closed_candles(BTC, "1s", second)
    assert candles is not None and len(candles) == second
    entries = [
        int(candles.ts[i]) for i in np.flatnonzero(build_strategy("macd", {}).signals(candles).entries)
    ]
    rows = _signals(engine)
    assert emitted == 1 and len(rows) == 1
    assert entries[-1] == T0 + (second - 1) * 1_000
    assert rows[0].action == "buy" and rows[0].symbol == BTC
    assert rows[0].details["timeframe"] == "1s"
    assert rows[0].details["candle"] == datetime.fromtimestamp(entries[-1] / 1000, tz=UTC).isoformat()
    assert Decimal(str(rows[0].price)) == Decimal(29_761) + 5 * (second - 240)

    # The strategy turned off: its stream stops.
    _define(
        engine,
        seeded.strategy_id,
        {"builtin": "macd", "timeframe": "1s", "symbols": [BTC], "candles_from": "binance", "enabled": False},
    )
    await runner.tick()
    await until(lambda: fake.trade_subscribers(BTC) == 0)
    assert source.following == []
