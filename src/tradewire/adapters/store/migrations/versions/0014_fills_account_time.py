"""fills: an index by account and execution time

The tax report reads an account's fills in time order, a page at a time (keyset on executed_at, id);
without an index every page sorted all of the account's fills again. Its first column also serves
fills.account_id's foreign key (deleting an account no longer scans every fill on PostgreSQL).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_fills_account_time", "fills", ["account_id", "executed_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_fills_account_time", table_name="fills")
