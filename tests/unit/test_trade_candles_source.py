"""TradeCandles around a stand-in for ccxt pro's client (the real one is in
tests/integration/test_trade_stream.py): a connection ccxt replaced between two calls is a gap too,
and a failing stream is retried with a growing pause."""

from __future__ import annotations

import asyncio
from typing import Any

from tradewire.adapters.live.trade_candles import TradeCandles

T0 = 1_767_225_600_000
BTC = "BTC/USDT"


class Connection:
    """What ccxt keeps per WebSocket url: the subscriptions riding on it."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, Any] = {f"trade::{BTC}": True}


class StandIn:
    """ccxt pro's surface TradeCandles uses: `has`, `clients`, `watch_trades`, `close`."""

    has = {"watchTrades": True, "unWatchTrades": False}

    def __init__(self, script: list[list[dict[str, Any]] | Exception | str]) -> None:
        self.script = script  # each call's trades, an error to raise, or "reconnect"
        self.clients: dict[str, Connection] = {"ws://x/ws/0": Connection()}
        self.calls = 0

    async def watch_trades(self, symbol: str) -> list[dict[str, Any]]:
        while self.calls >= len(self.script):
            await asyncio.sleep(3600)
        step = self.script[self.calls]
        self.calls += 1
        if step == "reconnect":
            # ccxt dropped the old connection and opened a new one between two calls.
            self.clients = {"ws://x/ws/0": Connection()}
            step = [_trade(90, 5_100)]
        if isinstance(step, Exception):
            raise step
        assert isinstance(step, list)
        return step

    async def close(self) -> None:
        return None


def _trade(n: int, at: int, price: float = 10.0) -> dict[str, Any]:
    return {"id": str(n), "timestamp": T0 + at, "price": price, "amount": 1.0, "side": "buy"}


async def _settle(client: StandIn, calls: int) -> None:
    for _ in range(1000):
        if client.calls >= calls:
            await asyncio.sleep(0.01)
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the stream was not read")


async def test_a_connection_replaced_between_two_calls_is_a_gap() -> None:
    client = StandIn([[_trade(1, 100)], [_trade(2, 1_100)], "reconnect"])
    source = TradeCandles("binance", now_ms=lambda: T0 + 3_000, client=client)
    source.follow([BTC])
    await _settle(client, 3)

    book = source.book(BTC)
    assert book is not None and book.gaps == 1 and len(book) == 0
    assert book.late == 0 and book.added == 3  # the trade after the reconnect starts fresh candles
    await source.close()


async def test_a_failing_stream_is_retried_with_a_growing_pause_and_each_failure_is_a_gap() -> None:
    client = StandIn([ConnectionError("reset"), ConnectionError("reset"), [_trade(1, 1_500)]])
    source = TradeCandles("binance", now_ms=lambda: T0, client=client, retry_s=0.02, max_retry_s=0.03)
    started = asyncio.get_running_loop().time()
    source.follow([BTC])
    await _settle(client, 3)

    book = source.book(BTC)
    assert book is not None and book.gaps == 2 and book.added == 1
    assert asyncio.get_running_loop().time() - started >= 0.02 + 0.03  # 0.02, then 0.04 capped at 0.03
    await source.close()


async def test_a_trade_ccxt_could_not_read_is_skipped() -> None:
    bad = [
        {"id": None, "timestamp": T0, "price": 1.0, "amount": 1.0},
        {"id": "2", "timestamp": T0, "price": None},
    ]
    client = StandIn([[*bad, _trade(3, 200)]])
    source = TradeCandles("binance", now_ms=lambda: T0, client=client)
    source.follow([BTC])
    await _settle(client, 1)

    book = source.book(BTC)
    assert book is not None and book.added == 1
    await source.close()
