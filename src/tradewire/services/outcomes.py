"""Recording what exchanges report about orders: each order on its own when a batch cannot be
recorded, and the fills read from the trade history when an order's view lists none."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from tradewire.domain.orders import ExchangeOrder
from tradewire.domain.records import OrderOutcome, OrderRecord
from tradewire.ports import Exchange, ExchangeError, ExchangeUnavailable, OrderStore

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


async def with_trade_history(exchange: Exchange, order: OrderRecord, view: ExchangeOrder) -> ExchangeOrder:
    """Fill in an order's executions from the account's trade history when the order view lists none,
    so each fill is recorded with the exchange's own trade id, price and fee (and the fee's asset,
    which decides what a position holds). Nothing is fetched when the order has no fill we have not
    recorded: a resting or canceled order checked again costs one request, not two."""
    fetch = getattr(exchange, "fetch_order_trades", None)
    if fetch is None or view.trades or view.filled <= order.filled or not view.exchange_order_id:
        return view
    try:
        trades = await fetch(order.symbol, view.exchange_order_id)
    except (ExchangeError, ExchangeUnavailable) as exc:
        log.info("trade history of %s unavailable (%s); using the order's totals", order.client_order_id, exc)
        return view
    except Exception:  # the order's own answer stands: an error here must not lose it
        log.exception("trade history of %s failed; using the order's totals", order.client_order_id)
        return view
    return replace(view, trades=tuple(trades))
