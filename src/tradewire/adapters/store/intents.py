"""Execution intents in SQL: created per signal and subscription, read back with all a decision
needs, and closed as rejected, failed or ordered, with the order (ports/intents.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from tradewire.adapters.store import bulk
from tradewire.adapters.store.confirmations import propose
from tradewire.adapters.store.db import SqlTables
from tradewire.adapters.store.events import transaction_with_events
from tradewire.adapters.store.order_rows import executor_order_row, new_order_record, read_orders
from tradewire.adapters.store.platform import restrictions
from tradewire.adapters.store.risk_alerts import alert_events
from tradewire.adapters.store.settlement import log_row
from tradewire.adapters.store.tables import (
    execution_intents,
    execution_log,
    orders,
    signals,
    strategies,
    subscriptions,
)
from tradewire.adapters.store.track import track_signal
from tradewire.adapters.store.values import (
    bounded_reason,
    error_reason,
    in_partitions,
    readable_rows,
)
from tradewire.adapters.store.work_items import PENDING, Settings, SignalParts, work_item
from tradewire.domain.events import Event, FailedIntent, NewIntent, SignalFacts, decided, signal_routed
from tradewire.domain.execution import IntentStatus, LogStatus, SubscriptionStatus
from tradewire.domain.orders import OrderState
from tradewire.domain.records import (
    Decisions,
    FailedAttempt,
    NewOrder,
    OrderRecord,
    Rejection,
    Routing,
    SubscriptionTarget,
    UnreadableWork,
    WorkItem,
    WorkPage,
    WorkQuery,
)
from tradewire.domain.risk import TradingState

log = logging.getLogger("tradewire.store")


class SqlIntents(SqlTables):
    """Execution intents, unique on (signal, subscription), from routing to the executor's decision."""

    def active_targets(self, strategy_id: int) -> list[SubscriptionTarget]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    subscriptions.c.id,
                    subscriptions.c.user_id,
                    subscriptions.c.account_id,
                    subscriptions.c.pairs,
                ).where(
                    subscriptions.c.strategy_id == strategy_id,
                    subscriptions.c.status == SubscriptionStatus.ACTIVE.value,
                )
            ).all()
        return [SubscriptionTarget(i, user_id, account_id, pairs) for i, user_id, account_id, pairs in rows]

    def create_intents(self, routing: Routing, now: datetime) -> None:
        signal_id, status = routing.signal_id, routing.status
        rows = [intent_row(signal_id, t, now) for t in routing.targets]
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            inserted = bulk.insert_returning(
                conn,
                execution_intents,
                rows,
                ["id", "subscription_id"],
                ignore_conflicts_on=["signal_id", "subscription_id"],
            )
            routed = conn.execute(
                update(signals)
                .where(signals.c.id == signal_id, signals.c.status == "received")
                .values(status=status, routed_at=now)
            )
            if routed.rowcount == 1 and status == "routed":
                try:
                    # The strategy's statistics never hold up its subscribers' trades: a track-record
                    # update that fails (an old row's absurd price overflowing the column) is skipped.
                    with conn.begin_nested():
                        track_signal(conn, signal_id, routing.market_price, now)
                except Exception:
                    log.exception("signal %s: not counted in the track record", signal_id)
            by_subscription = {t.subscription_id: t for t in routing.targets}
            new = [NewIntent(i, by_subscription[s]) for i, s in sorted(inserted)]
            outbox.add(_routing_events(conn, signal_id, new, status if routed.rowcount == 1 else None))

    def pending_work(
        self, signal_id: int | None = None, created_before: datetime | None = None, limit: int = 5000
    ) -> list[WorkItem]:
        return self.pending_work_page(WorkQuery(signal_id, created_before, limit=limit)).work

    def pending_work_page(self, query: WorkQuery) -> WorkPage:
        wanted = PENDING.where(execution_intents.c.id > query.after_id).limit(query.limit)
        if query.partitions is not None:
            wanted = wanted.where(in_partitions(execution_intents.c.account_id, query.partitions))
        if query.signal_id is not None:
            wanted = wanted.where(execution_intents.c.signal_id == query.signal_id)
        if query.created_before is not None:
            wanted = wanted.where(execution_intents.c.created_at <= query.created_before)
        with self.engine.connect() as conn:
            rows = readable_rows(conn, wanted, execution_intents.c.id)
            limits = restrictions(conn)
        page = WorkPage([], [])
        signals: dict[int, SignalParts] = {}  # a page's intents mostly share their signal
        settings = Settings()  # and their subscriptions mostly their settings
        for intent_id, row in rows:
            if isinstance(row, str):
                page.unreadable.append(UnreadableWork(intent_id, row))
                continue
            try:
                page.work.append(work_item(row._mapping, limits, signals, settings))
            except Exception as exc:  # a row an older version (or a hand) wrote: it fails alone
                why = f"stored intent cannot be read: {error_reason(exc)}"
                page.unreadable.append(UnreadableWork(intent_id, why))
        return page

    def save_decisions(self, decisions: Decisions, now: datetime) -> list[OrderRecord]:
        rejections, new_orders, failures, proposals, alerts = decisions
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            failed = _record_failures(conn, failures, now) if failures else []
            paused = _reject(conn, rejections, now) if rejections else []
            proposed = propose(conn, proposals, now) if proposals else []
            outbox.add(paused)
            if alerts:
                outbox.add(alert_events(conn, alerts, now))
            if not new_orders:
                outbox.add(decided(rejections, failed, [], proposed))
                return []
            rows = [executor_order_row(o, now) for o in new_orders]
            inserted = bulk.insert_returning(
                conn, orders, rows, ["intent_id", "id"], ignore_conflicts_on=["intent_id"]
            )
            for chunk in bulk.chunks([o.item.intent_id for o in new_orders], 900):
                conn.execute(
                    update(execution_intents)
                    .where(
                        bulk.one_of(conn, execution_intents.c.id, chunk),
                        execution_intents.c.status == IntentStatus.CREATED.value,
                    )
                    .values(status=IntentStatus.ORDERED.value, updated_at=now)
                )
            placed, earlier = _stored_new_orders(conn, new_orders, dict(inserted), now)
            outbox.add(decided(rejections, failed, placed, proposed))
            return sorted(placed + earlier, key=lambda r: r.order_id)


def intent_row(signal_id: int, target: SubscriptionTarget, now: datetime) -> dict[str, Any]:
    """The row of a new intent of `signal_id` for `target`'s subscription, still to be decided."""
    return {
        "signal_id": signal_id,
        "subscription_id": target.subscription_id,
        "account_id": target.account_id,
        "user_id": target.user_id,
        "status": IntentStatus.CREATED.value,
        "reason": None,
        "created_at": now,
        "updated_at": now,
    }


def _reject(conn: Connection, rejections: Sequence[Rejection], now: datetime) -> list[Event]:
    """Intents end rejected with their reasons in the log; a drawdown pause turns the subscription
    REDUCING. Returns the events of the pauses that took effect (an ACTIVE subscription turned)."""
    conn.execute(
        update(execution_intents)
        .where(
            execution_intents.c.id == bindparam("iid"),
            execution_intents.c.status == IntentStatus.CREATED.value,
        )
        .values(status=IntentStatus.REJECTED.value, reason=bindparam("why"), updated_at=now),
        [{"iid": r.item.intent_id, "why": r.reason} for r in rejections],
    )
    bulk.insert(
        conn,
        execution_log,
        [log_row(r.item, r.log_status, r.reason, None, r.details, now) for r in rejections],
    )
    pauses: dict[int, Rejection] = {}
    for r in rejections:
        if r.pause_reason:
            pauses.setdefault(r.item.subscription_id, r)
    told: list[Event] = []
    for subscription_id, r in pauses.items():
        turned = conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.id == subscription_id,
                subscriptions.c.trading_state == TradingState.ACTIVE.value,
            )
            .values(trading_state=TradingState.REDUCING.value, state_reason=r.pause_reason, updated_at=now)
        )
        if turned.rowcount == 1 and r.paused is not None:
            told.append(r.paused)
    return told


def _stored_new_orders(
    conn: Connection, new_orders: Sequence[NewOrder], inserted: dict[int, int], now: datetime
) -> tuple[list[OrderRecord], list[OrderRecord]]:
    """The records of orders just inserted (`inserted`: their ids by intent), built from what we
    inserted plus their ids, and those of orders that already existed for their intent (a repeat
    after a crash), read back whole. Only the intents whose insert met an order are read."""
    wanted = {o.item.intent_id: o for o in new_orders}
    ids: dict[int, int] = dict(inserted)
    existing: list[int] = []
    for chunk in bulk.chunks([i for i in wanted if i not in ids], 900):
        rows = conn.execute(
            select(orders.c.id, orders.c.intent_id, orders.c.client_order_id, orders.c.state).where(
                bulk.one_of(conn, orders.c.intent_id, chunk)
            )
        )
        for order_id, intent_id, client_order_id, state in rows:
            mine = wanted[intent_id]
            if client_order_id == mine.client_order_id and state == OrderState.NEW.value:
                ids[intent_id] = order_id
            else:
                existing.append(order_id)
    records = [
        new_order_record(ids[intent_id], order, now)
        for intent_id, order in wanted.items()
        if intent_id in ids
    ]
    earlier = read_orders(conn, orders.c.id.in_(existing)) if existing else []
    return sorted(records, key=lambda r: r.order_id), earlier


def _record_failures(
    conn: Connection, failures: Sequence[FailedAttempt], now: datetime
) -> list[FailedIntent]:
    """Count each failed attempt; a final one marks the intent failed and writes it to the log.
    Returns the intents marked failed."""
    failed: list[FailedIntent] = []
    for failure in failures:
        values: dict[str, Any] = {
            "attempts": execution_intents.c.attempts + 1,
            "reason": bounded_reason(failure.reason),
            "updated_at": now,
        }
        if failure.final:
            values["status"] = IntentStatus.FAILED.value
        row = conn.execute(
            update(execution_intents)
            .where(
                execution_intents.c.id == failure.intent_id,
                execution_intents.c.status == IntentStatus.CREATED.value,
            )
            .values(values)
            .returning(
                execution_intents.c.signal_id,
                execution_intents.c.subscription_id,
                execution_intents.c.account_id,
                execution_intents.c.user_id,
            )
        ).first()
        if row is None or not failure.final:
            continue
        conn.execute(
            execution_log.insert().values(
                intent_id=failure.intent_id,
                signal_id=row.signal_id,
                subscription_id=row.subscription_id,
                account_id=row.account_id,
                user_id=row.user_id,
                status=LogStatus.FAILED.value,
                reason=bounded_reason(failure.reason),
                created_at=now,
            )
        )
        failed.append(
            FailedIntent(
                failure.intent_id,
                row.user_id,
                row.signal_id,
                row.subscription_id,
                bounded_reason(failure.reason),
            )
        )
    return failed


def _routing_events(
    conn: Connection, signal_id: int, new: Sequence[NewIntent], status: str | None
) -> list[Event]:
    """The events of a routing: the intents it stored and, when it routed the signal (`status`),
    the owner's summary."""
    if not new and status is None:
        return []
    row = conn.execute(
        select(
            signals.c.strategy_id,
            signals.c.action,
            signals.c.ticker,
            signals.c.symbol,
            signals.c.contracts,
            signals.c.price,
            signals.c.received_at,
            strategies.c.owner_id,
        )
        .join(strategies, strategies.c.id == signals.c.strategy_id)
        .where(signals.c.id == signal_id)
    ).first()
    if row is None:
        return []
    facts = SignalFacts(
        signal_id,
        row.strategy_id,
        row.action,
        row.ticker,
        row.symbol,
        row.contracts,
        row.price,
        row.received_at,
    )
    return signal_routed(row.owner_id, facts, status, new)
