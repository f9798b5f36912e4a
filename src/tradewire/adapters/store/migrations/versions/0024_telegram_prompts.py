"""Telegram: the confirm-before-trade questions asked in chats (their message, to edit with the outcome)

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = tradewire.adapters.store.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "telegram_prompts",
        sa.Column("intent_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_at", _TIME(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["intent_id"],
            ["execution_intents.id"],
            name=op.f("fk_telegram_prompts_intent_id_execution_intents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_telegram_prompts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("intent_id", name=op.f("pk_telegram_prompts")),
    )
    with op.batch_alter_table("telegram_prompts") as batch_op:
        batch_op.create_index(batch_op.f("ix_telegram_prompts_sent_at"), ["sent_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("telegram_prompts") as batch_op:
        batch_op.drop_index(batch_op.f("ix_telegram_prompts_sent_at"))
    op.drop_table("telegram_prompts")
