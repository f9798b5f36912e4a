"""subscriptions: pre-trade risk limits; positions indexed by account and status for the risk checks

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.add_column(sa.Column("risk_limits", sa.JSON(), nullable=True))
    op.create_index("ix_positions_account_status", "positions", ["account_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_positions_account_status", "positions")
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.drop_column("risk_limits")
