"""The exchange is the truth: every non-terminal order is checked until it reaches a final state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from tradewire.adapters.store.sql import SqlStore
from tradewire.domain.orders import OrderState
from tradewire.ports import Clock, ExchangeDirectory, ExchangeError, ExchangeUnavailable, OrderOutcomeUnknown
from tradewire.services.records import OrderOutcome, OrderRecord

log = logging.getLogger("tradewire.reconcile")


class Reconciler:
    """Moves orders through the state machine from what each exchange says about them."""

    def __init__(self, store: SqlStore, exchanges: ExchangeDirectory, clock: Clock) -> None:
        self._store = store
        self._exchanges = exchanges
        self._clock = clock

    async def check_due(self, limit: int = 1000) -> int:
        """Check every order whose next check is due; returns how many were checked."""
        due = await asyncio.to_thread(self._store.due_orders, self._clock.now(), limit)
        return await self.check(due)

    async def check(self, orders: Sequence[OrderRecord]) -> int:
        """Ask the exchange about each order (NEW ones are the executor's) and record the answers."""
        sent = [o for o in orders if o.state is not OrderState.NEW and not o.state.is_terminal]
        if not sent:
            return 0
        outcomes = await asyncio.gather(*(self._check(order) for order in sent))
        await asyncio.to_thread(self._store.record_outcomes, outcomes, self._clock.now())
        return len(sent)

    async def _check(self, order: OrderRecord) -> OrderOutcome:
        try:
            exchange = self._exchanges.for_account(order.account_id, order.exchange, order.mode)
            view = await exchange.fetch_order(order.symbol, order.client_order_id)
            if view is None and order.state is OrderState.SUBMITTED:
                # The exchange never saw it: sending it now, under the same client order id, is safe.
                log.info(
                    "order %s (%s) unknown to the exchange: sending it", order.order_id, order.client_order_id
                )
                view = await exchange.create_order(order.request())
        except ExchangeError as exc:
            return OrderOutcome(order, rejected_reason=str(exc))
        except (OrderOutcomeUnknown, ExchangeUnavailable) as exc:
            return OrderOutcome(order, unknown_reason=f"status check failed: {exc}")
        except Exception as exc:
            log.exception("order %s: status check failed", order.order_id)
            return OrderOutcome(order, unknown_reason=f"status check failed: {type(exc).__name__}: {exc}")
        if view is None:
            return OrderOutcome(order, unknown_reason="the exchange does not know this order yet")
        return OrderOutcome(order, exchange_order=view)
