"""Trading records: signals, intents, orders, positions and the execution log."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from tradewire.api.schemas.common import Money


class WebhookAccepted(BaseModel):
    signal_id: int
    duplicate: bool
    symbol: str | None = Field(
        description="null: a subscriber's exchange list was still loading; resolved when routed"
    )
    action: str


class SignalFields(BaseModel):
    """What a signal's API record and its export row begin with."""

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


class SignalOut(SignalFields):
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
    proposal: dict[str, Any] | None = Field(
        default=None,
        description=(
            "confirm before trade: the entry proposed to you (symbol, side, amount, order type, price, "
            "stop and target, risk verdicts, the signal's confidence, the sizing note)"
        ),
    )
    confirm_by: datetime | None = Field(default=None, description="the proposal expires then")
    confirmed_at: datetime | None = None


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


class IntentAnswer(BaseModel):
    """A confirm or decline that took effect."""

    intent_id: int
    status: str = Field(description="created (confirmed: being decided now) or rejected (declined)")
    reason: str | None


class CurvePointOut(BaseModel):
    day: date
    pnl: Money = Field(description="net realised result of the positions closed that UTC day")
    cumulative: Money


class PortfolioModeOut(BaseModel):
    mode: str = Field(description="paper or live: never added together")
    quote: str = Field(description="the currency of every amount here (results in another are apart)")
    pnl_today: Money
    pnl_7d: Money = Field(description="today and the 6 UTC days before it")
    pnl_total: Money
    closed_positions: int
    winning_positions: int
    win_rate_pct: Money | None = Field(description="closed positions with a positive net result; null: none")
    open_positions: int
    curve: list[CurvePointOut] = Field(description="cumulative realised PnL, one point per day with a close")


class PortfolioOut(BaseModel):
    modes: list[PortfolioModeOut]
    positions_counted: int
    truncated: bool = Field(description="true: only the newest positions_counted positions were counted")


class LimitUsageOut(BaseModel):
    rule: str = Field(description="daily_loss, drawdown, positions_per_strategy or positions_total")
    used: Money | None = Field(description="loss today (quote), drawdown %, or open positions; null: unknown")
    limit: Money | None = Field(description="the bound an entry is refused at; null: none to measure by")
    warn: Money | None = Field(default=None, description="where a warning starts (drawdown)")
    passed: bool = Field(description="whether a new entry passes this rule now")
    detail: str


class SubscriptionRiskOut(BaseModel):
    subscription_id: int
    strategy_slug: str
    account_id: int
    account_name: str
    mode: str
    trading_state: str
    quote: str = Field(description="the currency equity and the daily loss are measured in")
    symbols: list[str] = Field(
        default_factory=list,
        description="the markets measured in this quote (the pair filter's, else the open positions'); "
        "empty: none known, the platform's default quote",
    )
    equity: Money | None
    equity_error: str | None = None
    limits: list[LimitUsageOut]


class RiskUsageOut(BaseModel):
    as_of: datetime
    subscriptions: list[SubscriptionRiskOut]
    next_before_id: int | None = Field(
        default=None, description="more subscriptions: pass this as before_id for the next page"
    )
