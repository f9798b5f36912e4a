"""Recording what exchanges report about orders: each order on its own when a batch cannot be
recorded, and the fills read from the trade history when an order's view lists none."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from tradewire.domain.money import ZERO, fmt
from tradewire.domain.orders import ExchangeOrder, Trade
from tradewire.domain.records import OrderOutcome, OrderRecord
from tradewire.ports import Exchange, ExchangeError, ExchangeUnavailable, OrderOutcomeUnknown, OrderStore

log = logging.getLogger("tradewire.execution")


async def record_outcomes(store: OrderStore, outcomes: Sequence[OrderOutcome], now: datetime) -> None:
    """Record what the exchanges said in one transaction; if that fails, each order on its own, and
    an order whose report cannot be recorded is checked again later (the exchange keeps the truth),
    so one such order never holds up the others' fills, positions and checks."""
    if not outcomes:
        return
    try:
        await asyncio.to_thread(store.record_outcomes, outcomes, now)
        return
    except Exception as exc:
        if len(outcomes) == 1:
            await _postpone(store, outcomes[0].order, exc, now)
            return
        log.exception("recording %d order reports failed; recording them one by one", len(outcomes))
    for outcome in outcomes:
        try:
            await asyncio.to_thread(store.record_outcomes, [outcome], now)
        except Exception as exc:
            await _postpone(store, outcome.order, exc, now)


async def _postpone(store: OrderStore, order: OrderRecord, exc: Exception, now: datetime) -> None:
    log.error(
        "order %s (%s): its report could not be recorded; checking it again later",
        order.order_id,
        order.client_order_id,
        exc_info=exc,
    )
    try:
        reason = f"report not recorded ({type(exc).__name__}: {exc}); checking again"
        await asyncio.to_thread(store.postpone_checks, [order], reason, now)
    except Exception:
        log.exception("order %s: postponing its next check failed too", order.order_id)


# How long a fill whose cost the exchange has not itemised waits for the trade history (the fee above
# all: Binance and MEXC order lookups carry none, and take a buy's fee in the asset bought) before it
# is recorded from the order's totals as they are: the order's first few checks, and the seconds
# after the exchange last traded on it (by its clock; a clock far from ours does not count).
UNPRICED_FILL_CHECKS = 5
UNPRICED_FILL_WAIT_S = 30.0


class FillsUnpriced(OrderOutcomeUnknown):
    """The order reports fills whose fee (or price) only its trade history tells, and that history
    could not be read or does not list them yet: the order is looked up again, not settled without."""


async def with_trade_history(
    exchange: Exchange,
    order: OrderRecord,
    view: ExchangeOrder,
    wait: bool = True,
    now: datetime | None = None,
) -> ExchangeOrder:
    """Fill in an order's executions from the account's trade history when the order view lists none,
    so each fill is recorded with the exchange's own trade id, price and fee (and the fee's asset,
    which decides what a position holds). Nothing is fetched when the order has no fill we have not
    recorded: a resting or canceled order checked again costs one request, not two.

    Raises FillsUnpriced when the view does not say what the new fills cost (no fee, or no average
    price) and the history does not list them, for a while (`wait`; see UNPRICED_FILL_WAIT_S): recorded
    without its fee, a buy whose fee was taken in the asset bought would leave the position holding
    more than the account does, and every exit of it would be refused."""
    fetch = getattr(exchange, "fetch_order_trades", None)
    if fetch is None or view.trades or view.filled <= order.filled or not view.exchange_order_id:
        return view
    trades: tuple[Trade, ...] = ()
    try:
        trades = tuple(await fetch(order.symbol, view.exchange_order_id))
    except (ExchangeError, ExchangeUnavailable) as exc:
        log.info("trade history of %s unavailable (%s); using the order's totals", order.client_order_id, exc)
    except Exception:  # the order's own answer stands: an error here must not lose it
        log.exception("trade history of %s failed; using the order's totals", order.client_order_id)
    listed = sum((t.amount for t in trades), ZERO)
    unpriced = view.fee is None or view.average is None
    if wait and unpriced and listed < view.filled and _may_wait(order, view, now):
        raise FillsUnpriced(
            f"{fmt(view.filled)} {view.symbol} filled, but the trade history lists {fmt(listed)}: "
            "what the fills cost is not known yet; checking again"
        )
    return replace(view, trades=trades) if trades else view


def _may_wait(order: OrderRecord, view: ExchangeOrder, now: datetime | None) -> bool:
    """Whether an unpriced fill may still wait for the trade history (see UNPRICED_FILL_WAIT_S)."""
    if order.check_attempts < UNPRICED_FILL_CHECKS:
        return True
    if now is None or view.updated_ms is None:
        return False
    return abs(now.timestamp() - view.updated_ms / 1000) < UNPRICED_FILL_WAIT_S
