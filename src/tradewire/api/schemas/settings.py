"""A subscription's settings as requests give them: sizing, risk limits, exits, DCA, entry orders."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, model_validator

from tradewire.api.fields import Amount
from tradewire.api.schemas.common import SYMBOL, Strict
from tradewire.domain.confirmation import MAX_DRIFT_PCT, TradeConfirmation
from tradewire.domain.confirmation import MAX_TIMEOUT_S as MAX_CONFIRM_TIMEOUT_S
from tradewire.domain.confirmation import MIN_TIMEOUT_S as MIN_CONFIRM_TIMEOUT_S
from tradewire.domain.entry_order import MAX_TIMEOUT_S, EntryKind, EntryOrder
from tradewire.domain.exits import ExitRules
from tradewire.domain.members import SubscriptionSettings
from tradewire.domain.risk import RiskLimits
from tradewire.domain.sizing import Sizing, SizingMode, SizingParams
from tradewire.domain.tranches import DcaMode, DcaPlan

MAX_PAIRS = 500  # a subscription's pair filter (an exchange lists a few thousand at most)


class SizingParamsIn(Strict):
    """Beyond the mode's own value: the cap on every entry, the stop distance risk sizing divides by,
    and Kelly's fallback."""

    max_position_pct: Amount = Field(default=Decimal(20), gt=0, le=100, description="cap, % of equity")
    stop_loss_pct: Amount | None = Field(default=None, gt=0, lt=100, description="% below entry")
    risk_pct: Amount = Field(default=Decimal(1), gt=0, le=100, description="Kelly's fallback risk, %")
    min_trades_for_kelly: int = Field(default=20, ge=1, le=100_000)

    def domain(self) -> SizingParams:
        return SizingParams(**self.model_dump())


class RiskLimitsIn(Strict):
    """Limits on new entries (exits are never blocked by them). Omitted fields take their defaults."""

    max_positions_per_strategy: int = Field(default=20, ge=1, le=10_000)
    max_positions_total: int = Field(default=50, ge=1, le=10_000)
    daily_loss_pct: Amount = Field(default=Decimal(5), gt=0, le=100)
    daily_loss_quote: Amount | None = Field(default=None, gt=0)
    close_on_daily_loss: bool = Field(default=False, description="close open positions once breached")
    max_position_quote: Amount | None = Field(default=None, gt=0, description="largest entry, quote")
    drawdown_warn_pct: Amount = Field(default=Decimal(15), gt=0, le=100)
    drawdown_pause_pct: Amount = Field(default=Decimal(25), gt=0, le=100)
    max_correlated: int = Field(default=3, ge=1, le=1_000)
    correlation_threshold: Amount = Field(default=Decimal("0.7"), gt=0, lt=1)
    cooldown_s: int = Field(default=900, ge=0, le=30 * 86_400, description="0 turns it off")
    min_risk_reward: Amount | None = Field(default=Decimal(1), gt=0, description="null turns it off")
    max_signal_age_s: int | None = Field(
        default=None, ge=1, le=365 * 86_400, description="older signals are stale"
    )

    @model_validator(mode="after")
    def _drawdown(self) -> RiskLimitsIn:
        if self.drawdown_warn_pct > self.drawdown_pause_pct:
            raise ValueError("drawdown_warn_pct must not exceed drawdown_pause_pct")
        return self

    def domain(self) -> RiskLimits:
        return RiskLimits(**self.model_dump())


class ExitRulesIn(Strict):
    """Automatic exits of every position the subscription opens; null (or omitted) turns one off."""

    stop_loss_pct: Amount | None = Field(default=None, gt=0, lt=100, description="% below entry")
    take_profit_pct: Amount | None = Field(default=None, gt=0, le=10_000, description="% above entry")
    trailing_pct: Amount | None = Field(default=None, gt=0, lt=100, description="% below the best price")
    trailing_activation_pct: Amount | None = Field(
        default=None, gt=0, le=10_000, description="profit % before the trailing stop starts"
    )
    max_hold_s: int | None = Field(
        default=None, ge=60, le=10 * 365 * 86_400, description="time limit, seconds"
    )

    @model_validator(mode="after")
    def _trailing(self) -> ExitRulesIn:
        if self.trailing_activation_pct is not None and self.trailing_pct is None:
            raise ValueError("trailing_activation_pct needs trailing_pct")
        return self

    def domain(self) -> ExitRules:
        return ExitRules(**self.model_dump())


class DcaIn(Strict):
    """Build each new position from several entries (tranches), `step_pct` apart from the first fill."""

    mode: DcaMode = Field(
        default=DcaMode.EQUAL,
        description="equal; pyramid_down (more as it falls); pyramid_up (less as it rises); adaptive",
    )
    tranches: int = Field(default=3, ge=2, le=10)
    step_pct: Amount = Field(default=Decimal(2), gt=0, lt=50)

    def domain(self) -> DcaPlan:
        try:
            return DcaPlan(self.mode, self.tranches, self.step_pct)
        except ValueError as exc:
            raise ValueError(str(exc)) from exc

    @model_validator(mode="after")
    def _valid(self) -> DcaIn:
        self.domain()
        return self


class EntryOrderIn(Strict):
    """The order an entry becomes. Exits (signal sells, stop loss, take profit, ...) are always market
    orders."""

    type: EntryKind = Field(
        default=EntryKind.SIGNAL,
        description=(
            "signal: as the alert says (a limit at its price for order_type limit, else market); "
            "market: always market; limit_signal: a limit at the alert's price; "
            "limit_offset: a limit offset_pct below the market for a buy"
        ),
    )
    offset_pct: Decimal | None = Field(
        default=None, ge=0, lt=50, decimal_places=4, description="limit_offset: % below the market"
    )
    limit_order_timeout_s: int | None = Field(
        default=None,
        ge=0,
        le=MAX_TIMEOUT_S,
        description="cancel a limit order unfilled after this long; null: the platform's default; 0: never",
    )

    def domain(self) -> EntryOrder:
        return EntryOrder(self.type, self.offset_pct, self.limit_order_timeout_s)

    @model_validator(mode="after")
    def _valid(self) -> EntryOrderIn:
        self.domain()
        return self


def check_pairs(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("pairs must not be empty; use null for every pair")
    cleaned = [p.strip().upper() for p in value]
    bad = [p for p in cleaned if not SYMBOL.match(p)]
    if bad:
        raise ValueError(f"pairs must be unified symbols like 'BTC/USDT': {bad}")
    return sorted(set(cleaned))


# A subscription's pair filter: unified symbols, upper case, sorted, without repeats; null for every pair.
PairFilter = Annotated[list[str] | None, AfterValidator(check_pairs)]


def check_sizing(mode: SizingMode, value: Decimal, params: SizingParamsIn | None) -> None:
    if not value.is_finite() or value <= 0:
        raise ValueError("sizing_value must be a positive number")
    Sizing(mode, value, params.domain() if params else SizingParams())  # its own checks, its own words


_SETTINGS = frozenset(f.name for f in dataclasses.fields(SubscriptionSettings))


def settings_of(body: BaseModel) -> SubscriptionSettings:
    """The subscription settings the body gives (its fields named as SubscriptionSettings' are), as
    the domain's types; None where it gives none."""
    return SubscriptionSettings(
        **{name: value.domain() for name, value in body if name in _SETTINGS and value is not None}
    )


# Confirm before trade (domain/confirmation.py). Not a strategy definition's `confirmation` (its
# multi-timeframe score) nor a bot's `confirmation_minutes`: these make an entry wait for its owner.
CONFIRMATION_DOC = (
    "confirm before trade: none sends entries at once; api, dashboard or telegram make each entry "
    "wait for its owner's yes (POST /intents/{id}/confirm or /decline); exits never wait"
)
TIMEOUT_DOC = "seconds a proposed entry waits for a yes; then it expires and nothing trades"
DRIFT_DOC = "a confirmed entry is refused if the price moved more than this % from the signal's"
TIMEOUT_BOUNDS: dict[str, Any] = {"ge": MIN_CONFIRM_TIMEOUT_S, "le": MAX_CONFIRM_TIMEOUT_S}
DRIFT_BOUNDS: dict[str, Any] = {"ge": 0, "le": MAX_DRIFT_PCT}


def confirmation_of(body: Any) -> TradeConfirmation:
    """A new subscription's or bot's confirm-before-trade settings, from its body."""
    return TradeConfirmation(body.confirmation, body.confirmation_timeout_s, body.max_confirm_drift_pct)
