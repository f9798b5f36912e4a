"""Bots: a personal built-in strategy with its subscription."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from tradewire.api.fields import Amount, DbId, OneLine
from tradewire.api.schemas.common import Strict
from tradewire.api.schemas.settings import (
    DcaIn,
    ExitRulesIn,
    RiskLimitsIn,
    check_sizing,
)
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
    subscription_id: int
    account_id: int
    mode: str
    created_at: datetime
