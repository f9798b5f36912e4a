"""Orders as rows and rows as OrderRecords: what the SQL stores write for a new order (the
executor's and the platform's own) and read back, shared by the intents, orders and positions stores."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection

from tradewire.adapters.store.settlement import stored_rejection
from tradewire.adapters.store.tables import execution_intents, orders, subscriptions
from tradewire.adapters.store.values import with_owner
from tradewire.domain.entry_order import EntryOrder
from tradewire.domain.exit_plan import ExitPlan
from tradewire.domain.money import ZERO
from tradewire.domain.orders import OrderSide, OrderState, OrderType
from tradewire.domain.positions import CloseReason
from tradewire.domain.records import NewOrder, OrderRecord

log = logging.getLogger("tradewire.store")

# The orders columns an OrderRecord holds under their own names.
_RECORD_FIELDS = (
    "intent_id",
    "account_id",
    "subscription_id",
    "user_id",
    "mode",
    "client_order_id",
    "symbol",
    "amount",
    "price",
    "check_attempts",
    "created_at",
    "sizing_note",
    "position_id",
    "tranche",
    "filled",
)


def new_order_row(
    owner: Any,
    client_order_id: str,
    side: OrderSide,
    order_type: OrderType,
    amount: Decimal,
    price: Decimal | None,
    sizing_note: str | None,
    now: datetime,
) -> dict[str, Any]:
    """An orders row in state NEW, due for its first check at once; `owner` (a WorkItem or an
    AutoOrder) names its account, subscription, user and symbol."""
    return {
        "account_id": owner.account_id,
        "subscription_id": owner.subscription_id,
        "user_id": owner.user_id,
        "mode": owner.mode,
        "client_order_id": client_order_id,
        "exchange_order_id": None,
        "symbol": owner.symbol,
        "side": side.value,
        "type": order_type.value,
        "amount": amount,
        "price": price,
        "state": OrderState.NEW.value,
        "filled": ZERO,
        "average": None,
        "fee": ZERO,
        "fee_currency": None,
        "reason": None,
        "created_at": now,
        "updated_at": now,
        "next_check_at": now,
        "check_attempts": 0,
        "sizing_note": sizing_note,
    }


def executor_order_row(order: NewOrder, now: datetime) -> dict[str, Any]:
    """The row of an order the executor decided for an intent."""
    row = new_order_row(
        order.item,
        order.client_order_id,
        order.side,
        order.type,
        order.amount,
        order.price,
        order.sizing_note,
        now,
    )
    row["intent_id"] = order.item.intent_id
    row["sizing_equity"] = order.sizing_equity
    row["exit_plan"] = order.exit_plan.as_json() if order.exit_plan else None
    return row


def new_order_record(order_id: int, order: NewOrder, now: datetime) -> OrderRecord:
    """The record of an executor's order just stored, from what was stored (no read back)."""
    item = order.item
    return OrderRecord(
        order_id=order_id,
        intent_id=item.intent_id,
        account_id=item.account_id,
        subscription_id=item.subscription_id,
        user_id=item.user_id,
        mode=item.mode,
        exchange=item.exchange,
        client_order_id=order.client_order_id,
        symbol=item.symbol,
        side=order.side,
        type=order.type,
        amount=order.amount,
        price=order.price,
        state=OrderState.NEW,
        check_attempts=0,
        signal_id=item.signal_id,
        created_at=now,
        sizing_note=order.sizing_note,
        exit_plan=order.exit_plan,
    )


def read_orders(conn: Connection, condition: Any, limit: int | None = None) -> list[OrderRecord]:
    """The orders matching `condition`, in id order, with their exchange, signal and entry settings."""
    query = (
        with_owner(orders, subscriptions.c.entry_order)
        .add_columns(execution_intents.c.signal_id)
        .outerjoin(execution_intents, execution_intents.c.id == orders.c.intent_id)
        .where(condition)
        .order_by(orders.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    records = []
    for row in conn.execute(query):
        try:
            records.append(order_record(row._mapping))
        except Exception:  # one row an older version or a hand stored wrong never blinds the sweep
            if row.id not in _reported:
                _reported.add(row.id)
                log.exception("order %s (%s) cannot be read; left out", row.id, row.client_order_id)
    return records


_reported: set[int] = set()  # unreadable orders already logged (once per process)


def order_record(r: Any) -> OrderRecord:
    return OrderRecord(
        **{name: r[name] for name in _RECORD_FIELDS},
        order_id=r["id"],
        exchange=r["exchange"],
        signal_id=r["signal_id"],
        side=OrderSide(r["side"]),
        type=OrderType(r["type"]),
        state=OrderState(r["state"]),
        exit_plan=_exit_plan(r),
        close_reason=CloseReason(r["close_reason"]) if r["close_reason"] else None,
        limit_timeout_s=_limit_timeout(r["entry_order"]) if r["type"] == OrderType.LIMIT.value else None,
        rejection=stored_rejection(r["rejection"]),
    )


def _exit_plan(r: Any) -> ExitPlan | None:
    """The entry's exit plan; an unreadable one is logged and read as none (the order is still
    checked and settled; its position gets no exit levels from it)."""
    try:
        return ExitPlan.from_json(r["exit_plan"])
    except Exception:
        if r["id"] not in _reported:
            _reported.add(r["id"])
            log.exception("order %s: its exit plan cannot be read; settled without one", r["id"])
        return None


def _limit_timeout(entry_order: Any) -> int | None:
    """The subscription's own limit order timeout (None: the platform's default)."""
    try:
        return EntryOrder.from_json(entry_order).limit_order_timeout_s
    except (ValueError, TypeError):
        log.error("unreadable entry order settings %r: the default limit order timeout applies", entry_order)
        return None
