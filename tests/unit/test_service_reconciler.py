"""Reconciler against the in-memory store and exchange: orders move only from what the exchange says,
a missing order is resent only where that is safe and otherwise concluded lost, limit orders past
their timeout are withdrawn, pushed updates count once, and one account's trouble stays its own."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from tests.fakes.memory_exchange import MemoryExchange
from tests.fakes.world import World, world
from tradewire.domain.orders import OrderSide, OrderType
from tradewire.domain.records import Decisions, NewOrder
from tradewire.ports import OrderOutcomeUnknown
from tradewire.services.reconcile import ReconcilePolicy, Reconciler


async def _unanswered(w: World, placed: bool = True) -> None:
    """Every subscriber's order sent, its answer lost (`placed`: the exchange has it all the same)."""
    for _ in w.seeded.subscription_ids:
        w.exchange.fail_next.append((OrderOutcomeUnknown("read timeout"), placed))
    w.signal()
    await w.executor().execute_pending()


async def test_a_due_order_takes_the_state_and_fills_the_exchange_reports() -> None:
    w = world()
    await _unanswered(w)
    reconciler = Reconciler(w.store, w.exchanges, w.clock)

    not_yet = await reconciler.check_due()
    w.clock.advance(1)
    checked = await reconciler.check_due()
    w.clock.advance(60)
    after = await reconciler.check_due()

    assert (not_yet, checked, after) == (0, 1, 0)
    assert w.column("orders", "state", "filled", "next_check_at") == [("filled", Decimal(1), None)]
    assert w.column("fills", "trade_id") == ["tw0000000001-1"]
    assert w.column("positions", "amount") == [Decimal(1)]
    assert w.column("execution_intents", "status") == ["done"]


async def test_a_missing_order_is_not_resent_where_a_resend_could_trade_twice_and_is_concluded_lost() -> None:
    w = world()
    await _unanswered(w, placed=False)  # one lookup counted already: the send's
    policy = ReconcilePolicy(lost_after_s=120, lost_after_checks=4)
    reconciler = Reconciler(w.store, w.exchanges, w.clock, policy)

    seen = []
    for wait in (1, 200, 200):  # too young; old enough but too few lookups; both
        w.clock.advance(wait)
        await reconciler.check_due()
        seen.append(w.column("orders", "state", "check_attempts")[0])

    assert seen == [("submitted", 2), ("submitted", 3), ("rejected", 3)]
    assert len(w.exchange.creates) == 1  # the first send only
    [order] = w.rows("orders")
    assert order["rejection"] == "lost"
    assert order["reason"].startswith("never reached the exchange: not found by client order id tw0000000001")
    assert order["next_check_at"] is not None  # looked up a few times more, in case it shows up
    assert w.column("execution_intents", "status") == ["failed"]


async def test_an_order_concluded_lost_that_shows_up_filled_is_recorded() -> None:
    w = world()
    await _unanswered(w, placed=True)
    w.exchange.hidden.add("tw0000000001")  # the exchange's index lags behind
    reconciler = Reconciler(
        w.store, w.exchanges, w.clock, ReconcilePolicy(lost_after_s=0, lost_after_checks=1)
    )
    w.clock.advance(1)
    await reconciler.check_due()
    lost = w.column("orders", "state", "rejection")

    w.exchange.hidden.clear()
    w.clock.advance(3)
    await reconciler.check_due()

    assert lost == [("rejected", "lost")]
    assert w.column("orders", "state", "rejection", "filled") == [("filled", None, Decimal(1))]
    assert w.column("positions", "amount") == [Decimal(1)]
    assert w.column("execution_intents", "status") == ["done"]


async def test_a_missing_order_is_sent_again_where_the_exchange_refuses_a_known_client_order_id() -> None:
    w = world()
    w.exchange.dedupes = True
    await _unanswered(w, placed=False)

    w.clock.advance(1)
    await Reconciler(w.store, w.exchanges, w.clock).check_due()

    assert [r.client_order_id for r in w.exchange.creates] == ["tw0000000001", "tw0000000001"]
    assert w.column("orders", "state") == ["filled"]


async def test_a_resting_limit_order_past_its_timeout_is_canceled_and_its_partial_fill_kept() -> None:
    w = world([{"entry_order": {"type": "limit_offset", "offset_pct": "1", "limit_order_timeout_s": 60}}])
    w.signal()
    await w.executor().execute_pending()
    [request] = w.exchange.creates
    w.exchange.fill("tw0000000001", Decimal("0.4"), request.price or Decimal(0))
    reconciler = Reconciler(w.store, w.exchanges, w.clock)

    w.clock.advance(30)
    await reconciler.check_due()
    resting = w.column("orders", "state", "filled")
    w.clock.advance(31)
    await reconciler.check_due()

    assert request.type.value == "limit" and request.price == Decimal(99)
    assert resting == [("partially_filled", Decimal("0.4"))]
    assert w.exchange.orders["tw0000000001"].status == "canceled"
    assert w.column("orders", "state", "filled") == [("canceled", Decimal("0.4"))]
    assert w.column("positions", "amount") == [Decimal("0.4")]


async def test_pushed_updates_of_our_orders_are_recorded_once_and_others_ignored() -> None:
    w = world()
    await _unanswered(w)
    view = w.exchange.orders["tw0000000001"]
    stranger = replace(view, client_order_id="someone-else")
    reconciler = Reconciler(w.store, w.exchanges, w.clock)

    applied = await reconciler.apply_pushed(w.seeded.account_ids[0], w.exchange, [view, stranger])
    again = await reconciler.apply_pushed(w.seeded.account_ids[0], w.exchange, [view])

    assert (applied, again) == (1, 0)
    assert w.column("orders", "state") == ["filled"]
    assert len(w.rows("fills")) == 1


async def test_an_account_that_cannot_be_reached_or_fails_does_not_hold_up_the_others() -> None:
    w = world([{}, {}, {}])
    await _unanswered(w)
    first, second, third = w.seeded.account_ids
    w.exchanges.unavailable[first] = "circuit open"
    broken = w.exchanges.by_account[second] = MemoryExchange()

    async def explode(symbol: str, client_order_id: str) -> None:
        raise RuntimeError("unexpected payload")

    broken.fetch_order = explode  # type: ignore[method-assign]
    w.clock.advance(1)

    checked = await Reconciler(w.store, w.exchanges, w.clock).check_due()

    assert checked == 3
    assert w.column("orders", "state", "check_attempts") == [
        ("submitted", 2),
        ("submitted", 2),
        ("filled", 2),
    ]
    assert w.column("orders", "reason")[:2] == [
        "status check failed: circuit open",
        "status check failed: RuntimeError: unexpected payload",
    ]
    assert third in w.column("positions", "account_id")


async def test_a_batched_look_up_that_fails_unexpectedly_leaves_that_account_s_orders_unknown() -> None:
    w = world([{}, {}])
    w.exchange.fail_next += [(OrderOutcomeUnknown("read timeout"), True)] * 2
    w.signal(key="k1")
    await w.executor().execute_pending()
    # A second order per account whose answer was lost too (the executor itself would hold k2's
    # intents back while the first orders' outcomes are unknown): sent, as a previous process left it.
    work = w.store.pending_work(w.signal(key="k2"))
    second = [
        NewOrder(i, f"tw{i.intent_id:010d}", OrderSide.BUY, OrderType.MARKET, Decimal(1), None) for i in work
    ]
    for record in w.store.save_decisions(Decisions(new_orders=second), w.clock.now()):
        w.store.claim_for_submission([record.order_id], w.clock.now())
        await w.exchange.create_order(record.request())
    assert w.column("orders", "state") == ["submitted"] * 4
    broken = w.exchanges.by_account[w.seeded.account_ids[0]] = MemoryExchange()
    broken.orders = w.exchange.orders

    async def explode() -> None:
        raise RuntimeError("open orders payload")

    broken.fetch_open_orders = explode  # type: ignore[attr-defined]
    w.clock.advance(1)

    await Reconciler(w.store, w.exchanges, w.clock).check_due()

    by_account = {(r["account_id"], r["state"], r["reason"]) for r in w.rows("orders")}
    assert by_account == {
        (1, "submitted", "status check failed: RuntimeError: open orders payload"),
        (2, "filled", None),
    }
