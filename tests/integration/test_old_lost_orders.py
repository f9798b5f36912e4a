"""Migration 0013: orders concluded lost before 0011 (no `rejection`, told apart only by their reason)
are marked lost and looked up again like new lost ones, and hold back their position's next exit
meanwhile; a refusal by the exchange from the same time stays a final refusal."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select, update

from tests.databases import downgrade_to
from tests.integration.test_trading_state_orders import _open_position
from tests.support import now
from tradewire.adapters.store.db import upgrade
from tradewire.adapters.store.tables import orders
from tradewire.domain.orders import OrderState, RejectionKind


def _as_before_0011(engine: Engine, order_id: int, reason: str) -> None:
    """The order as the reconciler left a rejected one before 0011: no rejection kind, no next check."""
    with engine.begin() as conn:
        conn.execute(
            update(orders)
            .where(orders.c.id == order_id)
            .values(state="rejected", reason=reason, rejection=None, next_check_at=None, late_checks=0)
        )


def test_orders_concluded_lost_before_0011_are_looked_up_again_and_hold_the_next_exit(
    engine: Engine,
) -> None:
    # The orders are made by this version's store at head, then put in the shape orders had before
    # 0011, and the schema is taken back to 0012 (the store of today writes columns 0012 lacks). The
    # downgrade keeps every row: on SQLite, 0019's downgrade once rebuilt `users`, and dropping it
    # under the foreign keys deleted every order and position.
    store, stop, tranche = _open_position(engine)
    [refused] = store.save_auto_orders([tranche], now())
    _as_before_0011(engine, refused.order_id, 'binance {"code":-2010,"msg":"insufficient balance"}')
    [lost] = store.save_auto_orders([stop], now())
    coid = lost.client_order_id
    reason = f"never reached the exchange: not found by client order id {coid} in 3 checks over 131s"
    _as_before_0011(engine, lost.order_id, reason)
    assert store.save_auto_orders([stop], now()) != []  # the bug: read as a final refusal
    with engine.begin() as conn:  # undo that second exit, to see what the migration changes
        conn.execute(orders.delete().where(orders.c.id > lost.order_id))
    downgrade_to(engine, "0012")

    upgrade(engine)

    soon = now() + timedelta(seconds=1)
    [due] = store.due_orders(soon)
    assert due.order_id == lost.order_id
    assert (due.state, due.rejection) == (OrderState.REJECTED, RejectionKind.LOST)
    assert store.save_auto_orders([stop], now()) == []  # it may exist after all: no second exit
    assert store.positions_exiting([stop.position_id]) == {stop.position_id}
    with engine.connect() as conn:
        row = conn.execute(select(orders).where(orders.c.id == refused.order_id)).one()
        assert conn.execute(select(orders.c.reason).where(orders.c.id == lost.order_id)).scalar() == reason
    assert (row.state, row.rejection, row.next_check_at) == ("rejected", None, None)  # stays final
