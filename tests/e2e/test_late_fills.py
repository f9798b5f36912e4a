"""Fills the exchange reports after we saw an order canceled, through the real ccxt client.

A cancel and a fill can cross on the wire: the cancel is answered "canceled" and a trade lands on the
order just after. The fill is real money: it is recorded, found by a few bounded re-checks (or the
user-data stream), and the position, balance, results and intent follow.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e.test_live_exchange import _resting_limit, _start
from tests.fakes.exchange import FakeExchange
from tradewire.adapters.store.tables import (
    account_daily_pnl,
    execution_intents,
    execution_log,
    fills,
    orders,
    positions,
    subscriptions,
)
from tradewire.domain.orders import OrderSide

pytestmark = pytest.mark.slow

QUICK_LATE_CHECKS = {"late_fill_checks_s": [0.5, 1.0, 1.5]}


def _order_lookups(fake: FakeExchange, coid: str) -> int:
    return sum(
        1
        for r in fake.request_log
        if r.method == "GET" and r.path == "/api/v3/order" and r.params.get("origClientOrderId") == coid
    )


async def test_a_fill_landing_after_our_timeout_cancel_is_found_and_the_position_follows(
    tmp_path: Path, fake: FakeExchange
) -> None:
    live = await _start(tmp_path, fake, limit_order_timeout_s=0.5, **QUICK_LATE_CHECKS)
    try:
        coid = await _resting_limit(live, price="59000", amount="0.003")
        fake.fill_after_cancel(coid, "0.001", delay_s=0.3)  # lands after our cancel and its lookup
        await live.until(lambda: live.rows(orders)[-1].state == "canceled")
        seen_canceled, lookups_before = live.rows(orders)[-1], _order_lookups(fake, coid)
        await live.until(lambda: live.rows(orders)[-1].filled == Decimal("0.001"))
        await live.until(lambda: live.rows(orders)[-1].next_check_at is None)  # the window ends
    finally:
        await live.runtime.stop()

    assert seen_canceled.filled == 0  # the cancel was answered "canceled" with nothing filled
    [order] = live.rows(orders)
    assert order.state == "canceled"
    [fill] = live.rows(fills)
    assert fill.trade_id == fake.trades[0]["id"]  # the exchange's own trade, once
    [position] = live.rows(positions)
    assert (position.status, position.amount) == ("open", Decimal("0.001"))
    [intent] = live.rows(execution_intents)
    assert intent.status == "done" and "more filled after the order was canceled" in intent.reason
    assert any("more filled after" in r.reason for r in live.rows(execution_log))
    # A check found the fill, then a new window of three checks: bounded, whatever happens.
    assert _order_lookups(fake, coid) - lookups_before <= 1 + 3
    live.agrees_with_exchange()


async def test_a_late_fill_that_completes_a_canceled_sell_closes_the_position_with_its_result(
    tmp_path: Path, fake: FakeExchange
) -> None:
    live = await _start(tmp_path, fake, limit_order_timeout_s=0.5, **QUICK_LATE_CHECKS)
    try:
        await live.alert("buy")  # 0.002 BTC at 60,000
        await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"])
        sell = await _resting_limit(live, price="61000", amount="0.002", side=OrderSide.SELL)
        fake.fill_after_cancel(sell, "0.002", delay_s=0.3)
        await live.until(lambda: live.rows(orders)[-1].state == "filled", timeout=15)
    finally:
        await live.runtime.stop()

    [_, sold] = live.rows(orders)
    assert sold.filled == Decimal("0.002")
    [position] = live.rows(positions)
    assert position.status == "closed" and position.amount == 0
    assert position.realized_pnl == Decimal("2")  # 0.002 × (61,000 − 60,000)
    net = position.realized_pnl - position.fees
    with live.runtime.engine.connect() as conn:
        [day] = conn.execute(select(account_daily_pnl)).all()
    assert day.pnl == net
    [subscription] = live.rows(subscriptions)
    assert subscription.pnl_total == net
    assert {i.status for i in live.rows(execution_intents)} == {"done"}
    live.agrees_with_exchange()
    assert Decimal(fake.balances["USDT"]["total"]) == Decimal("10000") + net


async def test_a_late_fill_pushed_on_the_stream_is_recorded_without_a_poll(
    tmp_path: Path, fake: FakeExchange
) -> None:
    # Polling every 30 s and no late-fill checks: only the stream can bring the fill in.
    live = await _start(tmp_path, fake, streams=True, reconcile_interval_s=30, late_fill_checks_s=[])
    try:
        coid = await _resting_limit(live, price="59000", amount="0.002")
        await live.until(lambda: fake.stream_connections == 1)
        fake.fill_after_cancel(coid, "0.001", delay_s=0.3)
        fake.cancel_manually(coid)
        await live.until(lambda: live.rows(orders)[-1].filled == Decimal("0.001"), timeout=5)
    finally:
        await live.runtime.stop()

    assert live.rows(orders)[-1].state == "canceled"
    assert [p.amount for p in live.rows(positions)] == [Decimal("0.001")]
    live.agrees_with_exchange()


async def test_a_canceled_order_without_late_fills_is_checked_a_bounded_number_of_times(
    tmp_path: Path, fake: FakeExchange
) -> None:
    live = await _start(tmp_path, fake, **QUICK_LATE_CHECKS)
    try:
        coid = await _resting_limit(live, price="59000", amount="0.002")
        fake.cancel_manually(coid)
        await live.until(lambda: live.rows(orders)[-1].state == "canceled")
        lookups_before = _order_lookups(fake, coid)
        await live.until(lambda: live.rows(orders)[-1].next_check_at is None, timeout=10)
        checks = _order_lookups(fake, coid) - lookups_before
        await asyncio.sleep(0.8)  # longer than the last gap of the window: nothing more is asked
        after_window = _order_lookups(fake, coid) - lookups_before
    finally:
        await live.runtime.stop()

    [order] = live.rows(orders)
    assert order.late_checks == 3
    assert checks == 3  # the three late-fill checks, and no more
    assert after_window == checks
    assert live.rows(positions) == [] and live.rows(fills) == []
    assert [i.status for i in live.rows(execution_intents)] == ["failed"]
