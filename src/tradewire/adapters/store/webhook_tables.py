"""The table of outgoing webhooks, in the schema's metadata (tables.py loads it)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, String, Table, Text

from tradewire.adapters.store.tables import _id, _ref, metadata
from tradewire.adapters.store.types import UTCDateTime

# A user's outgoing webhook: its address and body kind, which notices it gets (JSON: those set, the
# others are on), its signing secret sealed by the secrets box (context "webhook:<id>:secret"), and its
# cursor in the user's events (delivered or skipped up to there).
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    _id(),
    _ref("user_id", "users", nullable=False, index=True),
    Column("url", String(2048), nullable=False),
    Column("kind", String(16), nullable=False),  # domain.webhooks.HookKind
    Column("notices", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("secret_enc", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_event_id", BigInteger, nullable=False),
)
