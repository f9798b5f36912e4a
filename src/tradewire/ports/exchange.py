"""Exchanges, market data and time, as the services see them (implemented in adapters/)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from tradewire.domain.candles import Candles
from tradewire.domain.markets import Market
from tradewire.domain.orders import ExchangeOrder, OrderRequest
from tradewire.domain.records import (
    StrategyVenues,
)
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


class OrderBatches(Protocol):
    """A venue that places many accounts' orders in one call (the paper venue). An Exchange of such a
    venue has it as `order_batches` (optional; live exchanges have none and get one request per order).
    """

    async def create_orders(
        self, orders: Sequence[tuple[int, OrderRequest]]
    ) -> list[ExchangeOrder | Exception]:
        """Place each (account id, request); per order, in the same order, what `create_order` would
        have returned or raised (ExchangeError, ExchangeUnavailable, OrderOutcomeUnknown)."""
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
