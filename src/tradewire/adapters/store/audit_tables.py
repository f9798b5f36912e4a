"""The audit log's tables (domain/audit.py), on the metadata of tables.py (kept apart: that module is
at its size limit). Entries have no foreign keys: removing a user must never remove their trail.

Triggers (migration 0028, not declared here) refuse any change or removal of an entry, and let the
head only move forward one entry at a time."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from tradewire.adapters.store.tables import metadata
from tradewire.adapters.store.types import UTCDateTime
from tradewire.domain.audit import (
    ADDRESS_MAX,
    CLIENT_MAX,
    HASH_LENGTH,
    TARGET_TYPE_MAX,
    USERNAME_MAX,
)

# One row per entry, numbered 1, 2, 3 ... by the appender (never autoincrement: numbers have no gaps).
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("user_id", BigInteger),  # None: a sign-in attempt for an unknown name, the command line
    Column("username", String(USERNAME_MAX), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target_type", String(TARGET_TYPE_MAX)),
    Column("target_id", BigInteger),
    Column("detail", Text, nullable=False),  # canonical JSON
    Column("address", String(ADDRESS_MAX), nullable=False),
    Column("client", String(CLIENT_MAX), nullable=False),
    Column("prev_hash", String(HASH_LENGTH), nullable=False),
    Column("hash", String(HASH_LENGTH), nullable=False),
    Index("ix_audit_log_user_id_seq", "user_id", "seq"),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_target", "target_type", "target_id", "seq"),  # a user's trail: actions on them
)

# The chain head: one row (id 1, written by the first append), the newest entry's number and hash. An
# append locks it (FOR UPDATE on PostgreSQL; SQLite's write transactions are serialised anyway), so
# appends form one line; verify compares the log's end with it, so removing the newest entries is
# found too.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(HASH_LENGTH), nullable=False),
)
