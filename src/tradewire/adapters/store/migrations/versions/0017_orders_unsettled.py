"""orders: a partial index of the unsettled orders by subscription and symbol

Before it decides an intent the executor asks whether an earlier order of the same subscription and
symbol is still on its way (an exit must not be sized on the position before a buy that has not
filled yet). Unsettled orders are few; without this index each page of decisions scanned every order.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_WHERE = "state IN ('new', 'submitted', 'open', 'partially_filled')"


def upgrade() -> None:
    op.create_index(
        "ix_orders_unsettled",
        "orders",
        ["subscription_id", "symbol"],
        postgresql_where=sa.text(_WHERE),
        sqlite_where=sa.text(_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_orders_unsettled", table_name="orders")
