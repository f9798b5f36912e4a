"""subscriptions: sizing parameters (cap, stop distance, Kelly fallback); orders: how they were sized

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.add_column(sa.Column("sizing_params", sa.JSON(), nullable=True))
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("sizing_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("sizing_note")
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.drop_column("sizing_params")
