"""Paper accounts on real market prices: the paper market follows an exchange's public tickers."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from tests.fakes.exchange import FakeExchange
from tests.support import make_runtime, seed_marketplace
from tradewire.adapters.store.tables import orders


async def _until(condition: object, timeout: float = 10.0) -> None:
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < timeout, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_paper_orders_fill_at_the_exchanges_price_which_holds_when_it_goes_away(
    tmp_path: Path,
) -> None:
    fake = FakeExchange("binance", prices={"BTC/USDT": "61234.5", "ETH/USDT": "3000"})
    fake.start()
    runtime = make_runtime(
        tmp_path,
        paper_prices_from="binance",
        paper_prices_urls=fake.ccxt_urls(),
        paper_prices_interval_s=0.1,
        exchange_timeout_ms=500,
    )
    seeded = seed_marketplace(runtime.engine, [{}])
    await runtime.start()
    try:
        await _until(lambda: runtime.feed.last_price("BTC/USDT") == Decimal("61234.5"))
        source = runtime.feed.source("BTC/USDT")
        simulated = runtime.feed.is_simulated("BTC/USDT")
        body = json.dumps({"passphrase": "abcdefgh", "ticker": "BTCUSDT", "action": "buy"}).encode()
        await runtime.ingest.receive_tradingview(seeded.slug, body, "application/json", None)
        await runtime.bus.drain()
        with runtime.engine.connect() as conn:
            [order] = conn.execute(select(orders)).all()

        fake.stop()  # the network goes away
        await _until(lambda: runtime.feed.source("BTC/USDT") != "live:binance")
        held_simulated = runtime.feed.is_simulated("BTC/USDT")
        held = runtime.feed.last_price("BTC/USDT"), runtime.feed.source("BTC/USDT")
    finally:
        await runtime.stop()

    assert source == "live:binance" and simulated is False
    assert order.state == "filled" and order.average == Decimal("61234.5")
    # Its last price holds (not the simulation's, another market's price), and says why.
    assert held_simulated is False
    assert held == (Decimal("61234.5"), "live:binance (last price; binance unreachable)")
