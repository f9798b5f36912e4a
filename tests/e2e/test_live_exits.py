"""Automated exits of live positions through the real ccxt client against a local fake exchange."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.e2e.test_live_exchange import _start
from tests.fakes.exchange import FakeExchange
from tradewire.adapters.store.tables import orders, positions, subscriptions

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
