"""Risk engine: exit automation on positions, trading state and results per subscription, the
strategies' own track record per pair (losing-pair blacklist), daily results per account

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Money = tradewire.adapters.store.types.Money
UTC = tradewire.adapters.store.types.UTCDateTime
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.add_column(sa.Column("exit_rules", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("trading_state", sa.String(16), nullable=False, server_default="ACTIVE")
        )
        batch_op.add_column(sa.Column("state_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("pnl_total", Money(length=64), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("pnl_peak", Money(length=64), nullable=False, server_default="0"))
    with op.batch_alter_table("strategies") as batch_op:
        batch_op.add_column(sa.Column("track_index", Money(length=64), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("track_peak", Money(length=64), nullable=False, server_default="1"))
    with op.batch_alter_table("positions") as batch_op:
        for name in ("stop_loss", "take_profit", "trailing_pct", "trailing_activation_pct", "best_price"):
            batch_op.add_column(sa.Column(name, Money(length=64), nullable=True))
        batch_op.add_column(sa.Column("deadline_at", UTC(timezone=True), nullable=True))
    op.create_index(
        "ix_positions_subscription_symbol", "positions", ["subscription_id", "symbol", "updated_at"]
    )
    op.create_index("ix_positions_updated", "positions", ["updated_at"])
    with op.batch_alter_table("orders") as batch_op:
        batch_op.add_column(sa.Column("position_id", Id, nullable=True))
        batch_op.add_column(sa.Column("close_reason", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("exit_plan", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            "fk_orders_position_id_positions", "positions", ["position_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "strategy_pairs",
        sa.Column("strategy_id", Id, nullable=False),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("trades", sa.Integer(), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("gross_return_pct", Money(length=64), nullable=False),
        sa.Column("window_trades", sa.Integer(), nullable=False),
        sa.Column("window_return_pct", Money(length=64), nullable=False),
        sa.Column("consecutive_losses", sa.Integer(), nullable=False),
        sa.Column("open_entry", Money(length=64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("status_until", UTC(timezone=True), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["strategy_id"],
            ["strategies.id"],
            name="fk_strategy_pairs_strategy_id_strategies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("strategy_id", "symbol", name="pk_strategy_pairs"),
    )
    op.create_table(
        "account_daily_pnl",
        sa.Column("account_id", Id, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("pnl", Money(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["exchange_accounts.id"],
            name="fk_account_daily_pnl_account_id_exchange_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "day", name="pk_account_daily_pnl"),
    )


def downgrade() -> None:
    op.drop_table("account_daily_pnl")
    op.drop_table("strategy_pairs")
    with op.batch_alter_table("orders") as batch_op:
        batch_op.drop_constraint("fk_orders_position_id_positions", type_="foreignkey")
        batch_op.drop_column("exit_plan")
        batch_op.drop_column("close_reason")
        batch_op.drop_column("position_id")
    op.drop_index("ix_positions_updated", "positions")
    op.drop_index("ix_positions_subscription_symbol", "positions")
    with op.batch_alter_table("positions") as batch_op:
        for name in (
            "deadline_at",
            "best_price",
            "trailing_activation_pct",
            "trailing_pct",
            "take_profit",
            "stop_loss",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("strategies") as batch_op:
        batch_op.drop_column("track_peak")
        batch_op.drop_column("track_index")
    with op.batch_alter_table("subscriptions") as batch_op:
        for name in ("pnl_peak", "pnl_total", "state_reason", "trading_state", "exit_rules"):
            batch_op.drop_column(name)
