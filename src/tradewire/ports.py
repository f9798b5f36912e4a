"""The interfaces between the services and the outside world (implemented in adapters/)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from tradewire.domain.candles import Candles
from tradewire.domain.markets import Market
from tradewire.domain.orders import ExchangeOrder, OrderRequest, OrderState
from tradewire.domain.records import (
    AutoOrder,
    FailedAttempt,
    LiveVenue,
    NewOrder,
    NewSignal,
    OrderOutcome,
    OrderRecord,
    Rejection,
    RiskSnapshot,
    StrategyVenues,
    SubscriptionTarget,
    UnreadableWork,
    WatchedPosition,
    WorkItem,
)
from tradewire.domain.risk import RiskLimits
from tradewire.domain.sizing import TradeStats
from tradewire.domain.symbols import Resolution


class ErrorKind(StrEnum):
    """The small taxonomy every exchange failure is sorted into, for users and for retry decisions."""

    NETWORK = "network"  # timeout, connection lost: the outcome may be unknown
    RATE_LIMITED = "rate_limited"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INVALID_ORDER = "invalid_order"
    AUTHENTICATION = "authentication"
    UNAVAILABLE = "exchange_unavailable"  # 5xx, maintenance, circuit open
    REJECTED = "rejected"  # any other refusal
    UNKNOWN = "unknown"  # an error nobody classified: whether the request happened is unknown


class ExchangeError(Exception):
    """The exchange answered and refused (the order did not happen)."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.REJECTED) -> None:
        super().__init__(message)
        self.kind = kind


class OrderOutcomeUnknown(Exception):
    """We cannot tell whether the exchange took the order (timeout, lost connection)."""


class ExchangeUnavailable(Exception):
    """The exchange cannot be asked now (no adapter, circuit open, down, rate limited); nothing was sent."""

    def __init__(self, message: str, kind: ErrorKind = ErrorKind.UNAVAILABLE) -> None:
        super().__init__(message)
        self.kind = kind


class Exchange(Protocol):
    """One exchange account, as ccxt would present it. Paper and live implement the same port."""

    @property
    def dedupes_client_order_ids(self) -> bool:
        """True if the exchange refuses a client order id it has ever seen (so a resend is safe).

        Binance only refuses ids of *open* orders: resending a filled order's id would trade twice.
        """
        ...

    async def price(self, symbol: str) -> Decimal | None:
        """A recent price (the feed, or a cached ticker no older than its TTL); None if unknown."""
        ...

    async def markets(self) -> Mapping[str, Market]:
        """Markets by unified symbol, loaded once and cached."""
        ...

    async def fetch_balance(self) -> Mapping[str, Decimal]:
        """Total balance per asset."""
        ...

    async def create_order(self, request: OrderRequest) -> ExchangeOrder:
        """Place an order. Raises ExchangeError on refusal, OrderOutcomeUnknown when unsure."""
        ...

    async def fetch_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        """The order with this client order id, or None if the exchange does not know it."""
        ...

    async def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        """Cancel an open order; returns its final state (which may be filled if the cancel lost a race)."""
        ...


class ExchangeDirectory(Protocol):
    """Finds the Exchange for an account; raises ExchangeUnavailable with a reason a user can read."""

    def for_account(self, account_id: int, exchange: str, mode: str) -> Exchange:
        """The Exchange port of one exchange account."""
        ...


class SymbolResolver(Protocol):
    """Resolves tickers against the market lists of the venues a strategy's subscribers trade on."""

    def resolve(self, venues: StrategyVenues, ticker: str) -> Resolution:
        """From the lists already loaded, without I/O; a venue not loaded yet is reported `unknown`."""
        ...

    async def resolve_loading(self, venues: StrategyVenues, ticker: str, timeout_s: float) -> Resolution:
        """After loading the lists still missing (bounded by `timeout_s`)."""
        ...


class MarketData(Protocol):
    """Current prices for the symbols the platform knows."""

    def last_price(self, symbol: str) -> Decimal | None:
        """The latest trade or close price, or None if the symbol has no data."""
        ...

    def symbols(self) -> list[str]:
        """Every symbol with a price."""
        ...


class CandleSource(Protocol):
    """Closed candles of one market (the paper market's replay, or an exchange's public API)."""

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        """The latest `limit` closed candles, oldest first; None when there are none to be had."""
        ...


class Clock(Protocol):
    """Wall clock in live trading, a simulated one in backtests."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...


class Store(Protocol):
    """Persistence of the execution pipeline; every method is one transaction, safe to repeat."""

    def webhook_strategy(self, slug: str) -> tuple[int, str] | None: ...
    def find_signal(self, strategy_id: int, dedup_keys: Sequence[str]) -> int | None: ...
    def insert_signal(self, signal: NewSignal) -> tuple[int, bool]: ...
    def insert_signal_in_window(self, signal: NewSignal, content_key: str) -> tuple[int, bool]: ...
    def signal_route_info(self, signal_id: int) -> tuple[int, str, str] | None: ...
    def strategy_venues(self, strategy_id: int) -> StrategyVenues: ...
    def live_venues_in_use(self) -> list[LiveVenue]: ...
    def signal_ticker(self, signal_id: int) -> str | None: ...
    def resolve_signal(self, signal_id: int, symbol: str) -> None: ...
    def active_targets(self, strategy_id: int) -> list[SubscriptionTarget]: ...
    def create_intents(
        self,
        signal_id: int,
        targets: Sequence[SubscriptionTarget],
        now: datetime,
        market_price: Decimal | None = None,
        status: str = "routed",
    ) -> None: ...
    def strategy_definitions(self) -> list[tuple[int, dict[str, Any]]]: ...
    def last_signal_at(self, strategy_id: int, symbol: str) -> datetime | None: ...
    def unrouted_signal_ids(self, received_before: datetime | None = None) -> list[int]: ...
    def pending_work(
        self, signal_id: int | None = None, created_before: datetime | None = None, limit: int = 5000
    ) -> list[WorkItem]: ...
    def pending_work_page(
        self, signal_id: int | None = None, after_id: int = 0, limit: int = 5000
    ) -> tuple[list[WorkItem], list[UnreadableWork]]: ...
    def routing_failed(self, signal_id: int, reason: str, attempts_allowed: int, now: datetime) -> bool: ...
    def open_position_amounts(self, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Decimal]: ...
    def strategy_stats(self, strategy_id: int, last: int = 500) -> TradeStats: ...
    def risk_snapshot(
        self,
        account_ids: Sequence[int],
        day: str,
        pair_keys: Sequence[tuple[int, str]] = (),
        strategy_pairs_keys: Sequence[tuple[int, str]] = (),
    ) -> RiskSnapshot: ...
    def save_decisions(
        self,
        rejections: Sequence[Rejection],
        new_orders: Sequence[NewOrder],
        now: datetime,
        failures: Sequence[FailedAttempt] = (),
    ) -> list[OrderRecord]: ...
    def postpone_checks(self, records: Sequence[OrderRecord], reason: str, now: datetime) -> None: ...
    def claim_for_submission(self, order_ids: Sequence[int], now: datetime) -> set[int]: ...
    def orders_in_states(self, states: Sequence[OrderState]) -> list[OrderRecord]: ...
    def unsettled_orders(self, account_id: int | None = None) -> list[OrderRecord]: ...
    def due_orders(self, now: datetime, limit: int = 1000) -> list[OrderRecord]: ...
    def orders_by_client_ids(self, account_id: int, client_order_ids: Sequence[str]) -> list[OrderRecord]: ...
    def record_outcomes(self, outcomes: Sequence[OrderOutcome], now: datetime) -> None: ...
    def watched_positions(self, changed_since: datetime | None = None) -> list[WatchedPosition]: ...
    def positions_exiting(self) -> set[int]: ...
    def daily_loss_closers(self) -> list[tuple[int, int, RiskLimits]]: ...
    def open_positions_of(self, subscription_ids: Sequence[int]) -> list[WatchedPosition]: ...
    def exits_in_flight(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]: ...
    def save_auto_orders(self, exits: Sequence[AutoOrder], now: datetime) -> list[OrderRecord]: ...
    def save_best_prices(self, best: dict[int, Decimal]) -> None: ...
    def realized_on(self, account_ids: Sequence[int], day: str) -> dict[int, Decimal]: ...


Handler = Callable[[Mapping[str, Any]], Awaitable[None]]


class Bus(Protocol):
    """At-least-once message delivery; every handler is idempotent, keyed by the ids it carries."""

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        """Deliver `message` to every subscriber of `topic`."""
        ...

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call `handler` for each message on `topic`."""
        ...
