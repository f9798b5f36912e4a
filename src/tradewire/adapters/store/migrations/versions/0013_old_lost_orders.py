"""orders: the orders concluded lost before 0011 are marked lost and get their late checks

Before 0011 an order not found by its client order id was rejected like any refusal, with no
`rejection` and no further lookup; only its reason tells it apart ("never reached the exchange: not
found by client order id ..."). Read as a final refusal, it was never looked up again, and the exit
monitor could place a position's next exit while it might exist after all. It gets the window of late
checks that new lost orders get, starting now.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# What the reconciler wrote on an order it concluded lost, from its first version to 0011.
LOST_REASON = "never reached the exchange: not found by client order id %"

_orders = sa.table(
    "orders",
    sa.column("state", sa.String()),
    sa.column("reason", sa.String()),
    sa.column("rejection", sa.String()),
    sa.column("late_checks", sa.Integer()),
    sa.column("next_check_at", tradewire.adapters.store.types.UTCDateTime()),
)


def upgrade() -> None:
    op.get_bind().execute(
        sa.update(_orders)
        .where(
            _orders.c.state == "rejected",
            _orders.c.rejection.is_(None),
            _orders.c.reason.like(LOST_REASON),
        )
        .values(rejection="lost", late_checks=0, next_check_at=datetime.now(UTC))
    )


def downgrade() -> None:
    # Data only: 0012 reads the marks as they are (an order concluded lost, looked up a few times).
    pass
