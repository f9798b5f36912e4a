"""Risk alerts told once: a daily loss limit reached per account and day, a drawdown warning per
subscription and peak

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = tradewire.adapters.store.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "risk_notices",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("period", sa.String(length=80), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_risk_notices_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("kind", "subject_id", "period", name=op.f("pk_risk_notices")),
    )
    with op.batch_alter_table("risk_notices") as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_notices_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("risk_notices") as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_notices_user_id"))
    op.drop_table("risk_notices")
