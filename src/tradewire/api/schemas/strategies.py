"""Strategies, their webhook passphrase and their per-pair records."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from tradewire.api.fields import OneLine
from tradewire.api.schemas.common import SLUG, SYMBOL, Money, Strict
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.domain.track_record import PairStatus

DEDUP_WINDOW_MAX_S = 86_400


DEDUP_WINDOW_DOC = (
    "seconds: a webhook alert without a time field is a duplicate of an identical alert that arrived "
    "at most this long before it (alerts with a time field are duplicates forever)"
)


class StrategyCreate(Strict):
    name: Annotated[str, OneLine] = Field(min_length=1, max_length=128)
    slug: str | None = Field(default=None, description="webhook slug; derived from the name if absent")
    description: str = Field(default="", max_length=4000)
    is_public: bool = False
    passphrase: str | None = Field(
        default=None, min_length=8, max_length=256, description="generated when absent", repr=False
    )
    definition: StrategyDefinition | None = Field(
        default=None, description="a built-in strategy the server runs; absent for a TradingView webhook"
    )
    dedup_window_s: int = Field(default=60, ge=1, le=DEDUP_WINDOW_MAX_S, description=DEDUP_WINDOW_DOC)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not SLUG.match(value):
            raise ValueError(
                "slug must be 3-64 characters of a-z, 0-9 and '-', not starting or ending with '-'"
            )
        return value


class StrategyUpdate(Strict):
    name: Annotated[str, OneLine] | None = Field(default=None, min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=4000)
    is_public: bool | None = None
    definition: StrategyDefinition | None = Field(default=None, description="applies without a restart")
    dedup_window_s: int | None = Field(
        default=None, ge=1, le=DEDUP_WINDOW_MAX_S, description=DEDUP_WINDOW_DOC
    )


class StrategyOut(BaseModel):
    id: int
    slug: str
    name: str
    description: str
    source: str
    is_public: bool
    owner: str
    is_owner: bool
    subscriber_count: int
    created_at: datetime
    webhook_url: str | None = None
    definition: dict[str, Any] | None = Field(
        default=None,
        description="a built-in strategy's indicators and parameters: shown to its owner only "
        "(others see `source` 'indicator' and its signals)",
    )
    dedup_window_s: int = Field(description=DEDUP_WINDOW_DOC)


class PairOut(BaseModel):
    """A strategy's own results on one pair (from its signals) and the pair's blacklist status."""

    symbol: str
    trades: int
    wins: int
    win_rate_pct: Money
    return_pct: Money = Field(description="compounded over every closed trade, gross of fees")
    consecutive_losses: int
    open: bool = Field(description="the strategy is in a trade on this pair now")
    status: PairStatus
    status_reason: str | None
    status_until: datetime | None = Field(description="blacklisted: next review; whitelisted: expiry")
    manual: bool


class PairOverride(Strict):
    symbol: str = Field(pattern=SYMBOL.pattern, description="unified symbol, e.g. ETH/USDT")
    status: PairStatus = Field(description="BLACKLISTED, WHITELISTED (30 days) or NORMAL")


class StrategyCreated(StrategyOut):
    passphrase: str | None = Field(
        default=None, description="webhook strategies: shown once, keep it (it is stored hashed)"
    )


class PassphraseOut(BaseModel):
    passphrase: str
