"""Execution intents in SQL: created per signal and subscription, read back with all a decision
needs, and closed as rejected, failed or ordered, with the order (ports/intents.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, Text, bindparam, cast, select, update

from tradewire.adapters.store import bulk
from tradewire.adapters.store.confirmations import propose
from tradewire.adapters.store.db import SqlTables
from tradewire.adapters.store.events import transaction_with_events
from tradewire.adapters.store.order_rows import executor_order_row, new_order_record, read_orders
from tradewire.adapters.store.platform import restrictions
from tradewire.adapters.store.risk_alerts import alert_events
from tradewire.adapters.store.settlement import log_row
from tradewire.adapters.store.tables import (
    exchange_accounts,
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
    decimal_or_none,
    error_reason,
    in_partitions,
    readable_rows,
    signal_intent,
)
from tradewire.domain.confirmation import TradeConfirmation, proposed_at
from tradewire.domain.entry_order import EntryOrder
from tradewire.domain.events import Event, FailedIntent, NewIntent, SignalFacts, decided, signal_routed
from tradewire.domain.execution import IntentStatus, LogStatus, SubscriptionStatus
from tradewire.domain.exits import ExitRules
from tradewire.domain.orders import OrderState, OrderType
from tradewire.domain.platform import Restrictions
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
from tradewire.domain.risk import RiskLimits, TradingState
from tradewire.domain.signals import SignalIntent
from tradewire.domain.sizing import Sizing, SizingMode, SizingParams
from tradewire.domain.track_record import StrategyCurve
from tradewire.domain.tranches import DcaPlan

log = logging.getLogger("tradewire.store")

T = TypeVar("T")


def _text(column: Any) -> Any:
    """A JSON column read as its stored text (parsed by work_item once per distinct text: a fan-out's
    subscriptions mostly share their settings)."""
    return cast(column, Text).label(column.name)


# An intent still to decide, with its signal, subscription, strategy and account.
_PENDING = (
    select(
        execution_intents.c.id,
        execution_intents.c.signal_id,
        execution_intents.c.subscription_id,
        execution_intents.c.account_id,
        execution_intents.c.user_id,
        exchange_accounts.c.mode,
        exchange_accounts.c.exchange,
        signals.c.symbol,
        signals.c.ticker,
        signals.c.action,
        signals.c.contracts,
        signals.c.price,
        _text(signals.c.details),  # parsed once per signal (signal_parts), not per row
        subscriptions.c.sizing_mode,
        subscriptions.c.sizing_value,
        _text(subscriptions.c.sizing_params),
        subscriptions.c.strategy_id,
        _text(subscriptions.c.risk_limits),
        _text(subscriptions.c.exit_rules),
        _text(subscriptions.c.dca),
        _text(subscriptions.c.entry_order),
        subscriptions.c.trading_state,
        subscriptions.c.status.label("subscription_status"),
        subscriptions.c.pnl_total,
        subscriptions.c.pnl_peak,
        subscriptions.c.confirmation,
        subscriptions.c.confirmation_timeout_s,
        subscriptions.c.max_confirm_drift_pct,
        _text(execution_intents.c.proposal),
        execution_intents.c.confirmed_at,
        strategies.c.track_index,
        strategies.c.track_peak,
        signals.c.signal_time,
        signals.c.received_at,
        execution_intents.c.attempts,
    )
    .join(signals, signals.c.id == execution_intents.c.signal_id)
    .join(subscriptions, subscriptions.c.id == execution_intents.c.subscription_id)
    .join(strategies, strategies.c.id == subscriptions.c.strategy_id)
    .join(exchange_accounts, exchange_accounts.c.id == execution_intents.c.account_id)
    .where(execution_intents.c.status == IntentStatus.CREATED.value)
    .order_by(execution_intents.c.id)
)


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
        wanted = _PENDING.where(execution_intents.c.id > query.after_id).limit(query.limit)
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


_UNRESTRICTED = Restrictions()


class SignalParts(NamedTuple):
    """What a work item takes from its signal's row (the same for every intent of the signal)."""

    intent: SignalIntent
    stop_loss: Decimal | None
    take_profit: Decimal | None
    order_type: OrderType | None
    confidence: Any
    strategy_drawdown_pct: Decimal | None


def signal_parts(r: Any) -> SignalParts:
    details = _parsed(r["details"]) or {}
    return SignalParts(
        signal_intent(r["action"], details),
        decimal_or_none(details.get("stop_loss")),
        decimal_or_none(details.get("take_profit")),
        _order_type(details.get("order_type")),
        details.get("confidence"),
        StrategyCurve(r["track_index"], r["track_peak"]).drawdown_pct,
    )


class Settings:
    """A subscription's settings as read from their stored JSON, each distinct text parsed once
    (settings are immutable: work items share them). A value already parsed is parsed as it is."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[Any, ...], Any] = {}

    def of(self, parse: Callable[[Any], T], raw: Any) -> T:
        if not isinstance(raw, str):
            return parse(raw)
        key = (parse, raw)
        found: T = self._parsed.get(key, _MISSING)
        if found is _MISSING:
            found = self._parsed[key] = parse(json.loads(raw))
        return found

    def confirmation(self, via: Any, timeout_s: Any, max_drift_pct: Any) -> TradeConfirmation:
        # The drift as written (a Decimal equal to another may print otherwise).
        key = (TradeConfirmation, via, timeout_s, str(max_drift_pct))
        found: TradeConfirmation | None = self._parsed.get(key)
        if found is None:
            found = self._parsed[key] = TradeConfirmation.of(via, timeout_s, max_drift_pct)
        return found


_MISSING: Any = object()


def _parsed(raw: Any) -> Any:
    """A JSON column's value read as text (_text), parsed; one read as JSON already, as it is."""
    return json.loads(raw) if isinstance(raw, str) else raw


def work_item(
    r: Any,
    limits: Restrictions = _UNRESTRICTED,
    signals: dict[int, SignalParts] | None = None,
    settings: Settings | None = None,
) -> WorkItem:
    """The work item of a row of _PENDING; `signals` keeps each signal's parts for the next rows, and
    `settings` the subscription settings parsed so far."""
    signal = signals.get(r["signal_id"]) if signals is not None else None
    if signal is None:
        signal = signal_parts(r)
        if signals is not None:
            signals[r["signal_id"]] = signal
    intent = signal.intent
    settings = settings or Settings()
    state = TradingState(r["trading_state"])
    proposal = _parsed(r["proposal"])
    return WorkItem(
        intent_id=r["id"],
        signal_id=r["signal_id"],
        subscription_id=r["subscription_id"],
        account_id=r["account_id"],
        user_id=r["user_id"],
        mode=r["mode"],
        exchange=r["exchange"],
        symbol=r["symbol"],
        ticker=r["ticker"],
        action=intent.action,
        contracts=r["contracts"],
        signal_price=r["price"],
        market_position=intent.market_position,
        exit_ratio=intent.exit_ratio,
        sizing=Sizing(
            SizingMode(r["sizing_mode"]),
            r["sizing_value"],
            settings.of(SizingParams.from_json, r["sizing_params"]),
        ),
        strategy_id=r["strategy_id"],
        risk=settings.of(RiskLimits.from_json, r["risk_limits"]),
        signal_at=r["signal_time"] or r["received_at"],
        exit_rules=settings.of(ExitRules.from_json, r["exit_rules"]),
        # The subscription's own state, the platform's and its owner's: the most restrictive wins.
        state=limits.state(state, r["user_id"]),
        state_source=limits.source(state, r["user_id"]),
        pnl_total=r["pnl_total"],
        pnl_peak=r["pnl_peak"],
        strategy_drawdown_pct=signal.strategy_drawdown_pct,
        stop_loss=signal.stop_loss,
        take_profit=signal.take_profit,
        dca=settings.of(DcaPlan.from_json, r["dca"]),
        attempts=r.get("attempts") or 0,
        order_type=signal.order_type,
        entry=settings.of(EntryOrder.from_json, r["entry_order"]),
        confirmation=settings.confirmation(
            r["confirmation"], r["confirmation_timeout_s"], r["max_confirm_drift_pct"]
        ),
        confirmed=r["confirmed_at"] is not None,
        proposal_price=decimal_or_none((proposal or {}).get("price")),
        proposed_at=proposed_at(proposal),
        subscription_status=SubscriptionStatus(r["subscription_status"]),
        confidence=signal.confidence,
    )


def _order_type(value: Any) -> OrderType | None:
    return OrderType(value) if value in (OrderType.MARKET.value, OrderType.LIMIT.value) else None
