"""Prices moved by hand on live venues (local fakes through the real ccxt client) against the exit
monitor: each position is judged by the price of the venue that holds it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.fakes.exchange import FakeExchange
from tests.support import add_live_subscriber, flatten_urls, seed_marketplace
from tests.support import make_runtime as make_test_runtime
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.tables import orders, positions, strategy_pairs, subscriptions
from tradewire.runtime import Runtime

pytestmark = pytest.mark.slow


def _rows(runtime: Runtime, table: Any) -> list[Any]:
    with runtime.engine.connect() as conn:
        return list(conn.execute(select(table).order_by(*table.primary_key.columns)))


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_each_live_position_is_judged_by_the_price_of_its_own_venue(tmp_path: Path) -> None:
    # Two Binance accounts on two venues (say the real exchange and a testnet, or a proxy): the same
    # exchange id and symbol, different prices. A crash on one venue must not sell on the other.
    with (
        FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as main_venue,
        FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as other_venue,
    ):
        runtime = make_test_runtime(
            tmp_path,
            encryption_key=generate_key(),
            exchange_timeout_ms=800,
            reconcile_interval_s=0.2,
            monitor_interval_s=3600,  # the test ticks the exit monitor itself
            ticker_ttl_s=0.001,
        )
        seeded = seed_marketplace(runtime.engine, [])
        venues = {}
        for name, fake in (("main", main_venue), ("other", other_venue)):
            urls = flatten_urls(fake.ccxt_urls(), "")
            account_id = add_live_subscriber(
                runtime, seeded, "binance", urls, fake.api_key, fake.api_secret, name, quote_amount="120"
            )
            venues[account_id] = fake
        for subscription in _rows(runtime, subscriptions):
            runtime.members.update_subscription(
                subscription.user_id, subscription.id, {"exit_rules": {"stop_loss_pct": "2"}}
            )
        await runtime.start()
        try:
            body = json.dumps({"passphrase": "abcdefgh", "ticker": "BTCUSDT", "action": "buy"}).encode()
            await runtime.ingest.receive_tradingview(seeded.slug, body, "application/json", None)
            await runtime.bus.drain()
            await _until(lambda: [o.state for o in _rows(runtime, orders)] == ["filled", "filled"])
            assert {p.stop_loss for p in _rows(runtime, positions)} == {Decimal("58800")}

            other_venue.set_price("BTC/USDT", "50000")  # through the stop, on one venue only
            assert await runtime.monitor.tick() == 1
            await _until(
                lambda: len(_rows(runtime, orders)) == 3 and _rows(runtime, orders)[-1].state == "filled"
            )
            assert await runtime.monitor.tick() == 0
        finally:
            await runtime.stop()

    by_venue = {venues[p.account_id] is other_venue: p for p in _rows(runtime, positions)}
    assert (by_venue[True].status, by_venue[True].close_reason) == ("closed", "SL")
    assert by_venue[False].status == "open"  # 60,000 on its own venue: far above its stop
    assert [t["side"] for t in main_venue.trades] == ["buy"]
    assert [(t["side"], t["price"]) for t in other_venue.trades][-1] == ("sell", "50000")


async def test_a_live_strategy_s_track_record_counts_price_less_alerts_at_its_venue_s_price(
    tmp_path: Path,
) -> None:
    # The strategy's only subscriber trades on (fake) Binance; the paper market, which nobody of this
    # strategy trades on, shows other prices (replayed or simulated ones). Alerts without a price.
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as venue:
        runtime = make_test_runtime(
            tmp_path,
            encryption_key=generate_key(),
            exchange_timeout_ms=800,
            reconcile_interval_s=0.2,
            ticker_ttl_s=0.001,
        )
        seeded = seed_marketplace(runtime.engine, [])
        urls = flatten_urls(venue.ccxt_urls(), "")
        add_live_subscriber(
            runtime, seeded, "binance", urls, venue.api_key, venue.api_secret, quote_amount="120"
        )
        await runtime.start()
        try:

            async def alert(action: str, venue_price: str, paper_price: str) -> None:
                venue.set_price("BTC/USDT", venue_price)
                runtime.feed.set_price("BTC/USDT", Decimal(paper_price))
                body = json.dumps({"passphrase": "abcdefgh", "ticker": "BTCUSDT", "action": action}).encode()
                await runtime.ingest.receive_tradingview(seeded.slug, body, "application/json", None)
                await runtime.bus.drain()

            await alert("buy", "60000", "50000")
            await _until(lambda: [o.state for o in _rows(runtime, orders)] == ["filled"])
            await alert("sell", "66000", "40000")  # +10 % where the strategy trades, -20 % on paper
            await _until(lambda: [o.state for o in _rows(runtime, orders)] == ["filled", "filled"])
        finally:
            await runtime.stop()

    [pair] = _rows(runtime, strategy_pairs)
    assert (pair.symbol, pair.trades, pair.wins) == ("BTC/USDT", 1, 1)
    assert pair.gross_return_pct == Decimal("10")
    [position] = _rows(runtime, positions)
    assert position.realized_pnl > 0
