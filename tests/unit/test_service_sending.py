"""Sending orders (services/sending.py) against in-memory exchanges: what each answer or error means
for an order. A refusal only when the exchange definitively refused, "not sent" only when the request
never left, and anything else (an error class nobody listed included) an outcome to look up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.memory_exchange import MemoryExchange
from tests.fakes.world import World, world
from tradewire.domain.orders import OrderSide, OrderType, RejectionKind
from tradewire.domain.records import Decisions, NewOrder, OrderRecord
from tradewire.ports import ExchangeError, ExchangeUnavailable, OrderOutcomeUnknown
from tradewire.services.sending import not_placed, send_all


def _stored(w: World) -> list[OrderRecord]:
    """One NEW market buy of 1 BTC per subscription, as the executor stores them before sending."""
    w.signal()
    new = [
        NewOrder(item, f"tw{item.intent_id:010d}", OrderSide.BUY, OrderType.MARKET, Decimal(1), None)
        for item in w.store.pending_work()
    ]
    return w.store.save_decisions(Decisions(new_orders=new), w.clock.now())


@pytest.mark.parametrize(
    ("error", "rejected", "rejection", "unknown"),
    [
        (ExchangeError("insufficient balance"), "insufficient balance", RejectionKind.EXCHANGE, None),
        (ExchangeUnavailable("circuit open"), "circuit open", RejectionKind.NOT_SENT, None),
        (OrderOutcomeUnknown("read timeout"), None, RejectionKind.EXCHANGE, "outcome unknown: read timeout"),
        (KeyError("nobody listed this"), None, RejectionKind.EXCHANGE, "outcome unknown: KeyError: "),
        (TimeoutError(), None, RejectionKind.EXCHANGE, "outcome unknown: TimeoutError: "),
    ],
)
def test_an_error_is_a_refusal_only_when_the_exchange_refused(
    error: Exception, rejected: str | None, rejection: RejectionKind, unknown: str | None
) -> None:
    [order] = _stored(world())

    outcome = not_placed(order, error)

    assert (outcome.rejected_reason, outcome.rejection, outcome.exchange_order) == (rejected, rejection, None)
    if unknown is None:
        assert outcome.unknown_reason is None
    else:
        assert outcome.unknown_reason is not None and outcome.unknown_reason.startswith(unknown)


async def test_each_order_gets_its_own_outcome_in_order_whatever_its_neighbours_get() -> None:
    w = world([{}, {}, {}, {}])
    refusing, losing = MemoryExchange(), MemoryExchange()
    refusing.fail_next.append((ExchangeError("insufficient balance"), False))
    losing.fail_next.append((OrderOutcomeUnknown("read timeout"), True))  # placed, answer lost
    accounts = w.seeded.account_ids
    w.exchanges.by_account.update({accounts[1]: refusing, accounts[2]: losing})
    w.exchanges.unavailable[accounts[3]] = "the exchange's circuit is open"
    orders = _stored(w)

    outcomes = await send_all(w.exchanges, orders)

    assert [o.order.order_id for o in outcomes] == [o.order_id for o in orders]
    filled, refused, lost, unreachable = outcomes
    assert filled.exchange_order is not None and filled.exchange_order.filled == Decimal(1)
    assert filled.min_sellable is not None  # the market's smallest amount, for dust
    assert (refused.rejected_reason, refused.rejection) == ("insufficient balance", RejectionKind.EXCHANGE)
    assert lost.unknown_reason == "outcome unknown: read timeout" and lost.rejected_reason is None
    assert unreachable.rejection is RejectionKind.NOT_SENT
    assert [len(e.creates) for e in (w.exchange, refusing, losing)] == [1, 1, 1]  # each sent once


async def test_an_answer_stands_when_what_qualifies_it_fails() -> None:
    """The market list failing after the order was answered: the answer is kept, its smallest amount
    unknown (an error here used to lose every answer of the pass)."""
    w = world()
    [order] = _stored(w)

    async def broken() -> None:
        raise RuntimeError("markets cache corrupted")

    w.exchange.markets = broken  # type: ignore[method-assign, assignment]

    [outcome] = await send_all(w.exchanges, [order])

    assert outcome.exchange_order is not None and outcome.exchange_order.status == "closed"
    assert (outcome.min_sellable, outcome.unknown_reason, outcome.rejected_reason) == (None, None, None)
