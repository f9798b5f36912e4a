"""events: the live channel's outbox, numbered per user (event_seq holds each user's last number)

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("ts", tradewire.adapters.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_ts", "events", ["ts"], unique=False)
    op.create_table(
        "event_seq",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_event_seq")),
    )


def downgrade() -> None:
    op.drop_table("event_seq")
    op.drop_index("ix_events_ts", table_name="events")
    op.drop_table("events")
