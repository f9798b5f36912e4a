"""Saving what settlement decided: the store loads what the domain needs for a batch of exchange
reports (in bulk, locked where two batches could race), calls domain/settlement, and writes the
result in the caller's transaction. No decision is taken here."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, select, tuple_, update

from tradewire import failpoints
from tradewire.adapters.store import bulk
from tradewire.adapters.store.tables import (
    account_daily_pnl,
    execution_intents,
    execution_log,
    fills,
    orders,
    positions,
    subscriptions,
)
from tradewire.domain import events
from tradewire.domain.events import Event
from tradewire.domain.execution import IntentStatus, LogStatus
from tradewire.domain.exit_plan import ExitPlan
from tradewire.domain.money import ZERO
from tradewire.domain.orders import LATE_FILL_CHECKS_S, OrderState, RejectionKind
from tradewire.domain.positions import Position, PositionStatus
from tradewire.domain.records import OrderOutcome, OrderRecord, WorkItem
from tradewire.domain.settlement import (
    Anomaly,
    Automation,
    NewFill,
    OpenPosition,
    OrderChange,
    OrdersSettled,
    PositionChange,
    PositionKey,
    RealisedResults,
    RunningTotal,
    StoredOrder,
    realised_results,
    settle_orders,
    settle_positions,
)
from tradewire.domain.tranches import PositionPhase, Tranche

log = logging.getLogger("tradewire.store")


def settle(
    conn: Connection,
    outcomes: Sequence[OrderOutcome],
    now: datetime,
    late_fill_checks: tuple[float, ...] = LATE_FILL_CHECKS_S,
) -> list[Event]:
    """Settle a batch of exchange reports and save the result, within `conn`'s transaction; returns
    the events it makes (for the caller's outbox)."""
    order_ids = [o.order.order_id for o in outcomes]
    stored = _stored_orders(conn, order_ids)
    settled = settle_orders(outcomes, stored, _stored_trades(conn, order_ids), now, late_fill_checks)
    held = _open_positions(conn, settled.position_keys)
    failpoints.reached("settlement_positions_read")
    moved = settle_positions(settled.fills, held, now)
    results = realised_results(moved.closed, now)
    _report(settled.anomalies + moved.anomalies)
    _save_orders(conn, settled, now)
    moved_ids = _save_positions(conn, moved.changes, now)
    save_results(conn, results)
    entries = [
        log_row(e.order, e.status, e.reason, e.order.order_id, e.response or None, now) for e in settled.log
    ]
    bulk.insert(conn, execution_log, entries)
    _save_intents(conn, settled, now)
    return events.settled(outcomes, stored, settled, moved_ids)


def stored_rejection(value: Any) -> RejectionKind | None:
    """A stored rejection kind; one this version cannot read is taken as final (never looked up)."""
    try:
        return RejectionKind(value) if value else None
    except ValueError:
        return RejectionKind.EXCHANGE


# -- what the domain needs ---------------------------------------------------------------------------


def _stored_orders(conn: Connection, order_ids: list[int]) -> dict[int, StoredOrder]:
    result: dict[int, StoredOrder] = {}
    columns = (
        orders.c.id,
        orders.c.state,
        orders.c.filled,
        orders.c.average,
        orders.c.fee,
        orders.c.fee_currency,
        orders.c.late_checks,
        orders.c.rejection,
    )
    # Locked in id order (PostgreSQL): a pushed update and a poll of the same order are applied one
    # after the other, each seeing the other's fills, so no fill is counted twice.
    for chunk in bulk.chunks(sorted(set(order_ids)), 900):
        query = select(*columns).where(bulk.one_of(conn, orders.c.id, chunk)).order_by(orders.c.id)
        query = query.with_for_update()
        # all(): one fetch, not one per row; columns by name through the row's mapping (a Row's
        # attributes cost a few times as much, 7 of them per order).
        for r in conn.execute(query).all():
            row = r._mapping
            result[row["id"]] = stored_order(row)
    return result


def stored_order(r: Any) -> StoredOrder:
    """An order's stored state and fill totals, from its row (a mapping of its columns)."""
    filled = r["filled"]
    return StoredOrder(
        OrderState(r["state"]),
        filled,
        (r["average"] or ZERO) * filled,
        r["fee"],
        r["fee_currency"],
        r["late_checks"],
        stored_rejection(r["rejection"]),
    )


def _stored_trades(conn: Connection, order_ids: list[int]) -> set[tuple[int, str]]:
    seen: set[tuple[int, str]] = set()
    for chunk in bulk.chunks(order_ids, 900):
        query = select(fills.c.order_id, fills.c.trade_id).where(bulk.one_of(conn, fills.c.order_id, chunk))
        seen.update(conn.execute(query).tuples().all())
    return seen


def _open_positions(conn: Connection, keys: set[PositionKey]) -> dict[PositionKey, OpenPosition]:
    """The open positions these fills move, locked (PostgreSQL) until the transaction ends: two
    batches moving one position are applied one after the other, the second seeing the first's
    changes. Rows are locked in id order (one statement, ordered by id), so two batches never
    deadlock."""
    open_now = positions.c.status == PositionStatus.OPEN.value
    found: dict[PositionKey, OpenPosition] = {}
    if not keys:
        return found
    ordered = sorted(keys, key=lambda k: (k[0] or 0, k[1]))
    if conn.dialect.name == "sqlite":  # one writer at a time (the write transaction): one plain read
        for chunk in bulk.chunks(ordered, 500):
            pair = tuple_(positions.c.subscription_id, positions.c.symbol)
            for r in conn.execute(select(positions).where(open_now, pair.in_(chunk))).all():
                row = r._mapping
                found[(row["subscription_id"], row["symbol"])] = _open_position(row)
        return found
    # The keys as arrays: one statement however many. Locked in id order; a row a batch that held
    # its lock has closed meanwhile is read as it is now (closed), and left out.
    listed = bulk.keys_in(conn, [positions.c.subscription_id, positions.c.symbol], ordered)
    query = select(positions).where(open_now, listed).order_by(positions.c.id).with_for_update()
    for r in conn.execute(query).all():
        row = r._mapping
        if row["status"] == PositionStatus.OPEN.value:
            found[(row["subscription_id"], row["symbol"])] = _open_position(row)
    return found


# The position columns that hold its exit levels, named as Automation names them.
_LEVELS = ("stop_loss", "take_profit", "trailing_pct", "trailing_activation_pct", "best_price", "deadline_at")


def _open_position(r: Any) -> OpenPosition:
    position = Position(
        r["symbol"],
        r["amount"],
        r["avg_entry"],
        r["cost_basis"],
        r["realized_pnl"],
        r["fees"],
        PositionStatus(r["status"]),
    )
    levels: dict[str, Any] = {name: r[name] for name in _LEVELS}
    automation = Automation(**levels, phase=_phase(r), tranches=_tranches(r))
    return OpenPosition(r["id"], position, automation, r["opened_at"])


def _phase(r: Any) -> PositionPhase | None:
    """The stored phase; one no version wrote (a hand did) is worked out anew from the fill."""
    try:
        return PositionPhase(r["phase"]) if r["phase"] else None
    except ValueError:
        log.error("position %s: unknown phase %r, worked out anew", r["id"], r["phase"])
        return None


def _tranches(r: Any) -> dict[str, Any] | None:
    """The stored DCA book; one that cannot be read is dropped (no more tranches are bought), so one
    position stored wrong never fails the settlement of the whole batch."""
    book = r["tranches"]
    if book is None:
        return None
    try:
        ExitPlan.from_json(book["plan"])
        Decimal(book["first"])
        for tranche in book.get("pending", []):
            Tranche.from_json(tranche)
    except Exception:
        log.exception("position %s: its DCA tranches cannot be read; dropped", r["id"])
        return None
    return dict(book)


# -- what it decided ---------------------------------------------------------------------------------


def _report(anomalies: Iterable[Anomaly]) -> None:
    for anomaly in anomalies:
        log.log(logging.ERROR if anomaly.severe else logging.WARNING, "%s", anomaly.text)


def _save_orders(conn: Connection, settled: OrdersSettled, now: datetime) -> None:
    # Rows with the same columns go in one statement each (an order keeping its reason has none).
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in settled.orders:
        row = _order_row(change, now)
        groups.setdefault(tuple(row), []).append(row)
    for rows in groups.values():
        bulk.update_by(conn, orders, "id", rows)
    bulk.insert(conn, fills, [fill_row(f) for f in settled.fills])


def fill_row(f: NewFill) -> dict[str, Any]:
    """The fills row of a trade not recorded before."""
    return {
        "order_id": f.order.order_id,
        "account_id": f.order.account_id,
        "trade_id": f.trade.trade_id,
        "amount": f.trade.amount,
        "price": f.trade.price,
        "fee": f.trade.fee,
        "fee_currency": f.trade.fee_currency,
        "executed_at": f.executed_at,
    }


def _order_row(change: OrderChange, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": change.order_id,
        "state": change.state.value,
        "check_attempts": change.check_attempts,
        "next_check_at": change.next_check_at,
        "updated_at": now,
    }
    if not change.keeps_reason:
        row["reason"] = change.reason
    row["rejection"] = change.rejection.value if change.rejection is not None else None
    row["late_checks"] = change.late_checks
    if change.totals is not None:
        row.update(change.totals._asdict())  # named as the order's columns
    return row


def _save_positions(
    conn: Connection, changes: Sequence[PositionChange], now: datetime
) -> list[tuple[int, PositionChange]]:
    """Insert the new positions and update the others; every change with its position's id."""
    inserts, updates = [], []
    for change in changes:
        row = _position_row(change, now)
        if change.position_id is None:
            inserts.append(row)
        else:
            row["id"] = change.position_id
            updates.append(row)
    # A batch opens at most one position per (subscription, symbol): its key finds its new id.
    returned = bulk.insert_returning(conn, positions, inserts, ["id", "subscription_id", "symbol"])
    new_ids = {(subscription_id, symbol): position_id for position_id, subscription_id, symbol in returned}
    bulk.update_by(conn, positions, "id", updates)
    return [
        (change.position_id or new_ids[(change.order.subscription_id, change.position.symbol)], change)
        for change in changes
    ]


def _position_row(change: PositionChange, now: datetime) -> dict[str, Any]:
    """A new position's row, or the columns of a stored one that a change sets."""
    p, a = change.position, change.automation
    row: dict[str, Any] = {
        "status": p.status.value,
        "amount": p.amount,
        "avg_entry": p.avg_entry,
        "cost_basis": p.cost_basis,
        "realized_pnl": p.realized_pnl,
        "fees": p.fees,
        "close_reason": p.close_reason.value if p.close_reason else None,
        "closed_at": now if p.status is PositionStatus.CLOSED else None,
        "updated_at": now,
        "stop_loss": a.stop_loss,
        "take_profit": a.take_profit,
        "trailing_pct": a.trailing_pct,
        "trailing_activation_pct": a.trailing_activation_pct,
        "best_price": a.best_price,
        "deadline_at": a.deadline_at,
        "phase": a.phase.value if a.phase else None,
        "tranches": a.tranches,
    }
    if change.position_id is None:  # opened by this fill: its owner, from the order
        order = change.order
        row |= {
            "account_id": order.account_id,
            "subscription_id": order.subscription_id,
            "user_id": order.user_id,
            "mode": order.mode,
            "symbol": p.symbol,
            "side": "long",
            "opened_at": now,
        }
    return row


def save_results(conn: Connection, results: RealisedResults) -> None:
    """Add closed positions' results to the account's day and the subscription's running total, each
    read locked so two batches closing positions of one account add up."""
    if not results.per_account:
        return
    day = results.day
    current: dict[int, Decimal] = {}
    for chunk in bulk.chunks(sorted(results.per_account), 900):
        rows = conn.execute(
            select(account_daily_pnl.c.account_id, account_daily_pnl.c.pnl)
            .where(bulk.one_of(conn, account_daily_pnl.c.account_id, chunk), account_daily_pnl.c.day == day)
            .with_for_update()
        )
        current.update({a: pnl for a, pnl in rows})
    bulk.insert(
        conn,
        account_daily_pnl,
        [{"account_id": a, "day": day, "pnl": pnl} for a, pnl in results.daily_after(current).items()],
        update_conflicts_on=["account_id", "day"],
    )
    totals: dict[int, RunningTotal] = {}
    for chunk in bulk.chunks(sorted(results.per_subscription), 900):
        rows = conn.execute(
            select(subscriptions.c.id, subscriptions.c.pnl_total, subscriptions.c.pnl_peak)
            .where(bulk.one_of(conn, subscriptions.c.id, chunk))
            .with_for_update()
        )
        totals.update({sid: RunningTotal(total, peak) for sid, total, peak in rows})
    bulk.update_by(
        conn,
        subscriptions,
        "id",
        [
            {"id": sid, "pnl_total": t.total, "pnl_peak": t.peak}
            for sid, t in results.totals_after(totals).items()
        ],
    )


def log_row(
    about: WorkItem | OrderRecord,
    status: LogStatus,
    reason: str,
    order_id: int | None,
    response: Any,
    now: datetime,
) -> dict[str, Any]:
    """An execution_log row about an intent's work item or an order (its intent, signal, owner)."""
    return {
        "intent_id": about.intent_id,
        "signal_id": about.signal_id,
        "subscription_id": about.subscription_id,
        "account_id": about.account_id,
        "user_id": about.user_id,
        "order_id": order_id,
        "status": status.value,
        "reason": reason,
        "exchange_response": response,
        "created_at": now,
    }


def _save_intents(conn: Connection, settled: OrdersSettled, now: datetime) -> None:
    done: list[int] = []
    with_reason: list[dict[str, Any]] = []
    for change in settled.intents:
        if change.plain_done:
            done.append(change.intent_id)
        else:
            with_reason.append({"iid": change.intent_id, "st": change.status.value, "why": change.reason})
    for chunk in bulk.chunks(done, 900):
        # The fill is in the execution log; the intent only records that it is done.
        conn.execute(
            update(execution_intents)
            .where(bulk.one_of(conn, execution_intents.c.id, chunk))
            .values(status=IntentStatus.DONE.value, updated_at=now)
        )
    if with_reason:
        conn.execute(
            update(execution_intents)
            .where(execution_intents.c.id == bindparam("iid"))
            .values(status=bindparam("st"), reason=bindparam("why"), updated_at=now),
            with_reason,
        )
