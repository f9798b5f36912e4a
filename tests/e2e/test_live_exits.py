"""Automated exits of live positions through the real ccxt client against a local fake exchange."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.e2e.test_live_exchange import Live, _start
from tests.fakes.exchange import FakeExchange
from tradewire.adapters.store.tables import orders, positions, subscriptions
from tradewire.services import monitor as monitor_module

pytestmark = pytest.mark.slow


async def test_a_stop_loss_that_leaves_dust_closes_the_position_with_reason_sl(
    engine: Engine, tmp_path: Path
) -> None:
    # Bybit takes a buy's fee in the coin bought: 0.002 BTC bought leaves 0.001998, of which only
    # 0.00199 can be sold (step 0.00001); the 0.000008 left is below the market's minimum.
    with FakeExchange("bybit", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as bybit:
        live = await _start(
            tmp_path,
            bybit,
            database_url=engine.url.render_as_string(hide_password=False),
            monitor_interval_s=3600,  # the test ticks the exit monitor itself
            ticker_ttl_s=0.001,
        )
        try:
            [subscription] = live.rows(subscriptions)
            live.runtime.members.update_subscription(
                subscription.user_id, subscription.id, {"exit_rules": {"stop_loss_pct": "2"}}
            )
            await live.alert("buy")
            await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"])
            [opened] = live.rows(positions)
            assert opened.amount == Decimal("0.001998") and opened.stop_loss == Decimal("58800")

            bybit.set_price("BTC/USDT", "58000")
            assert await live.runtime.monitor.tick() == 1
            await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled", "filled"])
        finally:
            await live.runtime.stop()

    [closed] = live.rows(positions)
    sell = live.rows(orders)[-1]
    assert sell.side == "sell" and sell.close_reason == "SL" and sell.filled == Decimal("0.00199")
    assert closed.status == "closed" and closed.amount == Decimal("0.000008")  # the dust, kept on record
    assert closed.close_reason == "SL"
    live.agrees_with_exchange()


QUICK_LATE_CHECKS = {"late_fill_checks_s": [0.5, 1.0, 1.5]}


async def holding_with_a_stop(
    tmp_path: Path, fake: FakeExchange, monkeypatch: pytest.MonkeyPatch, **settings: Any
) -> Live:
    """A live position bought at 60,000 with a 2 % stop loss, the exit monitor ticked by the test
    and trying a position's exit again on its very next tick (the worst case)."""
    monkeypatch.setattr(monitor_module, "RETRY_AFTER", timedelta(0))
    live = await _start(tmp_path, fake, monitor_interval_s=3600, ticker_ttl_s=0.001, **settings)
    [subscription] = live.rows(subscriptions)
    live.runtime.members.update_subscription(
        subscription.user_id, subscription.id, {"exit_rules": {"stop_loss_pct": "2"}}
    )
    await live.alert("buy")
    await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"])
    return live


async def _stop_loss_resting(tmp_path: Path, fake: FakeExchange, monkeypatch: pytest.MonkeyPatch) -> Live:
    """A live position whose stop loss was hit, its market sell resting open on a thin book."""
    live = await holding_with_a_stop(tmp_path, fake, monkeypatch, **QUICK_LATE_CHECKS)
    fake.rest_next_market_orders()
    fake.set_price("BTC/USDT", "58000")
    assert await live.runtime.monitor.tick() == 1
    await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled", "open"])
    return live


def _sales(fake: FakeExchange) -> list[Decimal]:
    return [Decimal(t["amount"]) for t in fake.trades if t["side"] == "sell"]


async def _canceled_by_hand(live: Live, late_fill: str | None = None) -> str:
    """The user cancels the resting exit on the exchange's website (a fill of `late_fill` racing
    the cancel lands 1.5 s later); the account's "sync now" sees it canceled."""
    exit_id: str = live.rows(orders)[-1].client_order_id
    if late_fill is not None:
        live.fake.fill_after_cancel(exit_id, late_fill, delay_s=1.5)
    live.fake.cancel_manually(exit_id)
    await live.runtime.reconciler.sync_account(live.account_ids[0])
    assert live.rows(orders)[-1].state == "canceled"
    return exit_id


@pytest.fixture
def binance() -> Iterator[FakeExchange]:
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as fake:
        yield fake


async def test_a_stop_loss_canceled_by_hand_that_fills_afterwards_sells_once(
    tmp_path: Path, binance: FakeExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = await _stop_loss_resting(tmp_path, binance, monkeypatch)
    try:
        exit_id = await _canceled_by_hand(live, late_fill="0.002")
        assert await live.runtime.monitor.tick() == 0  # it may still fill: no second exit
        await live.until(lambda: [p.status for p in live.rows(positions)] == ["closed"])
        await live.until(lambda: live.rows(orders)[-1].next_check_at is None)
        assert await live.runtime.monitor.tick() == 0
    finally:
        await live.runtime.stop()

    assert _sales(binance) == [Decimal("0.002")]  # exactly one sale
    [_, sold] = live.rows(orders)
    assert sold.filled == Decimal("0.002") and sold.client_order_id == exit_id
    [closed] = live.rows(positions)
    assert (closed.amount, closed.close_reason) == (0, "SL")
    live.agrees_with_exchange()


async def test_a_stop_loss_canceled_by_hand_without_a_fill_is_placed_again_once_its_checks_end(
    tmp_path: Path, binance: FakeExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = await _stop_loss_resting(tmp_path, binance, monkeypatch)
    try:
        await _canceled_by_hand(live)
        assert await live.runtime.monitor.tick() == 0  # held while its late checks run
        await live.until(lambda: live.rows(orders)[-1].next_check_at is None)
        assert await live.runtime.monitor.tick() == 1  # the next attempt, at once
        await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled", "canceled", "filled"])
    finally:
        await live.runtime.stop()

    assert _sales(binance) == [Decimal("0.002")]
    [closed] = live.rows(positions)
    assert (closed.status, closed.close_reason) == ("closed", "SL")
    live.agrees_with_exchange()
