"""The tables of signing in (sessions, refresh tokens, failed sign-ins, known addresses, TOTP secrets)
and the platform's trading state, in the schema's metadata (tables.py loads them)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from tradewire.adapters.store.tables import _ref, metadata
from tradewire.adapters.store.types import UTCDateTime

# Sign-in sessions: one per sign-in; access tokens name their session, so revoking it ends them.
sign_in_sessions = Table(
    "sign_in_sessions",
    metadata,
    Column("id", String(32), primary_key=True),  # random, never a counter
    _ref("user_id", "users", nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
    Column("revoked_reason", String(64)),  # signed out | password changed | refresh token reused
)

# A session's refresh tokens, as SHA-256 digests: each is used once and replaced (rotation); used ones
# are kept until they expire, so a second use is recognised.
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "session_id",
        String(32),
        ForeignKey("sign_in_sessions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
)

# Failed sign-ins per address ("address:<ip>") and per account ("account:<username>", whether or not
# the user exists): until when attempts are refused unchecked. Rows are dropped once forgotten.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", UTCDateTime(), nullable=False, index=True),
    Column("blocked_until", UTCDateTime(), nullable=False),
)

# Addresses a user signed in from: an account locked by others' failures stays open from these.
sign_in_addresses = Table(
    "sign_in_addresses",
    metadata,
    _ref("user_id", "users", primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("last_success_at", UTCDateTime(), nullable=False),
)

# Users' TOTP secrets (two-factor sign-in), encrypted like API keys; on once confirmed with a code.
totp_secrets = Table(
    "totp_secrets",
    metadata,
    _ref("user_id", "users", primary_key=True),
    Column("secret_enc", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("confirmed_at", UTCDateTime()),
    Column("last_step", BigInteger),  # the last 30 s step whose code was accepted: codes work once
)

# The platform's trading state (one row, id 1; none: ACTIVE), combined with every subscription's own.
platform_trading = Table(
    "platform_trading",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("trading_state", String(16), nullable=False),  # TradingState
    Column("reason", String(200)),
    Column("changed_by", String(64)),
    Column("changed_at", UTCDateTime()),
)
