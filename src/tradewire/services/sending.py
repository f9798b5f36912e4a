"""Sending orders: each order's request to its exchange (the paper venue's in one call per venue), and
what the answer means. A refusal only when the exchange definitively refused; nothing sent only when
the request never left; anything else, an error nobody listed included, is an outcome unknown that
the reconciler looks up by client order id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from tradewire.domain.held_exit import FUNDS_REFUSAL, refused_for_funds
from tradewire.domain.orders import ExchangeOrder, RejectionKind
from tradewire.domain.records import OrderOutcome, OrderRecord
from tradewire.ports import (
    ErrorKind,
    Exchange,
    ExchangeDirectory,
    ExchangeError,
    ExchangeUnavailable,
    OrderBatches,
    OrderOutcomeUnknown,
)
from tradewire.services.holdings import min_sellable
from tradewire.services.outcomes import FillsUnpriced, with_trade_history

log = logging.getLogger("tradewire.execution")


async def send_all(exchanges: ExchangeDirectory, orders: Sequence[OrderRecord]) -> list[OrderOutcome]:
    """Each order's outcome, in order. The orders of a venue that places many at once (the paper
    venue's OrderBatches) go in one call per venue; the others one request each, concurrently."""
    outcomes: list[OrderOutcome | None] = [None] * len(orders)
    singles: list[tuple[int, Exchange]] = []
    batches: dict[int, tuple[OrderBatches, list[tuple[int, Exchange]]]] = {}
    for index, order in enumerate(orders):
        try:
            exchange = exchanges.for_account(order.account_id, order.exchange, order.mode)
        except Exception as exc:
            outcomes[index] = not_placed(order, exc)
            continue
        venue: OrderBatches | None = getattr(exchange, "order_batches", None)
        if venue is None:
            singles.append((index, exchange))
        else:
            batches.setdefault(id(venue), (venue, []))[1].append((index, exchange))

    async def single(index: int, exchange: Exchange) -> None:
        outcomes[index] = await send_one(orders[index], exchange)

    async def batch(venue: OrderBatches, items: list[tuple[int, Exchange]]) -> None:
        try:
            answers = await venue.create_orders(
                [(orders[i].account_id, orders[i].request()) for i, _ in items]
            )
        except ExchangeUnavailable as exc:  # nothing was sent
            answers = [exc] * len(items)
        except Exception as exc:  # the call as a whole failed, a refusal included: it does not
            # say what became of each order, so each is looked up, never taken as refused
            unknown = OrderOutcomeUnknown(f"the batch failed: {type(exc).__name__}: {exc}")
            answers = [unknown] * len(items)
        for (index, exchange), answer in zip(items, answers, strict=True):
            order = orders[index]
            if isinstance(answer, Exception):
                outcomes[index] = not_placed(order, answer)
            else:
                outcomes[index] = await placed(order, exchange, answer)

    await asyncio.gather(
        *(single(i, e) for i, e in singles), *(batch(v, items) for v, items in batches.values())
    )
    return [o for o in outcomes if o is not None]


async def send_one(order: OrderRecord, exchange: Exchange) -> OrderOutcome:
    """One order sent, and what became of it."""
    try:
        view = await exchange.create_order(order.request())
    except Exception as exc:
        return not_placed(order, exc)
    return await placed(order, exchange, view)


async def placed(order: OrderRecord, exchange: Exchange, view: ExchangeOrder) -> OrderOutcome:
    """The outcome of an order the exchange answered, with its fills from the trade history (or, while
    what they cost is unknown, an outcome the reconciler looks up again)."""
    try:
        view = await with_trade_history(exchange, order, view)
    except FillsUnpriced as exc:
        log.info("order %s (%s) placed: %s", order.order_id, order.client_order_id, exc)
        return OrderOutcome(order, unknown_reason=f"placed; {exc}")
    return OrderOutcome(order, exchange_order=view, min_sellable=await min_sellable(exchange, order.symbol))


def not_placed(order: OrderRecord, exc: Exception) -> OrderOutcome:
    """The outcome of an order whose sending raised `exc`: refused, not sent, or (anything ambiguous)
    unknown, never a rejection."""
    if isinstance(exc, ExchangeError):
        log.info("order %s (%s) rejected: %s", order.order_id, order.client_order_id, exc)
        reason = str(exc)
        if exc.kind is ErrorKind.INSUFFICIENT_FUNDS and not refused_for_funds(reason):
            reason = f"{FUNDS_REFUSAL}: {reason}"  # so a refused exit is recognised (domain/held_exit.py)
        return OrderOutcome(order, rejected_reason=reason)
    if isinstance(exc, ExchangeUnavailable):  # nothing was sent
        log.info("order %s (%s) not sent: %s", order.order_id, order.client_order_id, exc)
        return OrderOutcome(order, rejected_reason=str(exc), rejection=RejectionKind.NOT_SENT)
    if isinstance(exc, OrderOutcomeUnknown):
        return OrderOutcome(order, unknown_reason=f"outcome unknown: {exc}")
    log.error("order %s (%s): unexpected error", order.order_id, order.client_order_id, exc_info=exc)
    return OrderOutcome(order, unknown_reason=f"outcome unknown: {type(exc).__name__}: {exc}")
