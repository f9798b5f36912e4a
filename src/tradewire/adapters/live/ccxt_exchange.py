"""The Exchange port on ccxt's async API: one client per exchange account.

Orders are idempotent: the client order id (derived from the execution intent) goes out with every
create. A failed create is a refusal only when the exchange definitively refused it (see
`errors.is_refusal`); any other failure (timeout, lost connection, any 5xx whatever its body, 429, an
error class nobody listed) is never simply repeated: the order is looked up by its client order id
first, and if it cannot be found the outcome stays unknown for the reconciler to settle. Reads and
cancels are retried with backoff and jitter on everything but a definitive answer.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import ccxt
import ccxt.async_support as ccxt_async

from tradewire.adapters.live.client_ids import dialect_for
from tradewire.adapters.live.clients import ClientError, Credentials, build_client, offers
from tradewire.adapters.live.errors import (
    answered,
    is_duplicate,
    is_not_found,
    is_refusal,
    kind_of,
    remember_http_status,
)
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
from tradewire.domain.money import to_decimal
from tradewire.domain.orders import ExchangeOrder, OrderRequest, OrderSide, OrderType, Trade
from tradewire.domain.risk_alerts import BreakerOpening
from tradewire.ports import ErrorKind, ExchangeError, ExchangeUnavailable, OrderOutcomeUnknown

log = logging.getLogger("tradewire.live")
T = TypeVar("T")


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


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_s: float = 0.2
    cap_s: float = 5.0
    lookup_attempts: int = 3  # lookups of an order after an unclear create


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
        self._retry = retry or RetryPolicy()
        # The account's breaker: shared by every process when `breakers` keeps it in Redis.
        self._breaker: Breaker = (
            breakers(account.account_id) if breakers and breaker is None else LocalBreaker(breaker)
        )
        rate = account.requests_per_second or 1000.0 / max(float(self.client.rateLimit or 50), 1.0)
        # The account's budget: shared by every process when `budgets` keeps it in Redis.
        burst = max(1.0, rate / 2)
        self._limiter: Budget = limiter or (
            budgets(account.account_id, rate, burst) if budgets else RateLimiter(rate=rate, burst=burst)
        )
        # Public calls (markets, tickers) spend a budget shared by every account of the exchange.
        self._public = public_limiter or RateLimiter(rate=rate, burst=max(1.0, rate / 2))
        # Markets are shared with the exchange's other accounts (one load for all of them).
        self._venue = venue or VenueMarkets(account.exchange)
        self._markets_ttl = markets_ttl_s
        self._tickers = tickers or TickerCache()
        self._stream: ccxt_async.Exchange | None = None  # ccxt pro client, created when first watched
        # Requests open at once over every live account of the process (sockets, memory).
        self._in_flight = in_flight or asyncio.Semaphore(256)
        self._meter = meter  # call time and errors, per exchange (/metrics)
        self._on_breaker_open = on_breaker_open  # tells the account's owner; never raises, never waits
        # What the health page shows: the last call's time and when, the last failure's kind and when.
        self._last_ms: float | None = None
        self._last_at: float | None = None
        self._error: str | None = None
        self._error_at: float | None = None

    @property
    def venue(self) -> VenueMarkets:
        """The exchange's market list, shared with its other accounts."""
        return self._venue

    @property
    def circuit(self) -> BreakerState:
        return self._breaker.state

    async def refresh_health(self) -> None:
        """Learn what other processes changed of the account's health (its shared breaker) before
        `health` or `circuit` is read."""
        await self._breaker.refresh()

    def health(self) -> ExchangeHealth:
        """The account's circuit, last latency, last failure (its kind) and rate-limit headroom."""
        return ExchangeHealth(
            account_id=self.account.account_id,
            exchange=self.account.exchange,
            circuit=self._breaker.state.value,
            retry_in_s=round(self._breaker.retry_in(), 1),
            last_latency_ms=None if self._last_ms is None else round(self._last_ms, 1),
            last_call_at=_at(self._last_at),
            last_error=self._error,
            last_error_at=_at(self._error_at),
            rate_per_s=round(self._limiter.rate, 3),
            headroom_pct=self._limiter.headroom_pct(),
            blocked_s=round(self._limiter.blocked_s(), 1),
        )

    def _timed_call(self, started: float) -> None:
        self._last_ms = (time.perf_counter() - started) * 1000
        self._last_at = time.time()

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
                raw = await self._read(
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
            lambda symbols: self._read(lambda: self.client.fetch_tickers(symbols), limiter=self._public),
            lambda one: self._read(lambda: self.client.fetch_ticker(one), limiter=self._public),
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
        rows = await self._read(
            lambda: self.client.fetch_ohlcv(symbol, timeframe, limit=limit), limiter=self._public
        )
        return [float(row[4]) for row in rows if row and row[4] is not None]

    async def fetch_balance(self) -> Mapping[str, Decimal]:
        raw = await self._read(self.client.fetch_balance)
        totals = raw.get("total") or {}
        return {asset: to_decimal(amount) for asset, amount in totals.items() if amount is not None}

    async def fetch_balance_detail(self) -> Mapping[str, AssetBalance]:
        """Free, used (in open orders) and total per asset, as the exchange reports them."""
        raw = await self._read(self.client.fetch_balance)
        free, used, total = (raw.get(part) or {} for part in ("free", "used", "total"))
        detail: dict[str, AssetBalance] = {}
        for asset in {*free, *used, *total}:
            parts = [_dec(side.get(asset)) for side in (free, used, total)]
            if all(p is None for p in parts):
                continue
            detail[asset] = AssetBalance.of(*parts)
        return detail

    async def create_order(self, request: OrderRequest) -> ExchangeOrder:
        """Place an order at most once; see the module docstring."""
        if not await self._breaker.allow():
            raise ExchangeUnavailable(
                f"{self.account.exchange} circuit open after repeated failures; retry in "
                f"{self._breaker.retry_in():.0f}s (the order was not sent)"
            )
        await self._limiter.acquire()
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
        started = time.perf_counter()
        try:
            async with self._in_flight, self._meter.timed():
                raw = await self.client.create_order(
                    request.symbol,
                    request.type.value,
                    request.side.value,
                    float(request.amount),
                    float(price) if price is not None else None,
                    params,
                )
        except Exception as exc:
            self._timed_call(started)
            return await self._after_failed_create(request, exc)
        self._timed_call(started)
        await self._breaker.success()
        if raw.get("status") is None:  # Bybit answers a create with ids only: ask for the order itself
            found = await self._lookup(request)
            if found is not None:
                return found
            raw = {**raw, "status": "open"}  # accepted (it has an id); the reconciler will see the rest
        order = self._order(raw, request)
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
        raw = await self._read(lambda: self._ids.fetch(self.client, symbol, client_order_id))
        return self._order(raw) if raw else None

    async def fetch_order_trades(self, symbol: str, exchange_order_id: str) -> tuple[Trade, ...]:
        """The order's executions from the account's trade history (ids, prices, fees of each)."""
        if self.client.has.get("fetchOrderTrades"):
            raws = await self._read(lambda: self.client.fetch_order_trades(exchange_order_id, symbol))
        else:
            raws = [
                t
                for t in await self._read(lambda: self.client.fetch_my_trades(symbol))
                if str(t.get("order")) == exchange_order_id
            ]
        return trades_from_ccxt(raws)

    async def fetch_open_orders(self, symbol: str | None = None) -> list[ExchangeOrder]:
        """Every open order of the account (one call), for batched reconciliation."""
        raws = await self._read(lambda: self.client.fetch_open_orders(symbol))
        return [self._order(raw) for raw in raws if raw.get("clientOrderId")]

    async def cancel_order(self, symbol: str, client_order_id: str) -> ExchangeOrder:
        """Cancel, then report the order as the exchange now has it (a lost race shows the fill)."""
        try:
            await self._read(lambda: self._ids.cancel(self.client, symbol, client_order_id))
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
                f"{kind_of(exc).value}: order stream: {_message(exc)}", kind_of(exc)
            ) from exc
        return [self._order(raw) for raw in raws if raw.get("clientOrderId")]

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
        await self._refused_or_unclear(exc)
        # Default-deny: anything else may have placed the order.
        log.warning(
            "order %s: unclear outcome (%s: %s); looking it up by client order id before anything else",
            request.client_order_id,
            type(exc).__name__,
            _message(exc),
        )
        found = await self._lookup(request)
        if found is not None:
            return found
        raise OrderOutcomeUnknown(f"{kind_of(exc).value}: {_message(exc)}") from exc

    async def _refused_or_unclear(self, exc: Exception) -> None:
        """Raise ExchangeError when `exc` is the exchange's refusal (it answered: it is up). Otherwise
        the outcome is unclear: the breaker hears whether the exchange answered at all, and a
        Retry-After it sent is kept."""
        self._meter.error(kind_of(exc).value)
        self._error, self._error_at = kind_of(exc).value, time.time()
        if is_refusal(exc):
            await self._breaker.success()
            raise ExchangeError(f"{kind_of(exc).value}: {_message(exc)}", kind_of(exc)) from exc
        if answered(exc):
            await self._breaker.success()
        elif await self._breaker.failure():
            self._breaker_opened(kind_of(exc).value)
        self._note_retry_after()

    def _breaker_opened(self, kind: str) -> None:
        """Log the breaker's opening and hand it to `on_breaker_open` (which schedules, never waits);
        whatever that does, the call that failed goes on as it would have."""
        breaker, account = self._breaker, self.account
        log.warning(
            "%s account %s: circuit open after %d failed calls (%s); none for %.0f s",
            account.exchange,
            account.account_id,
            breaker.threshold,
            kind,
            breaker.cooldown_s,
        )
        if self._on_breaker_open is None:
            return
        opening = BreakerOpening(
            account.account_id,
            account.exchange,
            breaker.threshold,
            breaker.cooldown_s,
            kind,
            once=breaker.opening(),  # a shared breaker's opening is told once, whoever reports it
        )
        try:
            self._on_breaker_open(opening)
        except Exception:
            log.exception("account %s: the circuit's opening could not be told", account.account_id)

    async def _lookup(self, request: OrderRequest) -> ExchangeOrder | None:
        for attempt in range(self._retry.lookup_attempts):
            try:
                found = await self.fetch_order(request.symbol, request.client_order_id)
            except (ExchangeUnavailable, ExchangeError) as exc:
                log.info("lookup %d of %s failed: %s", attempt + 1, request.client_order_id, exc)
                found = None
            if found is not None:
                return found
            await asyncio.sleep(_backoff(attempt, self._retry))
        return None

    async def _read(self, call: Callable[[], Awaitable[T]], limiter: RateLimiter | None = None) -> T:
        """A read or cancel: retried with exponential backoff and jitter on every failure that is not a
        definitive answer; ExchangeError means the exchange answered (refused, or no such order),
        ExchangeUnavailable that it could not be asked or never gave an answer to rely on."""
        last: Exception | None = None
        for attempt in range(self._retry.attempts):
            if not await self._breaker.allow():
                raise ExchangeUnavailable(
                    f"{ErrorKind.UNAVAILABLE.value}: {self.account.exchange} circuit open after "
                    f"repeated failures; retry in {self._breaker.retry_in():.0f}s"
                )
            await (limiter or self._limiter).acquire()
            started = time.perf_counter()
            try:
                async with self._in_flight, self._meter.timed():
                    result = await call()
            except Exception as exc:
                self._timed_call(started)
                if is_not_found(exc):  # a definitive answer about the order (a cancel of an unknown id)
                    await self._breaker.success()
                    raise ExchangeError(f"order not found: {_message(exc)}", ErrorKind.INVALID_ORDER) from exc
                await self._refused_or_unclear(exc)
                # Anything else is not an answer to rely on: asked again, then reported unavailable.
                last = exc
                await asyncio.sleep(_backoff(attempt, self._retry))
                continue
            self._timed_call(started)
            await self._breaker.success()
            return result
        assert last is not None
        raise ExchangeUnavailable(f"{kind_of(last).value}: {_message(last)}", kind_of(last)) from last

    def _note_retry_after(self) -> None:
        headers = getattr(self.client, "last_response_headers", None) or {}
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        try:
            seconds = float(value) if value is not None else 0.0
        except ValueError:
            seconds = 0.0
        if seconds > 0:
            self._limiter.penalize(seconds)

    def _order(self, raw: Mapping[str, Any], request: OrderRequest | None = None) -> ExchangeOrder:
        return order_from_ccxt(raw, request)


def order_from_ccxt(raw: Mapping[str, Any], request: OrderRequest | None = None) -> ExchangeOrder:
    """ccxt's unified order structure as our ExchangeOrder (missing fields filled from the request)."""
    amount = _dec(raw.get("amount")) or (request.amount if request else Decimal(0))
    filled = _dec(raw.get("filled")) or Decimal(0)
    fee = raw.get("fee") or {}
    fees = raw.get("fees") or ([fee] if fee else [])
    fee_total = sum((_dec(f.get("cost")) or Decimal(0) for f in fees), Decimal(0)) if fees else None
    trades = trades_from_ccxt(raw.get("trades") or [])
    side = raw.get("side") or (request.side.value if request else "buy")
    kind = raw.get("type") or (request.type.value if request else "market")
    return ExchangeOrder(
        exchange_order_id=str(raw.get("id") or ""),
        client_order_id=str(raw.get("clientOrderId") or (request.client_order_id if request else "")),
        symbol=str(raw.get("symbol") or (request.symbol if request else "")),
        side=OrderSide(side),
        type=OrderType(kind) if kind in ("market", "limit") else OrderType.LIMIT,
        status=str(raw.get("status") or "open"),
        amount=amount,
        filled=filled,
        average=_dec(raw.get("average")),
        price=_dec(raw.get("price")),
        trades=trades,
        fee=fee_total,
        fee_currency=(fees[0].get("currency") if fees else None),
    )


def trades_from_ccxt(raws: Sequence[Mapping[str, Any]]) -> tuple[Trade, ...]:
    """ccxt's unified trade structures (those with an id) as our Trades, oldest first."""
    trades = [
        Trade(
            trade_id=str(t["id"]),
            amount=_dec(t.get("amount")) or Decimal(0),
            price=_dec(t.get("price")) or Decimal(0),
            fee=_dec((t.get("fee") or {}).get("cost")) or Decimal(0),
            fee_currency=str((t.get("fee") or {}).get("currency") or ""),
            timestamp_ms=int(t.get("timestamp") or 0),
        )
        for t in raws
        if t.get("id") is not None
    ]
    return tuple(sorted(trades, key=lambda t: (t.timestamp_ms, t.trade_id)))


def _dec(value: Any) -> Decimal | None:
    return None if value is None or value == "" else to_decimal(value)


def _backoff(attempt: int, policy: RetryPolicy) -> float:
    delay = min(policy.cap_s, policy.base_s * 2.0**attempt)
    jitter: float = random.uniform(0, delay / 2)  # noqa: S311 (jitter, not security)
    return delay / 2 + jitter


def _message(exc: BaseException) -> str:
    """The exception's text on one line (an edge's HTML page included), at most 300 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _at(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)
