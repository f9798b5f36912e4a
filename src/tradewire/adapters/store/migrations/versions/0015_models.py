"""models: trained models users upload, with their content

The `lightgbm` strategy reads a model from this table: a LightGBM text model (bounded by the upload
limit) with its manifest, numbered 1, 2, ... per owner and symbol. The content is kept in the
database, so backups hold it and every process reads the same models.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import tradewire.adapters.store.types

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("owner_id", _ID, nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("feature_set", sa.String(length=64), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", tradewire.adapters.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_models_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("owner_id", "symbol", "version", name="uq_models_owner_symbol_version"),
    )


def downgrade() -> None:
    op.drop_table("models")
