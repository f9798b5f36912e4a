"""Roles: users.role (existing users become providers: they publish strategies today) and
users.disabled_at; the platform's trading state

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_TIME = tradewire.adapters.store.types.UTCDateTime


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), server_default="provider", nullable=False)
        )
        batch_op.add_column(sa.Column("disabled_at", _TIME(timezone=True), nullable=True))
    op.create_table(
        "platform_trading",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("trading_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("changed_by", sa.String(length=64), nullable=True),
        sa.Column("changed_at", _TIME(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_trading")),
    )
    # The row exists from the start: orders being claimed hold it shared, so setting a halt waits for
    # them (adapters/store/platform.py).
    op.execute("INSERT INTO platform_trading (id, trading_state) VALUES (1, 'ACTIVE')")


def downgrade() -> None:
    op.drop_table("platform_trading")
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+ and PostgreSQL): a batch operation would
    # rebuild `users` on SQLite, and dropping the old table under its foreign keys deletes every row
    # that refers to a user (orders, positions, ...).
    op.execute("ALTER TABLE users DROP COLUMN disabled_at")
    op.execute("ALTER TABLE users DROP COLUMN role")
