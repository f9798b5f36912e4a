"""The paper market's prices shared between processes (a worker writes, API processes read)

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_prices",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("price", tradewire.adapters.store.types.Money(), nullable=False),
        sa.Column("source", sa.String(length=200), server_default="", nullable=False),
        sa.Column("updated_at", tradewire.adapters.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_paper_prices")),
    )


def downgrade() -> None:
    op.drop_table("paper_prices")
