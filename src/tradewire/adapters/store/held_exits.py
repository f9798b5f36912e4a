"""Exits refused for insufficient funds (domain/held_exit.py): which positions' last exit was, and
saving what was decided about them (a write-off, a position closed outside tradewire, funds locked),
with its execution log line and the user's event. No decision is taken here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from tradewire.adapters.store import bulk
from tradewire.adapters.store.attempts import lock_open_positions, positions_with_live_attempts
from tradewire.adapters.store.db import SqlTables
from tradewire.adapters.store.events import transaction_with_events
from tradewire.adapters.store.settlement import save_results
from tradewire.adapters.store.tables import execution_log, orders, positions
from tradewire.domain.execution import LogStatus
from tradewire.domain.held_exit import (
    HeldExit,
    PositionOwner,
    held_exit_event,
    refused_for_funds,
    written_off,
)
from tradewire.domain.orders import OrderSide, OrderState, RejectionKind
from tradewire.domain.positions import Position, PositionStatus
from tradewire.domain.settlement import ClosedResult, realised_results
from tradewire.domain.tranches import PositionPhase


class SqlHeldExits(SqlTables):
    """The positions whose exit the exchange refused for insufficient funds, and what became of them."""

    def exits_refused_for_funds(self, position_ids: Sequence[int]) -> set[int]:
        latest: dict[int, Any] = {}
        with self.engine.connect() as conn:
            for chunk in bulk.chunks(sorted(set(position_ids)), 900):
                rows = conn.execute(
                    select(
                        orders.c.position_id,
                        orders.c.id,
                        orders.c.side,
                        orders.c.state,
                        orders.c.rejection,
                        orders.c.reason,
                    ).where(orders.c.position_id.in_(chunk))
                )
                for r in rows:
                    if r.position_id not in latest or r.id > latest[r.position_id].id:
                        latest[r.position_id] = r
        return {pid for pid, r in latest.items() if refused(r)}

    def settle_held_exit(self, position_id: int, decision: HeldExit, now: datetime) -> bool:
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            # Locked first: a settlement of this position commits before this reads, or waits.
            if lock_open_positions(conn, [position_id]).get(position_id) != decision.amount:
                return False  # it changed since the decision: nothing written off on a stale view
            if positions_with_live_attempts(conn, [position_id], sells_only=True):
                return False  # a sale that may still fill: what it sells is not known yet
            r = conn.execute(select(positions).where(positions.c.id == position_id)).one()._mapping
            before = Position(
                r["symbol"], r["amount"], r["avg_entry"], r["cost_basis"], r["realized_pnl"], r["fees"]
            )
            after = written_off(before, decision)
            closed = after.status is PositionStatus.CLOSED
            if decision.changes_position:
                values: dict[str, Any] = {
                    "amount": after.amount,
                    "cost_basis": after.cost_basis,
                    "status": after.status.value,
                    "close_reason": after.close_reason.value if after.close_reason else None,
                    "closed_at": now if closed else None,
                    "updated_at": now,
                }
                if closed:
                    tranches = r["tranches"]
                    values["phase"] = PositionPhase.CLOSED.value
                    values["tranches"] = {**tranches, "pending": []} if tranches else tranches
                conn.execute(positions.update().where(positions.c.id == position_id).values(**values))
            if closed:
                net = after.realized_pnl - after.fees
                save_results(
                    conn, realised_results([ClosedResult(r["account_id"], r["subscription_id"], net)], now)
                )
            owner = PositionOwner(
                position_id, r["user_id"], r["account_id"], r["subscription_id"], r["mode"], r["symbol"]
            )
            conn.execute(
                execution_log.insert().values(
                    subscription_id=owner.subscription_id,
                    account_id=owner.account_id,
                    user_id=owner.user_id,
                    status=LogStatus.SKIPPED.value,
                    reason=f"position {position_id} ({owner.symbol}): {decision.note()}",
                    created_at=now,
                )
            )
            outbox.add([held_exit_event(owner, after, decision)])
            return True


def refused(r: Any) -> bool:
    """An order row that is a sale the exchange refused for insufficient funds."""
    return (
        r.side == OrderSide.SELL.value
        and r.state == OrderState.REJECTED.value
        and r.rejection in (RejectionKind.EXCHANGE.value, None)
        and refused_for_funds(r.reason)
    )
