"""AI chart analysis: endpoints (the key write-only), prompts (versioned), analyses."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from tradewire.api.fields import OneLine
from tradewire.api.schemas.common import Money, Strict

_URL = re.compile(r"^https?://[^\s\x00-\x1f\x7f]{1,290}$")
PROMPT_CHARS = 8_000


class AiEndpointCreate(Strict):
    name: Annotated[str, OneLine] = Field(min_length=1, max_length=64)
    base_url: str = Field(
        min_length=8,
        max_length=300,
        description="an OpenAI-compatible API's base, e.g. https://api.openai.com/v1 (https to a public "
        "host unless the server allows private addresses)",
    )
    model: Annotated[str, OneLine] = Field(min_length=1, max_length=128, description="e.g. gpt-4o-mini")
    api_key: Annotated[str, OneLine] = Field(
        min_length=1, max_length=512, repr=False, description="kept encrypted, never returned"
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not _URL.fullmatch(value):
            raise ValueError("must be an http(s) URL without spaces")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - a bad port raises here
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if not parts.hostname:
            raise ValueError("has no host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials (the key goes in api_key)")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")


class AiEndpointOut(BaseModel):
    id: int
    name: str
    base_url: str
    model: str
    has_api_key: bool = True
    created_at: datetime


class PromptCreate(Strict):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    text: str = Field(min_length=1, max_length=PROMPT_CHARS, description="what the model is asked")


class PromptOut(BaseModel):
    id: int
    name: str
    version: int = Field(description="1 for a new name; each create with a known name adds one")
    text: str
    created_at: datetime


class AnalysisOut(BaseModel):
    id: int
    strategy_id: int
    symbol: str
    timeframe: str
    candle_at: datetime = Field(description="the analysed candle's open time")
    status: str = Field(description="pending, ok, failed or skipped (the day's token budget was spent)")
    reason: str | None = Field(description="why it failed or was skipped; for ok, whether it was traded")
    prompt_id: int | None
    prompt_version: int
    endpoint_id: int | None
    recommendation: str | None
    entry: Money | None
    stop_loss: Money | None
    take_profit: Money | None
    setup_quality: Money | None
    risk_reward_ratio: Money | None
    market_environment: Money | None
    confidence: Money | None = Field(description="0.40 setup + 0.25 risk/reward + 0.35 environment")
    reasoning: str | None
    raw_answer: str | None
    tokens: int
    signal_id: int | None = Field(description="the signal it became, if traded")
    has_image: bool
    created_at: datetime
    finished_at: datetime | None
