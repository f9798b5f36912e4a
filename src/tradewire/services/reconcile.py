"""The exchange is the truth: every non-terminal order is checked until it reaches a final state, an
order seen canceled or expired a few times more, for fills the exchange reports late, and an order we
concluded never reached the exchange a few times more too, in case the exchange shows it late."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tradewire.domain.orders import ExchangeOrder, OrderState, OrderType, RejectionKind, rechecked
from tradewire.domain.partitions import Partitions
from tradewire.domain.records import OrderOutcome, OrderRecord
from tradewire.ports import (
    Clock,
    Exchange,
    ExchangeDirectory,
    ExchangeError,
    ExchangeUnavailable,
    OrderOutcomeUnknown,
    OrderStore,
)
from tradewire.services.holdings import min_sellable
from tradewire.services.outcomes import FillsUnpriced, record_outcomes, with_trade_history

log = logging.getLogger("tradewire.reconcile")


@dataclass(frozen=True)
class ReconcilePolicy:
    """When a missing order is concluded never-placed, and when resting limit orders are withdrawn."""

    lost_after_s: float = 120.0  # an order not found by its client id for this long never reached it...
    lost_after_checks: int = 3  # ...and in at least this many lookups
    limit_order_timeout_s: float = 0.0  # cancel unfilled limit orders after this long; 0: never
    # (a subscription's own timeout, on its orders' records, wins over this default)


@dataclass(slots=True, eq=False)
class Reconciler:
    """Moves orders through the state machine from what each exchange says about them."""

    store: OrderStore
    exchanges: ExchangeDirectory
    clock: Clock
    policy: ReconcilePolicy = ReconcilePolicy()

    async def check_due(self, limit: int = 1000, partitions: Partitions | None = None) -> int:
        """Check every order whose next check is due (of the accounts in `partitions`, when given);
        returns how many were checked."""
        due = await asyncio.to_thread(self.store.due_orders, self.clock.now(), limit, partitions)
        return await self.check(due)

    async def sync_account(self, account_id: int) -> int:
        """Check every unsettled order of one account now ("sync now")."""
        unsettled = await asyncio.to_thread(self.store.unsettled_orders, account_id)
        return await self.check(unsettled)

    async def apply_pushed(self, account_id: int, exchange: Exchange, views: Sequence[ExchangeOrder]) -> int:
        """Record order updates an exchange pushed (a stream), for the orders that are ours: every
        update of an unsettled order, of one we concluded lost (the exchange has it after all), and
        of a final one when it reports fills we have not recorded."""
        latest = {view.client_order_id: view for view in views}
        ours = await asyncio.to_thread(self.store.orders_by_client_ids, account_id, list(latest))
        outcomes = []
        for order in ours:
            view = latest[order.client_order_id]
            news = (
                not order.state.is_terminal
                or order.rejection is RejectionKind.LOST
                or view.filled > order.filled
            )
            if order.state is OrderState.NEW or not news:
                continue
            try:
                # A final order's late fill is recorded as pushed: no poll may come for it again.
                wait = not order.state.is_terminal
                view = await with_trade_history(exchange, order, view, wait, self.clock.now())
            except FillsUnpriced as exc:  # an order in flight is polled again soon: that settles it
                log.info("pushed update of %s not applied yet: %s", order.client_order_id, exc)
                continue
            sellable = await min_sellable(exchange, order.symbol)
            outcomes.append(OrderOutcome(order, exchange_order=view, min_sellable=sellable))
        await record_outcomes(self.store, outcomes, self.clock.now())
        return len(outcomes)

    async def check(self, orders: Sequence[OrderRecord]) -> int:
        """Ask the exchanges about these orders (NEW ones are the executor's, final ones are done except
        canceled, expired and concluded-lost ones, which the store hands out for their late checks)."""
        sent = [o for o in orders if _checkable(o)]
        if not sent:
            return 0
        by_account: dict[int, list[OrderRecord]] = defaultdict(list)
        for order in sent:
            by_account[order.account_id].append(order)
        batches = await asyncio.gather(*(self._check_account(group) for group in by_account.values()))
        outcomes = [outcome for batch in batches for outcome in batch]
        await record_outcomes(self.store, outcomes, self.clock.now())
        return len(sent)

    async def _check_account(self, orders: list[OrderRecord]) -> list[OrderOutcome]:
        """The account's outcomes; an error nobody foresaw makes them unknown, never fails the others."""
        try:
            return await self._check_orders(orders)
        except Exception as exc:
            log.exception("account %s: status checks failed", orders[0].account_id)
            return [
                OrderOutcome(o, unknown_reason=f"status check failed: {type(exc).__name__}: {exc}")
                for o in orders
            ]

    async def _check_orders(self, orders: list[OrderRecord]) -> list[OrderOutcome]:
        first = orders[0]
        try:
            exchange = self.exchanges.for_account(first.account_id, first.exchange, first.mode)
        except ExchangeUnavailable as exc:
            return [OrderOutcome(o, unknown_reason=f"status check failed: {exc}") for o in orders]
        open_now = await self._open_orders(exchange, orders)
        return [await self._check(exchange, order, open_now.get(order.client_order_id)) for order in orders]

    async def _open_orders(self, exchange: Exchange, orders: list[OrderRecord]) -> dict[str, ExchangeOrder]:
        """One call for all of an account's open orders, where the adapter offers it."""
        fetch_open = getattr(exchange, "fetch_open_orders", None)
        if fetch_open is None or len(orders) < 2:
            return {}
        try:
            return {o.client_order_id: o for o in await fetch_open()}
        except (ExchangeError, ExchangeUnavailable) as exc:
            log.info("batched open-orders check failed (%s); checking one by one", exc)
            return {}

    async def _check(
        self, exchange: Exchange, order: OrderRecord, known: ExchangeOrder | None
    ) -> OrderOutcome:
        try:
            view = known or await exchange.fetch_order(order.symbol, order.client_order_id)
            if view is None:
                return await self._missing(exchange, order)
            if self._expired_limit(order, view):
                log.info("limit order %s unfilled after its timeout: cancelling", order.client_order_id)
                view = await exchange.cancel_order(order.symbol, order.client_order_id)
            view = await with_trade_history(exchange, order, view, now=self.clock.now())
        except ExchangeError as exc:
            return OrderOutcome(order, unknown_reason=f"status check refused: {exc}")
        except (OrderOutcomeUnknown, ExchangeUnavailable) as exc:
            return OrderOutcome(order, unknown_reason=f"status check failed: {exc}")
        except Exception as exc:
            log.exception("order %s (%s): status check failed", order.order_id, order.client_order_id)
            return OrderOutcome(order, unknown_reason=f"status check failed: {type(exc).__name__}: {exc}")
        return OrderOutcome(
            order, exchange_order=view, min_sellable=await min_sellable(exchange, order.symbol)
        )

    async def _missing(self, exchange: Exchange, order: OrderRecord) -> OrderOutcome:
        """The exchange does not know the client order id (yet)."""
        if order.state is not OrderState.SUBMITTED:
            return OrderOutcome(order, unknown_reason="the exchange no longer reports this order")
        if exchange.dedupes_client_order_ids:
            # The exchange would answer a second create with the first order: sending is safe.
            log.info("order %s unknown to the exchange: sending it", order.client_order_id)
            try:
                return OrderOutcome(order, exchange_order=await exchange.create_order(order.request()))
            except ExchangeError as exc:
                return OrderOutcome(order, rejected_reason=str(exc))
        age = self._age_s(order.created_at)
        if age >= self.policy.lost_after_s and order.check_attempts + 1 >= self.policy.lost_after_checks:
            # Our conclusion, not the exchange's: the order is looked up a few times more
            # (late_fill_checks_s), and applied as the exchange has it if it shows up after all.
            return OrderOutcome(
                order,
                rejected_reason=(
                    f"never reached the exchange: not found by client order id {order.client_order_id} "
                    f"in {order.check_attempts + 1} checks over {age:.0f}s"
                ),
                rejection=RejectionKind.LOST,
            )
        # Not resent: on this exchange a second create could trade twice if the first one exists.
        return OrderOutcome(order, unknown_reason="not (yet) visible on the exchange; checking again")

    def _expired_limit(self, order: OrderRecord, view: ExchangeOrder) -> bool:
        timeout = (
            order.limit_timeout_s if order.limit_timeout_s is not None else self.policy.limit_order_timeout_s
        )
        return (
            timeout > 0
            and order.type is OrderType.LIMIT
            and view.state in (OrderState.OPEN, OrderState.PARTIALLY_FILLED)
            and self._age_s(order.created_at) >= timeout
        )

    def _age_s(self, created_at: datetime | None) -> float:
        return 0.0 if created_at is None else (self.clock.now() - created_at).total_seconds()


def _checkable(order: OrderRecord) -> bool:
    state = order.state
    return state is not OrderState.NEW and (not state.is_terminal or rechecked(state, order.rejection))
