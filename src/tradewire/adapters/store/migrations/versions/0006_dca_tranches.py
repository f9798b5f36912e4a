"""DCA: subscriptions' tranche plan, positions' phase and pending tranches, orders' tranche number

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.add_column(sa.Column("dca", sa.JSON(), nullable=True))
    with op.batch_alter_table("positions") as batch_op:
        batch_op.add_column(sa.Column("phase", sa.String(12), nullable=False, server_default="OPEN"))
        batch_op.add_column(sa.Column("tranches", sa.JSON(), nullable=True))
    op.execute("UPDATE positions SET phase = 'CLOSED' WHERE status = 'closed'")
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("tranche", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_column("tranche")
    with op.batch_alter_table("positions") as batch_op:
        batch_op.drop_column("tranches")
        batch_op.drop_column("phase")
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.drop_column("dca")
