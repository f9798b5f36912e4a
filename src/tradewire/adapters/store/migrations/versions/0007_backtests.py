"""Backtests run by the server, and strategies' indicator definition

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("strategies") as batch_op:
        batch_op.add_column(sa.Column("definition", sa.JSON(), nullable=True))
    op.create_table(
        "backtests",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("strategy_id", _ID, nullable=True),
        sa.Column("strategy_name", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", tradewire.adapters.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tradewire.adapters.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", tradewire.adapters.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_backtests_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["strategy_id"],
            ["strategies.id"],
            name=op.f("fk_backtests_strategy_id_strategies"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtests")),
    )
    with op.batch_alter_table("backtests") as batch_op:
        batch_op.create_index("ix_backtests_strategy", ["strategy_id", "id"], unique=False)
        batch_op.create_index("ix_backtests_user", ["user_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("backtests") as batch_op:
        batch_op.drop_index("ix_backtests_user")
        batch_op.drop_index("ix_backtests_strategy")
    op.drop_table("backtests")
    with op.batch_alter_table("strategies") as batch_op:
        batch_op.drop_column("definition")
