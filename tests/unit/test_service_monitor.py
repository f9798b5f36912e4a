"""ExitMonitor against the in-memory store and exchange: a stop loss, take profit, trailing stop or
daily loss limit stores then sends one market sell with its reason, never a second while one is in
flight, and nothing for a halted subscription."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.fakes.world import World, world
from tradewire.domain.orders import LATE_FILL_CHECKS_S
from tradewire.ports import OrderOutcomeUnknown
from tradewire.services.monitor import RETRY_AFTER, ExitMonitor
from tradewire.services.reconcile import ReconcilePolicy, Reconciler


async def _entered(rules: dict[str, Any], **subscription: Any) -> tuple[World, ExitMonitor]:
    """One subscriber bought 1 BTC at 100 with these exit rules; its exit monitor, loaded."""
    w = world([{"exit_rules": rules, **subscription}])
    w.signal()
    executor = w.executor()
    await executor.execute_pending()
    monitor = ExitMonitor(w.store, w.exchanges, w.clock, send=executor.resume)
    assert await monitor.tick() == 0
    return w, monitor


def _price(w: World, price: str) -> None:
    w.exchange.prices["BTC/USDT"] = Decimal(price)


async def test_a_stop_loss_hit_sells_the_position_and_closes_it_with_its_reason() -> None:
    w, monitor = await _entered({"stop_loss_pct": "5", "take_profit_pct": "10"})
    _price(w, "96")
    held = await monitor.tick()
    _price(w, "94.5")
    w.clock.advance(1)

    sold = await monitor.tick()

    assert (held, sold) == (0, 1)
    [_entry, exit_order] = w.rows("orders")
    assert (exit_order["client_order_id"], exit_order["side"], exit_order["close_reason"]) == (
        "tx0000000001a0",
        "sell",
        "SL",
    )
    assert exit_order["state"] == "filled" and exit_order["sizing_note"] == "stop loss at 95, price 94.5"
    [position] = w.rows("positions")
    assert (position["status"], position["close_reason"], position["realized_pnl"]) == (
        "closed",
        "SL",
        Decimal("-5.5"),
    )
    assert monitor.stats.reasons == {"SL": 1}


async def test_a_take_profit_hit_sells_at_the_target() -> None:
    w, monitor = await _entered({"stop_loss_pct": "5", "take_profit_pct": "10"})
    _price(w, "110.5")

    assert await monitor.tick() == 1

    assert w.column("orders", "close_reason") == [None, "TP"]
    assert w.column("positions", "status", "close_reason") == [("closed", "TP")]


async def test_a_trailing_stop_follows_the_best_price_and_sells_on_the_pullback() -> None:
    w, monitor = await _entered({"trailing_pct": "5"})
    for price in ("110", "120", "115"):  # 115 is above 120 less 5 %
        _price(w, price)
        w.clock.advance(1)
        assert await monitor.tick() == 0
    await monitor.flush()
    best = w.column("positions", "best_price")
    _price(w, "113.9")

    sold = await monitor.tick()

    assert best == [Decimal(120)]
    assert sold == 1
    assert w.column("orders", "close_reason") == [None, "TRAILING"]
    assert w.column("positions", "realized_pnl") == [Decimal("13.9")]


async def test_no_second_exit_is_placed_while_the_first_is_in_flight() -> None:
    w, monitor = await _entered({"stop_loss_pct": "5"})
    w.exchange.fail_next.append((OrderOutcomeUnknown("read timeout"), False))  # the sell's fate unknown
    _price(w, "90")
    first = await monitor.tick()
    w.clock.advance(RETRY_AFTER.total_seconds() + 1)

    second = await monitor.tick()
    reloaded = ExitMonitor(w.store, w.exchanges, w.clock, send=w.executor().resume)
    third = await reloaded.tick()

    assert (first, second, third) == (1, 0, 0)
    assert w.column("orders", "side", "state") == [("buy", "filled"), ("sell", "submitted")]
    assert [r.side.value for r in w.exchange.creates] == ["buy", "sell"]
    assert w.column("positions", "status") == ["open"]


async def test_a_halted_subscription_gets_no_exit_order() -> None:
    w, _ = await _entered({"stop_loss_pct": "5"})
    w.set_subscription(1, trading_state="HALTED")
    monitor = ExitMonitor(w.store, w.exchanges, w.clock, send=w.executor().resume)
    _price(w, "90")

    assert await monitor.tick() == 0

    assert w.column("orders", "side") == ["buy"]
    assert w.column("positions", "status") == ["open"]


async def test_a_breached_daily_loss_limit_closes_the_subscriptions_that_ask_for_it() -> None:
    limits = {"cooldown_s": 0, "close_on_daily_loss": True, "daily_loss_quote": "50"}
    w, monitor = await _entered({}, risk_limits=limits)
    account = w.seeded.account_ids[0]
    w.store.tables.account_daily_pnl[(account, w.clock.now().date().isoformat())] = Decimal(-60)

    assert await monitor.tick() == 1

    assert w.column("orders", "close_reason") == [None, "RISK"]
    assert w.column("positions", "status", "close_reason") == [("closed", "RISK")]


async def test_an_exit_concluded_lost_holds_the_next_one_back_until_its_late_checks_are_over() -> None:
    w, _ = await _entered({"stop_loss_pct": "5"})
    # No full reload meanwhile: the held exit is released by its own check, not by a fresh start.
    monitor = ExitMonitor(w.store, w.exchanges, w.clock, send=w.executor().resume, full_reload_s=3600)
    w.exchange.fail_next.append((OrderOutcomeUnknown("read timeout"), False))  # never reached it
    reconciler = Reconciler(
        w.store, w.exchanges, w.clock, ReconcilePolicy(lost_after_s=0, lost_after_checks=1)
    )
    _price(w, "90")
    first = await monitor.tick()
    w.clock.advance(1)
    await reconciler.check_due()  # concluded lost, and looked up a few times more
    w.clock.advance(RETRY_AFTER.total_seconds() + 1)

    held = await monitor.tick()
    for wait in LATE_FILL_CHECKS_S:  # the exchange never shows it
        w.clock.advance(wait)
        await reconciler.check_due()
    released = await monitor.tick()

    assert (first, held, released) == (1, 0, 1)
    assert w.column("orders", "client_order_id", "state") == [
        ("tw0000000001", "filled"),
        ("tx0000000001a0", "rejected"),
        ("tx0000000001a1", "filled"),
    ]
    assert w.column("positions", "status", "close_reason") == [("closed", "SL")]
