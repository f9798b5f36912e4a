"""Which orders on a position may still fill: its own (exits, DCA tranches) and signals' sells.

An attempt may still fill while it is unsettled, and also once it is canceled, expired or concluded
lost for as long as it is looked up again (its late-check window, `next_check_at` set): the exchange
may still report a fill that raced the cancel, or show the order we could not find. Until that is
known, no next attempt of the same position is placed, or the account could sell (or buy) twice;
neither is an automated exit while a signal's sell of the position may still fill.

An exit waits only for sales (`sells_only`): a DCA buy that may still fill cannot make a sale of what
the position holds too large, and a stop loss must not wait out a canceled buy's late checks. If that
buy fills after the exit closed the position, the new position it opens is closed at once
(domain/settlement/positions.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, union

from tradewire.adapters.store import bulk
from tradewire.adapters.store.tables import orders, positions
from tradewire.domain.orders import OrderSide, OrderState
from tradewire.domain.positions import PositionStatus

_UNSETTLED = [s.value for s in OrderState if not s.is_terminal]


def may_still_fill() -> ColumnElement[bool]:
    """Orders not settled yet, or final but still in their window of late checks."""
    # A final order keeps a next check only while it is re-checked (canceled, expired, lost).
    return or_(orders.c.state.in_(_UNSETTLED), orders.c.next_check_at.is_not(None))


def positions_with_live_attempts(
    conn: Connection, position_ids: Iterable[int] | None = None, sells_only: bool = False
) -> set[int]:
    """The positions (among `position_ids`, or all open ones) with an order that may still fill: one
    of their own (an exit, a tranche; with `sells_only`, an exit), or a signal's sell of the same
    subscription and symbol."""
    if position_ids is None:
        return {r for (r,) in conn.execute(_live_attempts(None, sells_only))}
    found: set[int] = set()
    for chunk in bulk.chunks(sorted(set(position_ids)), 450):
        found.update(r for (r,) in conn.execute(_live_attempts(chunk, sells_only)))
    return found


def _live_attempts(position_ids: Sequence[int] | None, sells_only: bool) -> Any:
    own = select(orders.c.position_id).where(orders.c.position_id.is_not(None), may_still_fill())
    if sells_only:
        own = own.where(orders.c.side == OrderSide.SELL.value)
    same_pair = and_(
        orders.c.subscription_id == positions.c.subscription_id, orders.c.symbol == positions.c.symbol
    )
    signal_sells = (
        select(positions.c.id)
        .join(orders, same_pair)
        .where(orders.c.position_id.is_(None), orders.c.side == OrderSide.SELL.value, may_still_fill())
    )
    if position_ids is None:
        signal_sells = signal_sells.where(positions.c.status == PositionStatus.OPEN.value)
    else:
        own = own.where(orders.c.position_id.in_(position_ids))
        signal_sells = signal_sells.where(positions.c.id.in_(position_ids))
    return union(own, signal_sells)


def attempts_made(conn: Connection, position_ids: Iterable[int]) -> dict[int, int]:
    """How many own orders each position has had: the next one's attempt number."""
    counts: dict[int, int] = {}
    for chunk in bulk.chunks(sorted(set(position_ids)), 900):
        rows = conn.execute(
            select(orders.c.position_id, func.count())
            .where(orders.c.position_id.in_(chunk))
            .group_by(orders.c.position_id)
        )
        counts.update({position_id: count for position_id, count in rows})
    return counts


def lock_open_positions(conn: Connection, position_ids: Iterable[int]) -> dict[int, Decimal]:
    """The amounts of the open positions among `position_ids`, their rows locked in id order
    (PostgreSQL; SQLite's write transaction serialises writers): a settlement of the same position
    waits for this transaction, and this one sees what a settlement before it committed."""
    amounts: dict[int, Decimal] = {}
    for chunk in bulk.chunks(sorted(set(position_ids)), 900):
        rows = conn.execute(
            select(positions.c.id, positions.c.amount, positions.c.status)
            .where(positions.c.id.in_(chunk))
            .order_by(positions.c.id)
            .with_for_update()
        )
        amounts.update({r.id: r.amount for r in rows if r.status == PositionStatus.OPEN.value})
    return amounts
