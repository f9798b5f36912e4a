"""Confirm before trade: a subscription's confirmation settings; an intent's proposal, deadline and
confirmation; intent statuses up to 32 characters ('awaiting_confirmation')

SQLite keeps the status column as it is: it does not enforce a VARCHAR's length, and changing the
type there would rebuild execution_intents under the foreign keys of orders and the execution log.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TIME = tradewire.adapters.store.types.UTCDateTime
_AWAITING = "status = 'awaiting_confirmation'"


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.add_column(
            sa.Column("confirmation", sa.String(length=16), server_default="none", nullable=False)
        )
        batch_op.add_column(
            sa.Column("confirmation_timeout_s", sa.Integer(), server_default="300", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "max_confirm_drift_pct",
                tradewire.adapters.store.types.Money(length=64),
                server_default="1",
                nullable=False,
            )
        )
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "execution_intents",
            "status",
            existing_type=sa.String(length=16),
            type_=sa.String(length=32),
            existing_nullable=False,
        )
    with op.batch_alter_table("execution_intents") as batch_op:
        batch_op.add_column(sa.Column("proposal", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("confirm_by", _TIME(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("confirmed_at", _TIME(timezone=True), nullable=True))
    op.create_index(
        "ix_execution_intents_awaiting",
        "execution_intents",
        ["confirm_by"],
        postgresql_where=sa.text(_AWAITING),
        sqlite_where=sa.text(_AWAITING),
    )


def downgrade() -> None:
    op.drop_index("ix_execution_intents_awaiting", table_name="execution_intents")
    with op.batch_alter_table("execution_intents") as batch_op:
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("confirm_by")
        batch_op.drop_column("proposal")
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.drop_column("max_confirm_drift_pct")
        batch_op.drop_column("confirmation_timeout_s")
        batch_op.drop_column("confirmation")
