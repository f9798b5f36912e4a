"""The tables of AI chart analysis (endpoints, prompts, analyses), in the schema's metadata; kept
apart from tables.py, which re-exports them, to keep that module readable."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text, UniqueConstraint

from tradewire.adapters.store.tables import _id, _ref, metadata
from tradewire.adapters.store.types import Money, UTCDateTime

ai_endpoints = Table(
    "ai_endpoints",
    metadata,
    _id(),
    _ref("user_id", "users", nullable=False),
    Column("name", String(64), nullable=False),
    Column("base_url", String(300), nullable=False),  # an OpenAI-compatible API's base, e.g. .../v1
    Column("model", String(128), nullable=False),
    Column("api_key_enc", Text),  # AES-256-GCM (secrets box), context ai_endpoint:<id>:api_key
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("user_id", "name", name="uq_ai_endpoints_user_name"),
)

ai_prompts = Table(
    "ai_prompts",
    metadata,
    _id(),
    _ref("user_id", "users", nullable=False),
    Column("name", String(64), nullable=False),
    Column("version", Integer, nullable=False),  # 1, 2, ... per user and name; never changed
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("user_id", "name", "version", name="uq_ai_prompts_user_name_version"),
)

ai_analyses = Table(
    "ai_analyses",
    metadata,
    _id(),
    _ref("strategy_id", "strategies", nullable=False),
    Column("symbol", String(32), nullable=False),
    Column("timeframe", String(8), nullable=False),
    Column("candle_ts", BigInteger, nullable=False),  # the analysed candle's open time, ms
    _ref("endpoint_id", "ai_endpoints", ondelete="SET NULL"),
    _ref("prompt_id", "ai_prompts", ondelete="SET NULL"),
    Column("prompt_version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # pending | ok | failed | skipped
    Column("reason", String(500)),
    Column("image", LargeBinary),  # the PNG the model read
    Column("raw_answer", Text),  # bounded (domain.ai.proposal.MAX_ANSWER_CHARS)
    Column("recommendation", String(8)),
    Column("entry", Money()),
    Column("stop_loss", Money()),
    Column("take_profit", Money()),
    Column("setup_quality", Money()),
    Column("risk_reward_ratio", Money()),
    Column("market_environment", Money()),
    Column("confidence", Money()),
    Column("reasoning", Text),
    Column("tokens", Integer, nullable=False, server_default="0"),
    _ref("signal_id", "signals", ondelete="SET NULL"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    # One analysis per strategy, symbol, timeframe and candle: a restart or a second process that
    # reaches the same candle finds it taken and pays for nothing.
    UniqueConstraint("strategy_id", "symbol", "timeframe", "candle_ts", name="uq_ai_analyses_candle"),
    Index("ix_ai_analyses_strategy_created", "strategy_id", "created_at"),
)
