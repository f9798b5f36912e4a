"""Request and response bodies. Money is a decimal string in JSON, never a float."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from tradewire.api.fields import Amount, DbId, OneLine, check_body
from tradewire.domain.entry_order import MAX_TIMEOUT_S, EntryKind, EntryOrder
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.exits import ExitRules
from tradewire.domain.money import fmt
from tradewire.domain.risk import TradingState
from tradewire.domain.sizing import Sizing, SizingMode, SizingParams
from tradewire.domain.strategies.definition import BotSettings, StrategyDefinition
from tradewire.domain.track_record import PairStatus
from tradewire.domain.tranches import DcaMode, DcaPlan

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
SYMBOL = re.compile(r"^[A-Z0-9]{1,16}/[A-Z0-9]{1,16}(:[A-Z0-9]{1,16})?$")
MAX_PAIRS = 500  # a subscription's pair filter (an exchange lists a few thousand at most)


def _plain(value: Decimal) -> str:
    return fmt(value) or "0"


# Money in responses: an exact decimal string without exponent ("10000", never "1E+4").
Money = Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]


class Strict(BaseModel):
    """Every request body: unknown fields refused, and no text, nesting or size storage cannot hold."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        return check_body(data)


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type, not a secret)


class UserCreate(Strict):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=256, repr=False)


class UserOut(BaseModel):
    id: int
    username: str


class AccountCreate(Strict):
    name: Annotated[str, OneLine] = Field(min_length=1, max_length=64)
    exchange: str = Field(default="paper", min_length=2, max_length=32, pattern=r"^[a-z0-9]+$")
    mode: Literal["paper", "live"] = "paper"
    sandbox: bool = False
    api_key: str | None = Field(default=None, max_length=512, repr=False)
    api_secret: str | None = Field(default=None, max_length=2048, repr=False)
    api_password: str | None = Field(default=None, max_length=512, repr=False)
    api_urls: dict[str, str] | None = Field(
        default=None,
        max_length=16,
        description="override ccxt's urls['api'] entries (a proxy); live accounts only; https (wss for "
        "'ws.' keys) to public hosts unless the server allows private addresses",
    )

    @field_validator("api_urls")
    @classmethod
    def _urls(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        for key, url in value.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,31}(\.[A-Za-z][A-Za-z0-9-]{0,31}){0,3}", key):
                raise ValueError(f"api_urls key {key!r} is not a ccxt urls['api'] key (or 'ws.<key>')")
            scheme = "wss?" if key.startswith("ws") else "https?"
            if not re.fullmatch(scheme + r"://[^\s\x00-\x1f\x7f]{1,500}", url):
                raise ValueError(f"api_urls[{key!r}] must be a {scheme.rstrip('?')}(s) URL")
        return value

    @model_validator(mode="after")
    def _keys_match_mode(self) -> AccountCreate:
        if self.mode == "live" and (not self.api_key or not self.api_secret):
            raise ValueError("a live account needs api_key and api_secret")
        if self.mode == "paper" and self.exchange != "paper":
            raise ValueError("paper accounts trade on the 'paper' exchange")
        if self.mode == "live" and self.exchange == "paper":
            raise ValueError("a live account needs a real exchange id (binance, bybit, okx, ...)")
        if self.mode == "live":
            import ccxt

            if self.exchange not in ccxt.exchanges:
                raise ValueError(f"unknown exchange {self.exchange!r}; ccxt ids such as binance, bybit, okx")
        if self.mode == "paper" and self.api_urls:
            raise ValueError("api_urls are for live accounts")
        return self


class AccountOut(BaseModel):
    id: int
    name: str
    exchange: str
    mode: str
    sandbox: bool
    api_urls: dict[str, str] | None = None
    has_api_key: bool
    created_at: datetime


class AssetBalanceOut(BaseModel):
    free: Money
    used: Money = Field(description="held by open orders")
    total: Money


class BalanceOut(BaseModel):
    account_id: int
    mode: str = "paper"
    exchange: str = "paper"
    balances: dict[str, Money] = Field(description="total per asset")
    assets: dict[str, AssetBalanceOut] = Field(default_factory=dict, description="free, used, total")
    equity: Money | None = Field(description="in `quote`: the assets valued at the account's own prices")
    quote: str
    values: dict[str, Money] = Field(default_factory=dict, description="each asset's value in `quote`")
    unvalued: dict[str, str] = Field(
        default_factory=dict, description="assets left out of equity (no price in `quote`), with why"
    )
    as_of: datetime | None = Field(default=None, description="when the exchange was asked (cached briefly)")


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
    definition: dict[str, Any] | None = None
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

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


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


class SubscriptionCreate(Strict):
    strategy_id: DbId
    account_id: DbId
    pairs: list[str] | None = Field(
        default=None, max_length=MAX_PAIRS, description="unified symbols; null for every pair"
    )
    sizing_mode: SizingMode = SizingMode.FIXED_QUOTE
    sizing_value: Amount = Field(default=Decimal(100), gt=0)
    sizing_params: SizingParamsIn | None = None
    risk_limits: RiskLimitsIn | None = None
    exit_rules: ExitRulesIn | None = None
    dca: DcaIn | None = None
    entry_order: EntryOrderIn | None = None

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, value: list[str] | None) -> list[str] | None:
        return _check_pairs(value)

    @model_validator(mode="after")
    def _sizing(self) -> SubscriptionCreate:
        _check_sizing(self.sizing_mode, self.sizing_value, self.sizing_params)
        return self


class SubscriptionUpdate(Strict):
    status: Literal["ACTIVE", "PAUSED", "CANCELLED"] | None = None
    pairs: list[str] | None = Field(default=None, max_length=MAX_PAIRS)
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

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, value: list[str] | None) -> list[str] | None:
        return _check_pairs(value)

    @model_validator(mode="after")
    def _sizing(self) -> SubscriptionUpdate:
        if (self.sizing_mode is None) != (self.sizing_value is None):
            raise ValueError("give sizing_mode and sizing_value together")
        if self.sizing_mode is not None and self.sizing_value is not None:
            _check_sizing(self.sizing_mode, self.sizing_value, self.sizing_params)
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


class WebhookAccepted(BaseModel):
    signal_id: int
    duplicate: bool
    symbol: str | None = Field(
        description="null: a subscriber's exchange list was still loading; resolved when routed"
    )
    action: str


class SignalOut(BaseModel):
    id: int
    strategy_id: int
    strategy_slug: str
    status: str
    action: str
    ticker: str
    symbol: str
    contracts: Money | None
    price: Money | None
    signal_time: datetime | None
    details: dict[str, Any]
    received_at: datetime
    routed_at: datetime | None
    intent_count: int
    reason: str | None = None  # status "failed": why routing kept failing


class IntentOut(BaseModel):
    id: int
    signal_id: int
    subscription_id: int
    account_id: int
    strategy_slug: str
    action: str
    symbol: str
    status: str
    reason: str | None
    received_at: datetime
    created_at: datetime
    updated_at: datetime
    order_id: int | None = None
    sizing_equity: Money | None = Field(
        default=None, description="the account equity (quote) the entry was sized against"
    )


class OrderOut(BaseModel):
    id: int
    intent_id: int | None
    account_id: int
    subscription_id: int | None
    mode: str
    client_order_id: str
    exchange_order_id: str | None
    symbol: str
    side: str
    type: str
    amount: Money
    price: Money | None
    state: str
    filled: Money
    average: Money | None
    fee: Money
    fee_currency: str | None
    reason: str | None
    # A rejected order: "exchange" (the exchange refused it), "not_sent" (we did not send it) or
    # "lost" (not found on the exchange: looked up a few more times, applied if it shows up).
    rejection: str | None = None
    created_at: datetime
    updated_at: datetime
    sizing_equity: Money | None = Field(
        default=None, description="the account equity (quote) the entry was sized against"
    )


class PositionOut(BaseModel):
    id: int
    account_id: int
    subscription_id: int | None
    mode: str
    symbol: str
    side: str
    status: str
    amount: Money
    avg_entry: Money
    realized_pnl: Money
    fees: Money
    net_realized_pnl: Money
    mark_price: Money | None
    unrealized_pnl: Money | None
    exchange: str | None = None
    mark_source: str | None = Field(default=None, description="'paper' or the live account's exchange")
    mark_error: str | None = Field(default=None, description="why an open position has no mark")
    close_reason: str | None
    opened_at: datetime
    closed_at: datetime | None
    stop_loss: Money | None = None
    take_profit: Money | None = None
    trailing_pct: Money | None = None
    trailing_activation_pct: Money | None = None
    best_price: Money | None = Field(default=None, description="best price since entry (trailing stop)")
    deadline_at: datetime | None = Field(default=None, description="time limit")
    phase: str = Field(default="OPEN", description="BUILDING (DCA tranches to buy), OPEN, REDUCING, CLOSED")
    tranches: dict[str, Any] | None = Field(default=None, description="DCA: plan, first fill, pending")


class PositionClose(BaseModel):
    position_id: int
    status: str


class ExecutionLogOut(BaseModel):
    id: int
    intent_id: int | None
    signal_id: int | None
    subscription_id: int | None
    account_id: int | None
    order_id: int | None
    status: str
    reason: str
    exchange_response: dict[str, Any] | None
    created_at: datetime


class MarketOut(BaseModel):
    symbol: str
    id: str
    base: str
    quote: str
    price: Money | None
    price_source: str
    simulated: bool
    amount_step: Money
    price_step: Money
    min_cost: Money | None


def _check_pairs(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("pairs must not be empty; use null for every pair")
    cleaned = [p.strip().upper() for p in value]
    bad = [p for p in cleaned if not SYMBOL.match(p)]
    if bad:
        raise ValueError(f"pairs must be unified symbols like 'BTC/USDT': {bad}")
    return sorted(set(cleaned))


def _check_sizing(mode: SizingMode, value: Decimal, params: SizingParamsIn | None) -> None:
    if not value.is_finite() or value <= 0:
        raise ValueError("sizing_value must be a positive number")
    Sizing(mode, value, params.domain() if params else SizingParams())  # its own checks, its own words


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
        _check_sizing(self.sizing_mode, self.sizing_value, None)
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
