"""The Exchange port on ccxt's async API: one client per exchange account.

Orders are idempotent: the client order id (derived from the execution intent) goes out with every
create. A failed create is a refusal only when the exchange definitively refused it (see
`errors.is_refusal`); any other failure (timeout, lost connection, any 5xx whatever its body, 429, an
error class nobody listed) is never simply repeated: the order is looked up by its client order id
first, and if it cannot be found the outcome stays unknown for the reconciler to settle. Reads and
cancels are retried with backoff and jitter on everything but a definitive answer.

How a request is made and what its failure means (breaker, budget, retries) is `account_calls`; how
ccxt's orders, trades and balances read as ours is `ccxt_orders`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import ccxt
import ccxt.async_support as ccxt_async

from tradewire.adapters.live.account_calls import AccountCalls, RetryPolicy, backoff
from tradewire.adapters.live.ccxt_orders import (
    balance_detail_from_ccxt,
    balance_from_ccxt,
    order_from_ccxt,
    trades_from_ccxt,
)
from tradewire.adapters.live.client_ids import dialect_for
from tradewire.adapters.live.clients import ClientError, Credentials, build_client, offers
from tradewire.adapters.live.errors import is_duplicate, kind_of, one_line, remember_http_status
from tradewire.adapters.live.guards import (
    Breaker,
    BreakerFactory,
    BreakerState,
    Budget,
    BudgetFactory,
    CircuitBreaker,
    LocalBreaker,
    RateLimiter,
)
from tradewire.adapters.live.markets import RECENT_FAILURE_S, VenueMarkets
from tradewire.adapters.live.tickers import TickerCache
from tradewire.adapters.metrics import UNMETERED, ExchangeMeter
from tradewire.domain.balances import AssetBalance
from tradewire.domain.health import ExchangeHealth
from tradewire.domain.markets import DECIMAL_PLACES, TICK_SIZE, Market
from tradewire.domain.orders import ExchangeOrder, OrderRequest, OrderSide, OrderType, Trade
from tradewire.domain.risk_alerts import BreakerOpening
from tradewire.ports import ErrorKind, ExchangeError, ExchangeUnavailable, OrderOutcomeUnknown

# Imported from here by the wiring and the tests: the policy of `account_calls`, the order translation.
__all__ = ["CcxtExchange", "LiveAccount", "RetryPolicy", "make_client", "order_from_ccxt", "trades_from_ccxt"]

log = logging.getLogger("tradewire.live")


@dataclass(frozen=True)
class LiveAccount:
    """What it takes to trade one live account. Secrets are plaintext only in memory."""

    account_id: int
    exchange: str
    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    password: str | None = field(default=None, repr=False)
    sandbox: bool = False
    api_urls: Mapping[str, str] = field(default_factory=dict)  # overrides of ccxt's urls['api'][key]
    timeout_ms: int = 10_000
    requests_per_second: float | None = None  # None: ccxt's own figure for the exchange
    # api_urls may reach loopback and private addresses (the operator's choice; local fakes in tests).
    private_urls_allowed: bool = False


def make_client(account: LiveAccount, streaming: bool = False) -> ccxt_async.Exchange:
    """The account's client (ccxt pro, for streams), pointed at its sandbox or its base-URL overrides,
    which are the user's: unless private addresses are allowed they are checked as `build_client` says."""
    try:
        client: ccxt_async.Exchange = build_client(
            account.exchange,
            flavour="pro" if streaming else "async",
            credentials=Credentials(account.api_key, account.secret, account.password),
            api_urls=account.api_urls,
            timeout_ms=account.timeout_ms,
            sandbox=account.sandbox,
            private_urls_allowed=account.private_urls_allowed,
            throttle=False,  # our own limiter is shared by every subscription of the account
        )
    except ClientError as exc:
        raise ExchangeUnavailable(f"account {account.account_id}: {exc}") from exc
    return client


class CcxtExchange:
    """One live exchange account behind the Exchange port."""

    dedupes_client_order_ids = False  # Binance and others only refuse ids of *open* orders

    def __init__(
        self,
        account: LiveAccount,
        client: ccxt_async.Exchange | None = None,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        limiter: Budget | None = None,
        markets_ttl_s: float = 3600.0,
        tickers: TickerCache | None = None,
        in_flight: asyncio.Semaphore | None = None,
        public_limiter: RateLimiter | None = None,
        venue: VenueMarkets | None = None,
        meter: ExchangeMeter = UNMETERED,
        on_breaker_open: Callable[[BreakerOpening], None] | None = None,
        budgets: BudgetFactory | None = None,
        breakers: BreakerFactory | None = None,
    ) -> None:
        self.account = account
        self.client = client or make_client(account)
        remember_http_status(self.client)
        self._ids = dialect_for(account.exchange)
        retry = retry or RetryPolicy()
        # The account's breaker: shared by every process when `breakers` keeps it in Redis.
        shared_or_own: Breaker = (
            breakers(account.account_id) if breakers and breaker is None else LocalBreaker(breaker)
        )
        rate = account.requests_per_second or 1000.0 / max(float(self.client.rateLimit or 50), 1.0)
        # The account's budget: shared by every process when `budgets` keeps it in Redis.
        burst = max(1.0, rate / 2)
        limiter = limiter or (
            budgets(account.account_id, rate, burst) if budgets else RateLimiter(rate=rate, burst=burst)
        )
        # Public calls (markets, tickers) spend a budget shared by every account of the exchange.
        self._public = public_limiter or RateLimiter(rate=rate, burst=max(1.0, rate / 2))
        # Markets are shared with the exchange's other accounts (one load for all of them).
        self._venue = venue or VenueMarkets(account.exchange)
        self._markets_ttl = markets_ttl_s
        self._tickers = tickers or TickerCache()
        self._stream: ccxt_async.Exchange | None = None  # ccxt pro client, created when first watched
        # Every request: the breaker, the budget, requests open at once over every live account of the
        # process (sockets, memory), the meter, and what the health page shows of the last call.
        self._calls = AccountCalls(
            account.account_id,
            account.exchange,
            self.client,
            retry,
            shared_or_own,
            limiter,
            in_flight or asyncio.Semaphore(256),
            meter,
            on_breaker_open,
        )

    @property
    def venue(self) -> VenueMarkets:
        """The exchange's market list, shared with its other accounts."""
        return self._venue

    @property
    def circuit(self) -> BreakerState:
        return self._calls.breaker.state

    async def refresh_health(self) -> None:
        """Learn what other processes changed of the account's health (its shared breaker) before
        `health` or `circuit` is read."""
        await self._calls.breaker.refresh()

    def health(self) -> ExchangeHealth:
        """The account's circuit, last latency, last failure (its kind) and rate-limit headroom."""
        return self._calls.health()

    @property
    def public_limiter(self) -> RateLimiter:
        """The budget for public calls (markets, tickers), to share with the exchange's other accounts."""
        return self._public

    # -- Exchange port ------------------------------------------------------------------------------

    async def markets(self) -> Mapping[str, Market]:
        """Markets loaded once per exchange (shared by its accounts) and refreshed after `markets_ttl_s`."""
        venue = self._venue
        if not venue.loaded and venue.failed_within(RECENT_FAILURE_S) and venue.error:
            raise ExchangeUnavailable(venue.error)  # just tried (for another account, or routing)
        age = venue.age()
        if (age is None or age >= self._markets_ttl) and not (venue.loaded and venue.failed_within(60.0)):
            try:
                await self.reload_markets(only_if_older_than=self._markets_ttl)
            except (ExchangeUnavailable, ExchangeError):
                if not venue.loaded:
                    raise
                log.warning("%s markets could not be refreshed; using the list loaded before", venue.name)
        if venue.source is not None and venue.source is not self.client and not self.client.markets:
            self.client.set_markets_from_exchange(venue.source)  # ccxt's own tables, without a request
        return venue.markets

    async def reload_markets(self, only_if_older_than: float = 0.0) -> Mapping[str, Market]:
        """Load the exchange's market list now (unless another account just did); a failure is
        remembered on the venue (its reason is what a webhook or an intent reports) and raised."""
        venue = self._venue
        async with venue.lock:
            age = venue.age()
            if age is not None and age < only_if_older_than:
                return venue.markets
            try:
                raw = await self._calls.read(
                    lambda: self.client.load_markets(reload=venue.loaded), limiter=self._public
                )
            except (ExchangeUnavailable, ExchangeError) as exc:
                venue.failed(str(exc))
                raise
            mode = DECIMAL_PLACES if self.client.precisionMode == ccxt.DECIMAL_PLACES else TICK_SIZE
            venue.store(
                {symbol: Market.from_ccxt(m, mode) for symbol, m in raw.items() if m.get("spot", True)},
                self.client,
            )
        return venue.markets

    async def price(self, symbol: str) -> Decimal | None:
        """From the exchange's shared ticker cache: one fetch_tickers for all symbols in use.

        A symbol the exchange does not list has no price (and is never asked for: one unknown symbol
        would make every batched fetch_tickers call fail)."""
        if self._venue.loaded and symbol not in self._venue.markets:
            return None
        return await self._tickers.price(
            symbol,
            lambda symbols: self._calls.read(
                lambda: self.client.fetch_tickers(symbols), limiter=self._public
            ),
            lambda one: self._calls.read(lambda: self.client.fetch_ticker(one), limiter=self._public),
        )

    def price_error(self, symbol: str) -> str | None:
        """Why the last attempt to price `symbol` failed, if it did."""
        if self._venue.loaded and symbol not in self._venue.markets:
            return f"{symbol} is not listed on {self.account.exchange}"
        return self._tickers.error(symbol)

    async def recent_closes(self, symbol: str, timeframe: str, limit: int) -> list[float] | None:
        """Closes of the latest `limit` candles (public), oldest first; None if the exchange has none."""
        if not self.client.has.get("fetchOHLCV"):
            return None
        rows = await self._calls.read(
            lambda: self.client.fetch_ohlcv(symbol, timeframe, limit=limit), limiter=self._public
        )
        return [float(row[4]) for row in rows if row and row[4] is not None]

    async def fetch_balance(self) -> Mapping[str, Decimal]:
        return balance_from_ccxt(await self._calls.read(self.client.fetch_balance))

    async def fetch_balance_detail(self) -> Mapping[str, AssetBalance]:
        """Free, used (in open orders) and total per asset, as the exchange reports them."""
        return balance_detail_from_ccxt(await self._calls.read(self.client.fetch_balance))

    async def create_order(self, request: OrderRequest) -> ExchangeOrder:
        """Place an order at most once; see the module docstring."""
        await self._calls.admit_order()
        params = self._ids.create_params(request.client_order_id)
        price = request.price
        # Exchanges that size market buys in quote (Coinbase) need a price to turn amount into cost.
        quote_sized = bool(self.client.options.get("createMarketBuyOrderRequiresPrice"))
        if (
            price is None
            and quote_sized
            and request.type is OrderType.MARKET
            and request.side is OrderSide.BUY
        ):
            price = await self.price(request.symbol)
        try:
            raw = await self._calls.once(
                lambda: self.client.create_order(
                    request.symbol,
                    request.type.value,
                    request.side.value,
                    float(request.amount),
                    float(price) if price is not None else None,
                    params,
                )
            )
        except Exception as exc:
            return await self._after_failed_create(request, exc)
        if raw.get("status") is None:  # Bybit answers a create with ids only: ask for the order itself
            found = await self._lookup(request)
            if found is not None:
                return found
            if not raw.get("id"):  # an answer that names no order does not say the order was taken
                raise OrderOutcomeUnknown(
                    f"{ErrorKind.UNKNOWN.value}: the answer to the create names no order "
                    f"and order {request.client_order_id} is not found yet"
                )
            raw = {**raw, "status": "open"}  # accepted (it has an id); the reconciler will see the rest
        order = order_from_ccxt(raw, request)
        log.info(
            "order %s placed on %s (account %s): %s %s %s, exchange id %s, status %s",
            request.client_order_id,
            self.account.exchange,
            self.account.account_id,
            request.side.value,
            request.amount,
            request.symbol,
            order.exchange_order_id,
            order.status,
        )
        return order

    async def fetch_order(self, symbol: str, client_order_id: str) -> ExchangeOrder | None:
        raw = await self._calls.read(lambda: self._ids.fetch(self.client, symbol, client_order_id))
        return order_from_ccxt(raw) if raw else None

    async def fetch_order_trades(self, symbol: str, exchange_order_id: str) -> tuple[Trade, ...]:
        """The order's executions from the account's trade history (ids, prices, fees of each)."""
        if self.client.has.get("fetchOrderTrades"):
            raws = await self._calls.read(lambda: self.client.fetch_order_trades(exchange_order_id, symbol))
        else:
            raws = [
                t
                for t in await self._calls.read(lambda: self.client.fetch_my_trades(symbol))
                if str(t.get("order")) == exchange_order_id
            ]
        return trades_from_ccxt(raws)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        """Every open order of the account (one call), for batched reconciliation."""
        raws = await self._calls.read(lambda: self.client.fetch_open_orders(symbol))
        return [order_from_ccxt(raw) for raw in raws if raw.get("clientOrderId")]

    async def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        """Cancel, then report the order as the exchange now has it (a lost race shows the fill)."""
        try:
            await self._calls.read(lambda: self._ids.cancel(self.client, symbol, client_order_id))
        except ExchangeError as exc:
            log.info("cancel of %s refused (%s); checking its state", client_order_id, exc)
        final = await self.fetch_order(symbol, client_order_id)
        if final is None:
            raise ExchangeError(
                f"order {client_order_id} not found on {self.account.exchange}", ErrorKind.REJECTED
            )
        return final

    @property
    def streams_orders(self) -> bool:
        """True if ccxt can push this exchange's order updates (watch_orders).

        An account whose REST addresses are overridden (a proxy, a local endpoint) streams only
        through an overridden stream address too: never around its proxy to the public host.
        """
        overrides = self.account.api_urls
        if overrides and not any(key.startswith("ws") for key in overrides):
            return False
        return offers(self.account.exchange, "watchOrders", "pro")

    async def watch_orders(self) -> list[ExchangeOrder]:
        """The next order updates the exchange pushes (ccxt pro); raises when the stream breaks."""
        if self._stream is None:
            self._stream = make_client(self.account, streaming=True)
            remember_http_status(self._stream)
            await self.markets()
            self._stream.set_markets(self.client.markets)
        try:
            raws = await self._stream.watch_orders()
        except Exception as exc:
            raise ExchangeUnavailable(
                f"{kind_of(exc).value}: order stream: {one_line(exc)}", kind_of(exc)
            ) from exc
        return [order_from_ccxt(raw) for raw in raws if raw.get("clientOrderId")]

    async def close(self) -> None:
        await self.client.close()
        if self._stream is not None:
            await self._stream.close()

    # -- internals ---------------------------------------------------------------------------------

    async def _after_failed_create(self, request: OrderRequest, exc: Exception) -> ExchangeOrder:
        if is_duplicate(exc):
            log.warning(
                "order %s: exchange reports a duplicate; using the first order", request.client_order_id
            )
            found = await self._lookup(request)
            if found is not None:
                return found
            raise OrderOutcomeUnknown(
                f"duplicate client order id but the order cannot be found: {exc}"
            ) from exc
        await self._calls.refused_or_unclear(exc)
        # Default-deny: anything else may have placed the order.
        log.warning(
            "order %s: unclear outcome (%s: %s); looking it up by client order id before anything else",
            request.client_order_id,
            type(exc).__name__,
            one_line(exc),
        )
        found = await self._lookup(request)
        if found is not None:
            return found
        raise OrderOutcomeUnknown(f"{kind_of(exc).value}: {one_line(exc)}") from exc

    async def _lookup(self, request: OrderRequest) -> ExchangeOrder | None:
        for attempt in range(self._calls.retry.lookup_attempts):
            try:
                found = await self.fetch_order(request.symbol, request.client_order_id)
            except (ExchangeUnavailable, ExchangeError) as exc:
                log.info("lookup %d of %s failed: %s", attempt + 1, request.client_order_id, exc)
                found = None
            if found is not None:
                return found
            await asyncio.sleep(backoff(attempt, self._calls.retry))
        return None
