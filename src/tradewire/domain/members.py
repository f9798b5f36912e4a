"""The marketplace's members and what they own: users, exchange accounts, strategies, subscriptions and
bots, as the use cases read and write them (no I/O here; the store keeps them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewire.domain.confirmation import (
    DEFAULT_MAX_DRIFT_PCT,
    DEFAULT_TIMEOUT_S,
    ConfirmVia,
    TradeConfirmation,
)
from tradewire.domain.entry_order import EntryOrder
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.exits import ExitRules
from tradewire.domain.risk import RiskLimits, TradingState
from tradewire.domain.sizing import SizingMode, SizingParams
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.domain.tranches import DcaPlan


class AccountMode(StrEnum):
    """Paper (simulated fills on the server's market) or live (a real exchange, with API keys)."""

    PAPER = "paper"
    LIVE = "live"


class StrategySource(StrEnum):
    """Where a strategy's signals come from."""

    TRADINGVIEW = "tradingview"  # webhook alerts
    INDICATOR = "indicator"  # a built-in strategy the server runs on closed candles
    BOT = "bot"  # a private built-in strategy its owner subscribes to


class Conflict(ValueError):
    """The record would break a uniqueness rule (a taken name, a repeated subscription)."""


class NotFound(LookupError):
    """No such record, or not one the caller may see."""


class Invalid(ValueError):
    """The request is well formed but cannot be done as asked (an unknown pair, nothing to change)."""


class Forbidden(PermissionError):
    """The server does not allow this (sign-up turned off), or the caller's role does not."""


class Unavailable(RuntimeError):
    """Something the request needs to be checked against cannot be reached now (an exchange)."""


class Role(StrEnum):
    """What a user may do on the platform (README, "Roles"): every signed-in user trades with their
    own accounts and runs personal bots; a provider also publishes strategies to the marketplace; an
    admin also manages users and the platform's trading state."""

    ADMIN = "admin"
    PROVIDER = "provider"
    SUBSCRIBER = "subscriber"

    @property
    def publishes(self) -> bool:
        """May make a strategy public (list it in the marketplace for others to subscribe to)."""
        return self is not Role.SUBSCRIBER


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    password_hash: str
    role: Role = Role.PROVIDER
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Account:
    """An exchange account as its owner sees it: never its API keys, only whether it has one."""

    id: int
    name: str
    exchange: str
    mode: AccountMode
    sandbox: bool
    api_urls: dict[str, str] | None
    has_api_key: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewAccount:
    user_id: int
    name: str
    exchange: str
    mode: AccountMode
    sandbox: bool
    api_urls: Mapping[str, str] | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SealedSecrets:
    """An account's API credentials, each encrypted (None where not given)."""

    api_key: str | None
    api_secret: str | None
    api_password: str | None


@dataclass(frozen=True, slots=True)
class Strategy:
    """A strategy as `viewer` sees it (public ones are visible to everyone; `is_owner` says whose)."""

    id: int
    slug: str
    name: str
    description: str
    source: str
    is_public: bool
    owner: str
    subscriber_count: int
    created_at: datetime
    is_owner: bool
    definition: dict[str, Any] | None
    dedup_window_s: int


@dataclass(frozen=True, slots=True)
class NewStrategy:
    owner_id: int
    slug: str
    name: str
    description: str
    source: StrategySource
    passphrase_hash: str
    is_public: bool
    created_at: datetime
    definition: StrategyDefinition | None = None
    dedup_window_s: int | None = None  # None: the store's default


@dataclass(frozen=True, slots=True)
class StrategyChanges:
    """What an owner changes on a strategy; None leaves a field as it is."""

    name: str | None = None
    description: str | None = None
    is_public: bool | None = None
    definition: StrategyDefinition | None = None
    dedup_window_s: int | None = None

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.__slots__)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription with its settings as stored (JSON settings as the owner gave them)."""

    id: int
    strategy_id: int
    strategy_slug: str
    account_id: int
    account_name: str
    mode: AccountMode
    status: SubscriptionStatus
    pairs: list[str] | None
    sizing_mode: SizingMode
    sizing_value: Decimal
    sizing_params: dict[str, Any] | None
    risk_limits: dict[str, Any] | None
    exit_rules: dict[str, Any] | None
    dca: dict[str, Any] | None
    entry_order: dict[str, Any] | None
    trading_state: TradingState
    state_reason: str | None
    pnl_total: Decimal
    pnl_peak: Decimal
    created_at: datetime
    updated_at: datetime
    # Confirm before trade (domain/confirmation.py), not a strategy's multi-timeframe confirmation.
    confirmation: ConfirmVia = ConfirmVia.NONE
    confirmation_timeout_s: int = DEFAULT_TIMEOUT_S
    max_confirm_drift_pct: Decimal = DEFAULT_MAX_DRIFT_PCT


@dataclass(frozen=True, slots=True)
class SubscriptionSettings:
    """A subscription's own rules, kept as JSON; None: the platform's defaults (in a change: as it is)."""

    sizing_params: SizingParams | None = None
    risk_limits: RiskLimits | None = None
    exit_rules: ExitRules | None = None
    dca: DcaPlan | None = None
    entry_order: EntryOrder | None = None

    def as_json(self) -> dict[str, dict[str, Any] | None]:
        """Each setting as it is stored (None where it is not set)."""
        return {
            "sizing_params": self.sizing_params.to_json() if self.sizing_params else None,
            "risk_limits": self.risk_limits.as_json() if self.risk_limits else None,
            "exit_rules": self.exit_rules.as_json() if self.exit_rules else None,
            "dca": self.dca.as_json() if self.dca else None,
            "entry_order": self.entry_order.as_json() if self.entry_order else None,
        }

    def given(self) -> dict[str, dict[str, Any]]:
        """Only the settings that are set, as they are stored."""
        return {name: value for name, value in self.as_json().items() if value is not None}


@dataclass(frozen=True, slots=True)
class NewSubscription:
    user_id: int
    account_id: int
    strategy_id: int  # 0 for a bot's, whose strategy is created with it
    status: SubscriptionStatus
    pairs: list[str] | None
    sizing_mode: SizingMode
    sizing_value: Decimal
    created_at: datetime
    settings: SubscriptionSettings = field(default_factory=SubscriptionSettings)
    confirmation: TradeConfirmation = field(default_factory=TradeConfirmation)


@dataclass(frozen=True, slots=True)
class SubscriptionChanges:
    """What an owner changes on a subscription; None (and False) leave a setting as it is."""

    status: SubscriptionStatus | None = None
    pairs: list[str] | None = None
    all_pairs: bool = False  # drop the pair filter
    sizing_mode: SizingMode | None = None
    sizing_value: Decimal | None = None  # given with sizing_mode
    settings: SubscriptionSettings = field(default_factory=SubscriptionSettings)
    no_dca: bool = False  # one entry per position again
    trading_state: TradingState | None = None
    confirmation: ConfirmVia | None = None  # confirm before trade: where entries are confirmed
    confirmation_timeout_s: int | None = None
    max_confirm_drift_pct: Decimal | None = None

    def confirmation_columns(self) -> dict[str, Any]:
        """The confirm-before-trade columns this change sets (bounds checked by TradeConfirmation)."""
        given = {
            "confirmation": self.confirmation,
            "confirmation_timeout_s": self.confirmation_timeout_s,
            "max_confirm_drift_pct": self.max_confirm_drift_pct,
        }
        checked = TradeConfirmation.of(*given.values()).columns()
        return {name: checked[name] for name, value in given.items() if value is not None}

    def is_empty(self) -> bool:
        return self == SubscriptionChanges()

    @property
    def resets_drawdown(self) -> bool:
        """Back to ACTIVE: the drawdown is measured afresh from the current PnL."""
        return self.trading_state is TradingState.ACTIVE

    def state_reason(self, who: str) -> str | None:
        """Why the trading state changed, kept with it (None: it does not change)."""
        return None if self.trading_state is None else f"set to {self.trading_state.value} by {who}"


@dataclass(frozen=True, slots=True)
class BotRun:
    """How a bot is to run, set together: its definition (what the server evaluates) and its
    subscription's status (start, stop or retune)."""

    definition: Mapping[str, Any]
    status: SubscriptionStatus


@dataclass(frozen=True, slots=True)
class Bot:
    """A bot: its private strategy and its owner's one subscription to it."""

    id: int
    name: str
    definition: dict[str, Any]
    created_at: datetime
    subscription_id: int
    account_id: int
    status: SubscriptionStatus
    mode: AccountMode

    @property
    def running(self) -> bool:
        return bool(self.definition.get("enabled", True)) and self.status is SubscriptionStatus.ACTIVE
