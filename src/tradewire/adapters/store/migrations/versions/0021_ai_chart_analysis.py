"""AI chart analysis: users' endpoints (keys sealed), versioned prompts, and one analysis per strategy,
symbol, timeframe and candle

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ai_endpoints",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("base_url", sa.String(length=300), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("api_key_enc", sa.Text(), nullable=True),
        sa.Column("created_at", tradewire.adapters.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ai_endpoints_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_endpoints")),
        sa.UniqueConstraint("user_id", "name", name="uq_ai_endpoints_user_name"),
    )
    op.create_table(
        "ai_prompts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", tradewire.adapters.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ai_prompts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_prompts")),
        sa.UniqueConstraint("user_id", "name", "version", name="uq_ai_prompts_user_name_version"),
    )
    op.create_table(
        "ai_analyses",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("strategy_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("candle_ts", sa.BigInteger(), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("prompt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("prompt_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("raw_answer", sa.Text(), nullable=True),
        sa.Column("recommendation", sa.String(length=8), nullable=True),
        sa.Column("entry", tradewire.adapters.store.types.Money(length=64), nullable=True),
        sa.Column("stop_loss", tradewire.adapters.store.types.Money(length=64), nullable=True),
        sa.Column("take_profit", tradewire.adapters.store.types.Money(length=64), nullable=True),
        sa.Column("setup_quality", tradewire.adapters.store.types.Money(length=64), nullable=True),
        sa.Column("risk_reward_ratio", tradewire.adapters.store.types.Money(length=64), nullable=True),
        sa.Column("market_environment", tradewire.adapters.store.types.Money(length=64), nullable=True),
        sa.Column("confidence", tradewire.adapters.store.types.Money(length=64), nullable=True),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column("tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("signal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", tradewire.adapters.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", tradewire.adapters.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["ai_endpoints.id"],
            name=op.f("fk_ai_analyses_endpoint_id_ai_endpoints"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["ai_prompts.id"],
            name=op.f("fk_ai_analyses_prompt_id_ai_prompts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signals.id"], name=op.f("fk_ai_analyses_signal_id_signals"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["strategy_id"],
            ["strategies.id"],
            name=op.f("fk_ai_analyses_strategy_id_strategies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_analyses")),
        sa.UniqueConstraint("strategy_id", "symbol", "timeframe", "candle_ts", name="uq_ai_analyses_candle"),
    )
    with op.batch_alter_table("ai_analyses", schema=None) as batch_op:
        batch_op.create_index("ix_ai_analyses_strategy_created", ["strategy_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ai_analyses", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_analyses_strategy_created")

    op.drop_table("ai_analyses")
    op.drop_table("ai_prompts")
    op.drop_table("ai_endpoints")
