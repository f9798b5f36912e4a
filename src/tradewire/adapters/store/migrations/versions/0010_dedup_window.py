"""strategies: their own duplicate window; signals: the content key the window compares

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("strategies") as batch_op:
        batch_op.add_column(sa.Column("dedup_window_s", sa.Integer(), nullable=False, server_default="60"))
    with op.batch_alter_table("signals") as batch_op:
        batch_op.add_column(sa.Column("content_key", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_signals_strategy_content", ["strategy_id", "content_key", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("signals") as batch_op:
        batch_op.drop_index("ix_signals_strategy_content")
        batch_op.drop_column("content_key")
    with op.batch_alter_table("strategies") as batch_op:
        batch_op.drop_column("dedup_window_s")
