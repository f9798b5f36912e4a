"""The tables of the Telegram bot (linked chats, link codes, notification settings, daily summaries),
in the schema's metadata (tables.py loads them)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Integer, String, Table, Text

from tradewire.adapters.store.tables import _ref, metadata
from tradewire.adapters.store.types import UTCDateTime

# Telegram: one chat per user, its cursor in the user's events (notifications sent up to there), the
# one-time codes that link a chat (stored as SHA-256), and which notifications each user wants.
telegram_links = Table(
    "telegram_links",
    metadata,
    _ref("user_id", "users", primary_key=True),
    Column("chat_id", BigInteger, nullable=False, unique=True),
    Column("linked_at", UTCDateTime(), nullable=False),
    Column("last_event_id", BigInteger, nullable=False),  # the user's events up to here were handled
)

telegram_link_codes = Table(
    "telegram_link_codes",
    metadata,
    Column("digest", String(64), primary_key=True),
    _ref("user_id", "users", nullable=False, index=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime()),
)

notification_settings = Table(
    "notification_settings",
    metadata,
    _ref("user_id", "users", primary_key=True),
    Column("notice", String(32), primary_key=True),
    Column("enabled", Boolean, nullable=False),
)

# A user's daily summary on Telegram: the local hour and time zone it is sent at, and the local day it
# was last sent for (ISO date), so a day is summarised once.
telegram_summaries = Table(
    "telegram_summaries",
    metadata,
    _ref("user_id", "users", primary_key=True),
    Column("hour", Integer, nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("last_sent_on", String(10)),
)

# A confirm-before-trade question asked in a chat (a subscription with `confirmation: telegram`): the
# message its Confirm and Decline buttons are under and its text, so that the message can be edited to
# show what became of the entry. Kept two days (a question waits one at most).
telegram_prompts = Table(
    "telegram_prompts",
    metadata,
    _ref("intent_id", "execution_intents", primary_key=True),
    _ref("user_id", "users", nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("text", Text, nullable=False),
    Column("sent_at", UTCDateTime(), nullable=False, index=True),
)
