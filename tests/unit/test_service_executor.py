"""Executor against the in-memory store and exchange: a signal's intents become orders sent once, a
refusal ends its intent, an unknown outcome is looked up, HALTED sends nothing, one bad item fails alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.fakes.memory_exchange import MemoryExchange, MemoryVenue
from tests.fakes.memory_store import MemoryStore
from tests.fakes.world import world
from tradewire.domain.orders import OrderSide, OrderType
from tradewire.domain.records import Decisions, NewOrder, OrderRecord
from tradewire.domain.signals import SignalAction
from tradewire.ports import ExchangeError, OrderOutcomeUnknown
from tradewire.services.execution import ATTEMPTS_ALLOWED, ORDERS_UPDATED
from tradewire.services.reconcile import Reconciler


async def test_a_signal_becomes_one_filled_order_per_subscriber_and_a_position_each() -> None:
    w = world([{}, {"sizing_value": "250"}])
    published: list[Mapping[str, Any]] = []

    async def collect(message: Mapping[str, Any]) -> None:
        published.append(message)

    w.bus.subscribe(ORDERS_UPDATED, collect)
    await w.bus.start()
    signal_id = w.signal()

    sent = await w.executor().execute_pending(signal_id)
    again = await w.executor().execute_pending(signal_id)
    await w.bus.drain()
    await w.bus.stop()

    assert (sent, again) == (2, 0)
    assert [(r.client_order_id, r.amount) for r in w.exchange.creates] == [
        ("tw0000000001", Decimal(1)),
        ("tw0000000002", Decimal("2.5")),
    ]
    assert w.column("orders", "state", "filled", "average") == [
        ("filled", Decimal(1), Decimal(100)),
        ("filled", Decimal("2.5"), Decimal(100)),
    ]
    assert w.column("positions", "subscription_id", "status", "amount") == [
        (1, "open", Decimal(1)),
        (2, "open", Decimal("2.5")),
    ]
    assert w.column("execution_intents", "status") == ["done", "done"]
    assert w.column("execution_log", "status") == ["SUCCESS", "SUCCESS"]
    assert published == [{"order_ids": [1, 2]}]


async def test_a_refused_order_ends_its_intent_with_the_exchange_reason_and_no_position() -> None:
    w = world()
    w.exchange.fail_next.append((ExchangeError("insufficient balance"), False))
    w.signal()

    await w.executor().execute_pending()

    assert w.column("orders", "state", "rejection", "reason") == [
        ("rejected", "exchange", "insufficient balance")
    ]
    assert w.column("execution_intents", "status") == ["failed"]
    assert w.rows("positions") == []
    [entry] = w.rows("execution_log")
    assert (entry["status"], "insufficient balance" in entry["reason"]) == ("FAILED", True)


async def test_an_unknown_outcome_is_looked_up_by_client_order_id_never_sent_again() -> None:
    w = world()
    w.exchange.fail_next.append((OrderOutcomeUnknown("read timeout"), True))  # placed, answer lost
    w.signal()

    await w.executor().execute_pending()
    before = w.column("orders", "state")
    w.clock.advance(5)
    checked = await Reconciler(w.store, w.exchanges, w.clock).check_due()

    assert (before, checked) == (["submitted"], 1)
    assert len(w.exchange.creates) == 1
    assert w.column("orders", "state", "filled") == [("filled", Decimal(1))]
    assert w.column("positions", "amount") == [Decimal(1)]


async def test_an_unknown_outcome_stays_submitted_with_a_next_check() -> None:
    w = world()
    w.exchange.fail_next.append((OrderOutcomeUnknown("read timeout"), True))
    w.signal()

    await w.executor().execute_pending()

    [order] = w.rows("orders")
    assert order["state"] == "submitted" and order["next_check_at"] > w.clock.now()
    assert w.column("execution_intents", "status") == ["ordered"]
    assert [o.order_id for o in w.store.due_orders(w.clock.advance(5))] == [order["id"]]


async def test_a_halted_subscription_sends_nothing_and_says_why() -> None:
    w = world([{"trading_state": "HALTED"}, {}])
    w.signal()

    await w.executor().execute_pending()

    assert [r.client_order_id for r in w.exchange.creates] == ["tw0000000002"]
    [rejected, done] = w.rows("execution_intents")
    assert rejected["status"] == "rejected" and "HALTED" in rejected["reason"]
    assert done["status"] == "done"


async def test_an_order_stored_before_its_subscription_halted_is_not_sent_on_resume() -> None:
    w = world()
    signal_id = w.signal()
    [item] = w.store.pending_work(signal_id)
    new = NewOrder(item, "tw0000000001", OrderSide.BUY, OrderType.MARKET, Decimal(1), None)
    records = w.store.save_decisions(Decisions(new_orders=[new]), w.clock.now())
    w.set_subscription(1, trading_state="HALTED")

    sent = await w.executor().resume(records)

    assert sent == 0 and w.exchange.creates == []
    assert w.column("orders", "state", "rejection") == [("rejected", "not_sent")]
    assert w.column("execution_intents", "status") == ["failed"]


async def test_an_exit_signal_sells_the_position_and_closes_it() -> None:
    w = world()
    w.signal()
    await w.executor().execute_pending()
    w.exchange.prices["BTC/USDT"] = Decimal(110)

    w.signal(SignalAction.SELL, key="k2", details={"ticker": "BTCUSDT", "market_position": "flat"})
    await w.executor().execute_pending()

    assert [(r.side.value, r.amount) for r in w.exchange.creates] == [
        ("buy", Decimal(1)),
        ("sell", Decimal(1)),
    ]
    [position] = w.rows("positions")
    assert (position["status"], position["amount"], position["realized_pnl"]) == ("closed", 0, Decimal(10))


FLAT = {"ticker": "BTCUSDT", "market_position": "flat"}


async def test_signals_of_one_pair_decided_together_are_sized_one_after_the_other() -> None:
    w = world()
    w.signal()
    await w.executor().execute_pending()
    w.exchange.prices["BTC/USDT"] = Decimal(125)
    # Exit, buy again, exit: stored before the executor looks, so they share one page of work.
    w.signal(SignalAction.SELL, key="k2", details=FLAT)
    w.signal(key="k3")
    w.signal(SignalAction.SELL, key="k4", details=FLAT)

    await w.executor().execute_pending()

    # The second exit sells what the second buy bought, not the first position's amount.
    assert [(r.side.value, r.amount) for r in w.exchange.creates] == [
        ("buy", Decimal(1)),
        ("sell", Decimal(1)),
        ("buy", Decimal("0.8")),
        ("sell", Decimal("0.8")),
    ]
    assert [p["status"] for p in w.rows("positions")] == ["closed", "closed"]
    assert w.column("execution_intents", "status") == ["done"] * 4


async def test_an_exit_waits_while_the_buy_before_it_has_an_unknown_outcome() -> None:
    w = world()
    w.exchange.fail_next.append((OrderOutcomeUnknown("read timeout"), True))  # it was placed and filled
    w.signal()
    await w.executor().execute_pending()
    w.signal(SignalAction.SELL, key="k2", details=FLAT)

    await w.executor().execute_pending()

    assert [r.side.value for r in w.exchange.creates] == ["buy"]  # the exit waits, still pending
    assert w.column("execution_intents", "status") == ["ordered", "created"]

    w.clock.advance(1)
    await Reconciler(w.store, w.exchanges, w.clock).check_due()  # the buy is found filled
    await w.executor().execute_pending()

    assert [(r.side.value, r.amount) for r in w.exchange.creates] == [
        ("buy", Decimal(1)),
        ("sell", Decimal(1)),
    ]
    [position] = w.rows("positions")
    assert (position["status"], position["amount"]) == ("closed", 0)


async def test_one_item_whose_decision_fails_fails_alone_and_is_tried_again_until_its_last_attempt() -> None:
    w = world([{}, {}])
    broken = w.exchanges.by_account[w.seeded.account_ids[1]] = MemoryExchange()
    broken.balance_error = RuntimeError("balance endpoint exploded")
    w.signal()
    executor = w.executor()

    await executor.execute_pending()
    first = w.rows("execution_intents")[1].copy()
    for _ in range(ATTEMPTS_ALLOWED - 1):
        await executor.execute_pending()

    assert w.column("orders", "client_order_id") == ["tw0000000001"]
    assert (first["status"], first["attempts"]) == ("created", 1)
    assert first["reason"] == "attempt 1: RuntimeError: balance endpoint exploded"
    [done, failed] = w.rows("execution_intents")
    assert done["status"] == "done"
    assert (failed["status"], failed["attempts"]) == ("failed", ATTEMPTS_ALLOWED)
    assert failed["reason"].startswith(
        f"failed {ATTEMPTS_ALLOWED} times, not tried again; last: RuntimeError"
    )
    assert w.column("execution_log", "status") == ["SUCCESS", "FAILED"]


class _RefusesOneIntent(MemoryStore):
    """A store that cannot save intent 2's decision (a value its column cannot hold, say)."""

    def save_decisions(self, decisions: Decisions, now: datetime) -> list[OrderRecord]:
        if any(o.item.intent_id == 2 for o in decisions.new_orders):
            raise ValueError("numeric field overflow")
        return super().save_decisions(decisions, now)


async def test_a_decision_the_store_refuses_fails_its_own_intent_and_the_others_are_sent() -> None:
    w = world([{}, {}, {}], store=_RefusesOneIntent())
    w.signal()

    sent = await w.executor().execute_pending()

    assert sent == 2
    assert [r.client_order_id for r in w.exchange.creates] == ["tw0000000001", "tw0000000003"]
    assert w.column("execution_intents", "status", "attempts") == [("done", 0), ("created", 1), ("done", 0)]
    assert (
        "its decision could not be stored: ValueError: numeric field overflow"
        in (w.rows("execution_intents")[1]["reason"])
    )


async def test_an_intent_whose_stored_settings_cannot_be_read_fails_at_once_and_alone() -> None:
    w = world([{"entry_order": {"kind": "limit"}}, {}])
    w.signal()

    await w.executor().execute_pending()

    assert w.column("execution_intents", "status", "reason") == [
        ("failed", "stored intent cannot be read: ValueError: unknown entry order setting(s) kind"),
        ("done", None),
    ]
    assert w.column("execution_log", "status") == ["FAILED", "SUCCESS"]


async def test_a_batching_venue_gets_a_page_in_one_call_and_each_order_its_own_outcome() -> None:
    w = world([{}, {}, {}, {}])
    venue = MemoryVenue()
    exchanges = [venue.account(a) for a in w.seeded.account_ids]
    w.exchanges.by_account.update(zip(w.seeded.account_ids, exchanges, strict=True))
    exchanges[1].fail_next.append((ExchangeError("insufficient balance"), False))
    exchanges[2].fail_next.append((OrderOutcomeUnknown("read timeout"), True))  # placed, answer lost
    w.signal()

    sent = await w.executor().execute_pending()

    assert sent == 4
    assert venue.calls == [["tw0000000001", "tw0000000002", "tw0000000003", "tw0000000004"]]
    assert w.exchange.creates == []  # nothing went one by one
    assert w.column("orders", "state", "filled") == [
        ("filled", Decimal(1)),
        ("rejected", Decimal(0)),
        ("submitted", Decimal(0)),  # unknown: looked up later, never a rejection
        ("filled", Decimal(1)),
    ]
    assert w.column("execution_intents", "status") == ["done", "failed", "ordered", "done"]
    assert w.column("positions", "subscription_id", "amount") == [(1, Decimal(1)), (4, Decimal(1))]
    w.clock.advance(5)
    assert await Reconciler(w.store, w.exchanges, w.clock).check_due() == 1
    assert w.column("orders", "state") == ["filled", "rejected", "filled", "filled"]
    assert [len(e.creates) for e in exchanges] == [1, 1, 1, 1]  # looked up, never sent again


@pytest.mark.parametrize(
    "failure",
    [ConnectionResetError("connection lost"), ExchangeError("batch refused")],
    ids=["lost", "refused"],
)
async def test_a_batch_call_that_fails_as_a_whole_leaves_each_order_unknown_not_rejected(
    failure: Exception,
) -> None:
    """Even a refusal of the call does not say which order was refused: each is looked up."""
    w = world([{}, {}])
    venue = MemoryVenue(fail_call=failure)
    w.exchanges.by_account.update((a, venue.account(a)) for a in w.seeded.account_ids)
    w.signal()

    await w.executor().execute_pending()

    why = f"outcome unknown: the batch failed: {type(failure).__name__}: {failure}"
    assert w.column("orders", "state", "reason") == [("submitted", why), ("submitted", why)]
    assert w.column("execution_intents", "status") == ["ordered", "ordered"]
    assert w.rows("positions") == []


async def test_orders_of_a_batching_venue_and_of_other_exchanges_are_sent_side_by_side() -> None:
    w = world([{}, {}, {}])
    venue = MemoryVenue()
    batched = [w.seeded.account_ids[0], w.seeded.account_ids[2]]
    w.exchanges.by_account.update((a, venue.account(a)) for a in batched)
    w.exchange.fail_next.append((ExchangeError("insufficient balance"), False))  # the other account's
    w.signal()

    await w.executor().execute_pending()

    assert venue.calls == [["tw0000000001", "tw0000000003"]]
    assert [r.client_order_id for r in w.exchange.creates] == ["tw0000000002"]  # one request
    assert w.column("orders", "state", "reason") == [
        ("filled", None),
        ("rejected", "insufficient balance"),
        ("filled", None),
    ]


async def test_a_market_read_failing_unexpectedly_after_sending_still_records_the_placed_orders() -> None:
    """An error nobody listed while qualifying answered orders (their market's smallest amount) must not
    lose the answers: the orders were placed and filled, and are recorded so at once."""
    w = world([{}, {}])
    markets = w.exchange.markets

    async def failing_once_sent() -> Any:
        if w.exchange.creates:
            raise KeyError("markets")
        return await markets()

    w.exchange.markets = failing_once_sent  # type: ignore[method-assign]
    w.signal()

    sent = await w.executor().execute_pending()

    assert sent == 2 and len(w.exchange.creates) == 2
    assert w.column("orders", "state", "filled") == [("filled", Decimal(1)), ("filled", Decimal(1))]
    assert w.column("positions", "amount") == [Decimal(1), Decimal(1)]
    assert w.column("execution_intents", "status") == ["done", "done"]


async def test_two_entries_decided_together_keep_to_the_subscription_s_position_limit() -> None:
    """One open position allowed: two alerts for two pairs, decided in the same pass, open one."""
    w = world([{"risk_limits": {"cooldown_s": 0, "max_positions_per_strategy": 1}}])
    w.exchange.prices["ETH/USDT"] = Decimal(100)
    w.exchange.market_list["ETH/USDT"] = replace(w.exchange.market_list["BTC/USDT"], symbol="ETH/USDT")
    w.signal()
    w.signal(key="k2", ticker="ETHUSDT", symbol="ETH/USDT", details={"ticker": "ETHUSDT"})

    await w.executor().execute_pending()

    assert w.column("positions", "symbol") == ["BTC/USDT"]
    [_, refused] = w.rows("execution_intents")
    assert refused["status"] == "rejected" and "1 open, limit 1" in refused["reason"], refused


async def test_an_entry_that_may_still_fill_counts_against_the_account_s_position_limit() -> None:
    """An entry whose outcome is unknown may have opened a position: while it is looked up, the next
    entry on another pair is refused by the account's limit of one open position."""
    w = world([{"risk_limits": {"cooldown_s": 0, "max_positions_total": 1}}])
    w.exchange.prices["ETH/USDT"] = Decimal(100)
    w.exchange.market_list["ETH/USDT"] = replace(w.exchange.market_list["BTC/USDT"], symbol="ETH/USDT")
    w.exchange.fail_next.append((OrderOutcomeUnknown("read timeout"), False))
    w.signal()
    await w.executor().execute_pending()
    assert w.column("orders", "state") == ["submitted"] and w.rows("positions") == []

    w.signal(key="k2", ticker="ETHUSDT", symbol="ETH/USDT", details={"ticker": "ETHUSDT"})
    await w.executor().execute_pending()

    assert [r.symbol for r in w.exchange.creates] == ["BTC/USDT"]
    [_, refused] = w.rows("execution_intents")
    assert refused["status"] == "rejected" and "1 open, limit 1" in refused["reason"], refused
