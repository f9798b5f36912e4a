"""Orders in SQL, from claimed for sending to settled: which are due a look at the exchange, and the
exchange's reports saved as settlement decided them (ports/orders.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, or_, select, update

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.events import Outbox, transaction_with_events
from tradewire.adapters.store.order_rows import read_orders
from tradewire.adapters.store.platform import restrictions
from tradewire.adapters.store.settlement import settle
from tradewire.adapters.store.tables import orders, subscriptions
from tradewire.adapters.store.values import bounded_reason, in_partitions, trading_state
from tradewire.domain.events import orders_submitted
from tradewire.domain.orders import (
    LATE_FILL_CHECKS_S,
    TERMINAL_STATES,
    OrderSide,
    OrderState,
    RejectionKind,
    first_check_after_claim,
    postponed_check,
)
from tradewire.domain.partitions import Partitions
from tradewire.domain.platform import Restrictions
from tradewire.domain.records import OrderOutcome, OrderQuery, OrderRecord
from tradewire.domain.risk import TradingState, allows
from tradewire.ports.events import EventNotifier

log = logging.getLogger("tradewire.store")

_UNSETTLED = [OrderState.SUBMITTED.value, OrderState.OPEN.value, OrderState.PARTIALLY_FILLED.value]


class SqlOrders(SqlTables):
    """Orders (unique on intent and on client order id) and what the exchanges said of them."""

    def __init__(
        self,
        engine: Engine,
        late_fill_checks_s: Sequence[float] = LATE_FILL_CHECKS_S,
        notifier: EventNotifier | None = None,
    ) -> None:
        super().__init__(engine, notifier)
        # When an order seen canceled or expired is checked again for fills reported late.
        self._late_fill_checks = tuple(late_fill_checks_s)

    def claim_for_submission(self, order_ids: Sequence[int], now: datetime) -> set[int]:
        if not order_ids:
            return set()
        claimed: dict[int, int] = {}
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            limits = restrictions(conn, lock=True)
            allowed = _allowed(limits)
            for chunk in bulk.chunks(sorted(set(order_ids)), 900):
                # One statement claims every order its states allow now (all of them, but for a paused
                # subscription, a halted platform or a disabled owner); only the rest are read,
                # refused with the reason, or claimed.
                mine = _claim(conn, chunk, now, allowed) if allowed is not None else {}
                claimed |= mine
                rest = [order_id for order_id in chunk if order_id not in mine]
                if rest:
                    refused = self._refused_by_trading_state(conn, rest, now, outbox, limits)
                    claimed |= _claim(conn, [i for i in rest if i not in refused], now)
            outbox.add(orders_submitted(sorted(claimed.items())))
        return set(claimed)

    def _refused_by_trading_state(
        self, conn: Connection, order_ids: Sequence[int], now: datetime, outbox: Outbox, limits: Restrictions
    ) -> set[int]:
        """Reject the NEW orders among `order_ids` that their trading state forbids now (locked, so
        no other caller sends them meanwhile); returns their ids."""
        rows = conn.execute(
            select(orders.c.id, orders.c.side, orders.c.user_id, subscriptions.c.trading_state)
            .select_from(orders.outerjoin(subscriptions, subscriptions.c.id == orders.c.subscription_id))
            .where(bulk.one_of(conn, orders.c.id, order_ids), orders.c.state == OrderState.NEW.value)
            .order_by(orders.c.id)
            .with_for_update(of=orders)
        ).all()
        why: dict[int, str] = {}
        for order_id, side, user_id, stored_state in rows:
            # An order without a subscription obeys the platform and its owner only.
            own = TradingState.ACTIVE if stored_state is None else trading_state(stored_state)
            state = limits.state(own, user_id)
            if not allows(state, entry=side == OrderSide.BUY.value):
                rule = "no orders at all" if state is TradingState.HALTED else "exits only, no entries"
                why[order_id] = f"not sent: {limits.why(own, user_id)} ({rule})"
        if not why:
            return set()
        records = read_orders(conn, orders.c.id.in_(list(why)))
        for record in records:
            log.info("order %s (%s): %s", record.order_id, record.client_order_id, why[record.order_id])
        refusals = [
            OrderOutcome(r, rejected_reason=why[r.order_id], rejection=RejectionKind.NOT_SENT)
            for r in records
        ]
        outbox.add(settle(conn, refusals, now, self._late_fill_checks))
        return set(why)

    def postpone_checks(self, records: Sequence[OrderRecord], reason: str, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            for order in records:
                check = postponed_check(order.check_attempts, now)
                conn.execute(
                    update(orders)
                    .where(orders.c.id == order.order_id, orders.c.next_check_at.is_not(None))
                    .values(
                        check_attempts=check.check_attempts,
                        next_check_at=check.next_check_at,
                        reason=bounded_reason(reason),
                        updated_at=now,
                    )
                )

    def orders_in_states(self, query: OrderQuery) -> list[OrderRecord]:
        condition: ColumnElement[bool] = orders.c.state.in_([s.value for s in query.states])
        if query.created_before is not None:
            condition = and_(condition, orders.c.created_at < query.created_before)
        if query.partitions is not None:
            condition = and_(condition, in_partitions(orders.c.account_id, query.partitions))
        with self.engine.connect() as conn:
            return read_orders(conn, condition)

    def unsettled_orders(self, account_id: int | None = None) -> list[OrderRecord]:
        watched = and_(
            orders.c.state.in_([s.value for s in TERMINAL_STATES]), orders.c.next_check_at.is_not(None)
        )
        condition: ColumnElement[bool] = or_(orders.c.state.in_(_UNSETTLED), watched)
        if account_id is not None:
            condition = and_(condition, orders.c.account_id == account_id)
        with self.engine.connect() as conn:
            return read_orders(conn, condition)

    def orders_by_client_ids(self, account_id: int, client_order_ids: Sequence[str]) -> list[OrderRecord]:
        if not client_order_ids:
            return []
        with self.engine.connect() as conn:
            return read_orders(
                conn,
                and_(orders.c.account_id == account_id, orders.c.client_order_id.in_(list(client_order_ids))),
            )

    def due_orders(
        self, now: datetime, limit: int = 1000, partitions: Partitions | None = None
    ) -> list[OrderRecord]:
        condition: ColumnElement[bool] = orders.c.next_check_at.is_not(None) & (orders.c.next_check_at <= now)
        if partitions is not None:
            condition = and_(condition, in_partitions(orders.c.account_id, partitions))
        with self.engine.connect() as conn:
            return read_orders(conn, condition, limit=limit)

    def record_outcomes(self, outcomes: Sequence[OrderOutcome], now: datetime) -> None:
        if not outcomes:
            return
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            outbox.add(settle(conn, outcomes, now, self._late_fill_checks))


def _claim(
    conn: Connection, order_ids: Sequence[int], now: datetime, *conditions: ColumnElement[bool]
) -> dict[int, int]:
    """Claim these NEW orders (meeting `conditions`); the claimed ones' owners by order id."""
    if not order_ids:
        return {}
    result = conn.execute(
        update(orders)
        .where(bulk.one_of(conn, orders.c.id, order_ids), orders.c.state == OrderState.NEW.value, *conditions)
        .values(state=OrderState.SUBMITTED.value, updated_at=now, next_check_at=first_check_after_claim(now))
        .returning(orders.c.id, orders.c.user_id)
    )
    return {int(order_id): int(user_id) for order_id, user_id in result.all()}


def _allowed(limits: Restrictions) -> ColumnElement[bool] | None:
    """SQL for the orders `limits` and their subscriptions allow now (None: none, the platform is
    HALTED)."""
    if limits.platform is TradingState.HALTED:
        return None
    conditions = [_allowed_by_trading_state()]
    is_sale = orders.c.side != OrderSide.BUY.value
    if limits.platform is not TradingState.ACTIVE:
        conditions.append(is_sale)
    if limits.disabled_users:
        conditions.append(or_(is_sale, orders.c.user_id.not_in(sorted(limits.disabled_users))))
    return and_(*conditions)


def _allowed_by_trading_state() -> ColumnElement[bool]:
    """SQL for `allows` on an order row: no subscription, or one ACTIVE (or unset), or REDUCING for a
    sale. A state this version cannot read allows nothing, as `trading_state` reads it."""
    forbidding = select(subscriptions.c.id).where(
        subscriptions.c.id == orders.c.subscription_id,
        ~or_(
            func.coalesce(subscriptions.c.trading_state, "").in_(["", TradingState.ACTIVE.value]),
            and_(
                subscriptions.c.trading_state == TradingState.REDUCING.value,
                orders.c.side != OrderSide.BUY.value,
            ),
        ),
    )
    return ~forbidding.exists()
