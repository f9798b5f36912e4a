"""Bots: a personal built-in strategy with its subscription."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from tradewire.api.fields import Amount, DbId, OneLine
from tradewire.api.schemas.common import Strict
from tradewire.api.schemas.settings import (
    CONFIRMATION_DOC,
    DRIFT_BOUNDS,
    DRIFT_DOC,
    TIMEOUT_BOUNDS,
    TIMEOUT_DOC,
    DcaIn,
    ExitRulesIn,
    RiskLimitsIn,
    check_sizing,
)
from tradewire.domain.confirmation import DEFAULT_MAX_DRIFT_PCT, DEFAULT_TIMEOUT_S, ConfirmVia
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.sizing import SizingMode
from tradewire.domain.strategies.definition import BotSettings, StrategyDefinition


class BotCreate(Strict):
    """A personal strategy the server runs for its owner, on the owner's paper account by default."""

    name: Annotated[str, OneLine] = Field(min_length=1, max_length=128)
    definition: StrategyDefinition
    account_id: DbId | None = Field(default=None, description="default: your paper account")
    sizing_mode: SizingMode = SizingMode.FIXED_QUOTE
    sizing_value: Amount = Field(default=Decimal(100), gt=0)
    risk_limits: RiskLimitsIn | None = None
    exit_rules: ExitRulesIn | None = None
    dca: DcaIn | None = None
    # Confirm before trade; change it later on the bot's subscription (PATCH /subscriptions/{id}).
    # Not the definition's `confirmation` (multi-timeframe) nor its bot `confirmation_minutes`.
    confirmation: ConfirmVia = Field(default=ConfirmVia.NONE, description=CONFIRMATION_DOC)
    confirmation_timeout_s: int = Field(default=DEFAULT_TIMEOUT_S, description=TIMEOUT_DOC, **TIMEOUT_BOUNDS)
    max_confirm_drift_pct: Amount = Field(
        default=DEFAULT_MAX_DRIFT_PCT, description=DRIFT_DOC, **DRIFT_BOUNDS
    )

    @model_validator(mode="after")
    def _bot(self) -> BotCreate:
        if self.definition.bot is None:
            self.definition = self.definition.model_copy(update={"bot": BotSettings()})
        check_sizing(self.sizing_mode, self.sizing_value, None)
        return self


class BotUpdate(Strict):
    definition: StrategyDefinition = Field(description="the bot's new definition; applies without a restart")


class BotOut(BaseModel):
    id: int
    name: str
    definition: dict[str, Any]
    running: bool
    status: SubscriptionStatus = Field(
        description="its subscription's status: ACTIVE while it runs, PAUSED stopped"
    )
    subscription_id: int
    account_id: int
    mode: str
    created_at: datetime
