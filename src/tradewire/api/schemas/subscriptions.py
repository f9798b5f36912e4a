"""Subscriptions: an exchange account following a strategy."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from tradewire.api.fields import Amount, DbId
from tradewire.api.schemas.common import Money, Strict
from tradewire.api.schemas.settings import (
    CONFIRMATION_DOC,
    DRIFT_BOUNDS,
    DRIFT_DOC,
    MAX_PAIRS,
    TIMEOUT_BOUNDS,
    TIMEOUT_DOC,
    DcaIn,
    EntryOrderIn,
    ExitRulesIn,
    PairFilter,
    RiskLimitsIn,
    SizingParamsIn,
    check_sizing,
)
from tradewire.domain.confirmation import DEFAULT_MAX_DRIFT_PCT, DEFAULT_TIMEOUT_S, ConfirmVia
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.risk import TradingState
from tradewire.domain.sizing import SizingMode


class SubscriptionCreate(Strict):
    strategy_id: DbId
    account_id: DbId
    pairs: PairFilter = Field(
        default=None, max_length=MAX_PAIRS, description="unified symbols; null for every pair"
    )
    sizing_mode: SizingMode = SizingMode.FIXED_QUOTE
    sizing_value: Amount = Field(default=Decimal(100), gt=0)
    sizing_params: SizingParamsIn | None = None
    risk_limits: RiskLimitsIn | None = None
    exit_rules: ExitRulesIn | None = None
    dca: DcaIn | None = None
    entry_order: EntryOrderIn | None = None
    confirmation: ConfirmVia = Field(default=ConfirmVia.NONE, description=CONFIRMATION_DOC)
    confirmation_timeout_s: int = Field(default=DEFAULT_TIMEOUT_S, description=TIMEOUT_DOC, **TIMEOUT_BOUNDS)
    max_confirm_drift_pct: Amount = Field(
        default=DEFAULT_MAX_DRIFT_PCT, description=DRIFT_DOC, **DRIFT_BOUNDS
    )

    @model_validator(mode="after")
    def _sizing(self) -> SubscriptionCreate:
        check_sizing(self.sizing_mode, self.sizing_value, self.sizing_params)
        return self


class SubscriptionUpdate(Strict):
    status: Literal["ACTIVE", "PAUSED", "CANCELLED"] | None = None
    pairs: PairFilter = Field(default=None, max_length=MAX_PAIRS)
    all_pairs: bool | None = Field(default=None, description="true to drop the pair filter")
    sizing_mode: SizingMode | None = None
    sizing_value: Amount | None = Field(default=None, gt=0)
    sizing_params: SizingParamsIn | None = None
    risk_limits: RiskLimitsIn | None = None
    exit_rules: ExitRulesIn | None = None
    dca: DcaIn | None = None
    no_dca: bool | None = Field(default=None, description="true: one entry per position again")
    entry_order: EntryOrderIn | None = None
    trading_state: TradingState | None = Field(
        default=None,
        description=(
            "ACTIVE resumes (and restarts the drawdown from here); REDUCING: exits only (no entries, no DCA "
            "tranches); HALTED: no orders at all, not even stop losses or a manual close"
        ),
    )
    confirmation: ConfirmVia | None = Field(default=None, description=CONFIRMATION_DOC)
    confirmation_timeout_s: int | None = Field(default=None, description=TIMEOUT_DOC, **TIMEOUT_BOUNDS)
    max_confirm_drift_pct: Amount | None = Field(default=None, description=DRIFT_DOC, **DRIFT_BOUNDS)

    @model_validator(mode="after")
    def _sizing(self) -> SubscriptionUpdate:
        if (self.sizing_mode is None) != (self.sizing_value is None):
            raise ValueError("give sizing_mode and sizing_value together")
        if self.sizing_mode is not None and self.sizing_value is not None:
            check_sizing(self.sizing_mode, self.sizing_value, self.sizing_params)
        if self.pairs is not None and self.all_pairs:
            raise ValueError("give either pairs or all_pairs, not both")
        return self


class SubscriptionOut(BaseModel):
    id: int
    strategy_id: int
    strategy_slug: str
    account_id: int
    account_name: str
    mode: str
    status: SubscriptionStatus
    pairs: list[str] | None
    sizing_mode: SizingMode
    sizing_value: Money
    sizing_params: dict[str, Any] | None = None
    risk_limits: dict[str, Any] | None = None
    exit_rules: dict[str, Any] | None = None
    dca: dict[str, Any] | None = None
    entry_order: dict[str, Any] | None = None
    trading_state: TradingState = TradingState.ACTIVE
    state_reason: str | None = None
    pnl_total: Money = Decimal(0)
    pnl_peak: Money = Decimal(0)
    created_at: datetime
    updated_at: datetime
    confirmation: ConfirmVia = Field(default=ConfirmVia.NONE, description=CONFIRMATION_DOC)
    confirmation_timeout_s: int = DEFAULT_TIMEOUT_S
    max_confirm_drift_pct: Money = DEFAULT_MAX_DRIFT_PCT
