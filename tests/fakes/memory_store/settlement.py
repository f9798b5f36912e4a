"""Saving what settlement decided, into the twin's tables: adapters/store/settlement.py's steps, with
the same domain calls (domain/settlement) and the same row builders, and dicts for tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tests.fakes.memory_store.tables import Tables
from tradewire.adapters.store.settlement import (
    _open_position,
    _order_row,
    _position_row,
    _report,
    fill_row,
    log_row,
    stored_order,
)
from tradewire.domain import events
from tradewire.domain.events import Event
from tradewire.domain.execution import IntentStatus
from tradewire.domain.positions import PositionStatus
from tradewire.domain.records import OrderOutcome
from tradewire.domain.settlement import (
    OpenPosition,
    OrdersSettled,
    PositionChange,
    PositionKey,
    RealisedResults,
    RunningTotal,
    realised_results,
    settle_orders,
    settle_positions,
)


def settle(
    tables: Tables, outcomes: Sequence[OrderOutcome], now: datetime, late_fill_checks: tuple[float, ...]
) -> list[Event]:
    """Settle a batch of exchange reports and save the result (the caller holds the transaction);
    returns the events it makes."""
    order_ids = {o.order.order_id for o in outcomes}
    rows = tables["orders"]
    stored = {i: stored_order(rows[i]) for i in sorted(order_ids) if i in rows}
    seen = {(f["order_id"], f["trade_id"]) for f in tables["fills"].values() if f["order_id"] in order_ids}
    settled = settle_orders(outcomes, stored, seen, now, late_fill_checks)
    moved = settle_positions(settled.fills, _open_positions(tables, settled.position_keys), now)
    _report(settled.anomalies + moved.anomalies)
    _save_orders(tables, settled, now)
    moved_ids = _save_positions(tables, moved.changes, now)
    save_results(tables, realised_results(moved.closed, now))
    for e in settled.log:
        tables.insert_new(
            "execution_log", log_row(e.order, e.status, e.reason, e.order.order_id, e.response or None, now)
        )
    _save_intents(tables, settled, now)
    return events.settled(outcomes, stored, settled, moved_ids)


def _open_positions(tables: Tables, keys: set[PositionKey]) -> dict[PositionKey, OpenPosition]:
    return {
        (p["subscription_id"], p["symbol"]): _open_position(p)
        for p in tables.where("positions", status=PositionStatus.OPEN.value)
        if (p["subscription_id"], p["symbol"]) in keys
    }


def _save_orders(tables: Tables, settled: OrdersSettled, now: datetime) -> None:
    for change in settled.orders:
        tables["orders"][change.order_id].update(_order_row(change, now))
    for f in settled.fills:
        tables.insert_new("fills", fill_row(f))


def _save_positions(
    tables: Tables, changes: Sequence[PositionChange], now: datetime
) -> list[tuple[int, PositionChange]]:
    # New positions first, then the updates: the SQL store's INSERT comes before its UPDATE.
    new_ids = {
        id(change): tables.insert_new("positions", _position_row(change, now))
        for change in changes
        if change.position_id is None
    }
    for change in changes:
        if change.position_id is not None:
            tables["positions"][change.position_id].update(_position_row(change, now))
    return [(change.position_id or new_ids[id(change)], change) for change in changes]


def save_results(tables: Tables, results: RealisedResults) -> None:
    if not results.per_account:
        return
    daily = tables.account_daily_pnl
    current = {a: daily[(a, results.day)] for a in results.per_account if (a, results.day) in daily}
    for account_id, pnl in results.daily_after(current).items():
        daily[(account_id, results.day)] = pnl
    subscriptions = tables["subscriptions"]
    totals = {
        sid: RunningTotal(subscriptions[sid]["pnl_total"], subscriptions[sid]["pnl_peak"])
        for sid in results.per_subscription
        if sid in subscriptions
    }
    for sid, total in results.totals_after(totals).items():
        subscriptions[sid].update(pnl_total=total.total, pnl_peak=total.peak)


def _save_intents(tables: Tables, settled: OrdersSettled, now: datetime) -> None:
    intents = tables["execution_intents"]
    for change in settled.intents:
        intent = intents.get(change.intent_id)
        if intent is None:
            continue
        if change.plain_done:  # the fill is in the execution log; the intent only records that it is done
            intent.update(status=IntentStatus.DONE.value, updated_at=now)
        else:
            intent.update(status=change.status.value, reason=change.reason, updated_at=now)
