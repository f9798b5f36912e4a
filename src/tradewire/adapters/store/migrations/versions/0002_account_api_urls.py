"""exchange accounts: per-account API base-URL overrides

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_accounts") as batch_op:
        batch_op.add_column(sa.Column("api_urls", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_accounts") as batch_op:
        batch_op.drop_column("api_urls")
