"""Which Exchange adapter serves an account: the shared paper venue, or a ccxt client per live account."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tradewire.adapters.live.ccxt_exchange import CcxtExchange, LiveAccount, RetryPolicy
from tradewire.adapters.live.guards import BreakerFactory, BudgetFactory, RateLimiter
from tradewire.adapters.live.markets import VenueMarkets
from tradewire.adapters.live.tickers import SharedPrices, TickerCache
from tradewire.adapters.metrics import UNMETERED, ExchangeCalls
from tradewire.adapters.paper.venue import PaperVenue
from tradewire.adapters.secrets_box import SecretBox, SecretsError
from tradewire.domain.members import AccountMode
from tradewire.domain.records import LiveVenue, StrategyVenues
from tradewire.domain.risk_alerts import BreakerOpening
from tradewire.domain.symbols import Resolution, SymbolCatalog, UnknownSymbol
from tradewire.ports import ErrorKind, Exchange, ExchangeError, ExchangeUnavailable

log = logging.getLogger("tradewire.exchanges")

LiveLoader = Callable[[int], dict[str, Any] | None]

# A venue's market list is loaded through one of its accounts; when an account cannot (its keys cannot
# be read, or the exchange refuses them), the next is tried, up to this many per load.
ACCOUNTS_TRIED_PER_LOAD = 5


class AccountExchanges:
    """Exchange ports per account: paper accounts share the paper venue; each live account gets one
    ccxt client (created on first use, kept for the life of the process)."""

    def __init__(
        self,
        paper: PaperVenue,
        live_loader: LiveLoader | None = None,
        secret_box: SecretBox | None = None,
        live_factory: Callable[..., CcxtExchange] = CcxtExchange,
        ticker_ttl_s: float = 10.0,
        timeout_ms: int = 10_000,
        retry: RetryPolicy | None = None,
        allow_private_urls: bool = False,
        markets_ttl_s: float = 3600.0,
        markets_retry_s: float = 30.0,
        calls: ExchangeCalls | None = None,
        on_breaker_open: Callable[[BreakerOpening], None] | None = None,
        budgets: BudgetFactory | None = None,
        shared_prices: Callable[[str], SharedPrices] | None = None,
        breakers: BreakerFactory | None = None,
    ) -> None:
        self._breakers = breakers  # each live account's circuit breaker, when shared between processes
        self._shared_prices = shared_prices  # each venue's prices, when shared between processes
        self._budgets = budgets  # each live account's request budget, when shared between processes
        self._on_breaker_open = on_breaker_open  # each live client's breaker opening, told to its owner
        self._calls = calls  # each live client's call time and errors (/metrics)
        self._retry = retry or RetryPolicy()
        self._allow_private_urls = allow_private_urls
        self._ticker_ttl = ticker_ttl_s
        self._markets_ttl = markets_ttl_s
        self._markets_retry = markets_retry_s  # a failed market list load is tried again after this
        self._venues: dict[str, VenueMarkets] = {}
        self._keys: dict[LiveVenue, str] = {}  # each live account's venue key, computed once
        self._loading: dict[int, asyncio.Task[None]] = {}  # background loads, by id of the venue
        self._paper_catalog = SymbolCatalog.of(
            paper.markets, {m.id: m.symbol for m in paper.markets.values()}
        )
        self._timeout_ms = timeout_ms
        self._paper = paper
        self._load = live_loader
        self._box = secret_box
        self._factory = live_factory
        self._live: dict[int, CcxtExchange] = {}
        self._tickers: dict[str, TickerCache] = {}
        self._in_flight: asyncio.Semaphore | None = None  # requests open at once, all live accounts
        self._public: dict[str, RateLimiter] = {}  # public-call budget per exchange

    def for_account(self, account_id: int, exchange: str, mode: str) -> Exchange:
        if mode == AccountMode.PAPER:
            return self._paper.account(account_id)
        live = self._live.get(account_id)
        if live is None:
            account = self._live_account(account_id, exchange)
            key = _ticker_key(account)
            tickers = self._tickers.get(key)
            if tickers is None:
                shared = self._shared_prices(key) if self._shared_prices else None
                tickers = self._tickers[key] = TickerCache(self._ticker_ttl, shared=shared)
            if self._in_flight is None:
                self._in_flight = asyncio.Semaphore(256)
            live = self._live[account_id] = self._factory(
                account,
                retry=self._retry,
                tickers=tickers,
                in_flight=self._in_flight,
                public_limiter=self._public.get(key),
                venue=self._venue(key, exchange),
                markets_ttl_s=self._markets_ttl,
                meter=self._calls.meter(exchange) if self._calls else UNMETERED,
                **({"on_breaker_open": self._on_breaker_open} if self._on_breaker_open else {}),
                **({"budgets": self._budgets} if self._budgets else {}),
                **({"breakers": self._breakers} if self._breakers else {}),
            )
            # The first account's client sets the budget (ccxt's rate for the exchange); others share it.
            self._public.setdefault(key, live.public_limiter)
        return live

    def live_accounts(self) -> dict[int, CcxtExchange]:
        """The live accounts in use so far."""
        return dict(self._live)

    def forget(self, account_id: int) -> None:
        """Drop a cached client (account deleted or its keys changed)."""
        self._live.pop(account_id, None)

    async def close(self) -> None:
        for task in self._loading.values():
            task.cancel()
        await asyncio.gather(*self._loading.values(), return_exceptions=True)
        # At once: each ccxt client pauses ~0.25 s to close, so one after another would take N × that.
        clients = list(self._live.values())
        closing = await asyncio.gather(*(live.close() for live in clients), return_exceptions=True)
        for account_id, result in zip(list(self._live), closing, strict=True):
            if isinstance(result, BaseException):
                log.warning("live account %s: its client did not close cleanly: %r", account_id, result)
        self._live.clear()

    # -- market lists: tickers are resolved against the venues a strategy's subscribers trade on ----

    def resolve(self, venues: StrategyVenues, ticker: str) -> Resolution:
        """Resolve a ticker against the market lists already loaded, without any I/O (the webhook's
        path). A venue whose list is not loaded yet is `unknown` and its load is started in the
        background."""
        listed: list[tuple[str, str]] = []
        lacking: list[str] = []
        unknown: dict[str, str] = {}
        if venues.paper:
            self._look_up("paper", self._paper_catalog, ticker, listed, lacking)
        for name, venue, refs in self._live_venues(venues.live):
            if venue.catalog is None:
                unknown[name] = _not_loaded(venue)
                self._load_soon(venue, refs)
            else:
                self._look_up(name, venue.catalog, ticker, listed, lacking)
        symbol = listed[0][1] if listed else None
        return Resolution(
            symbol=symbol,
            listed_on=tuple(dict.fromkeys(name for name, found in listed if found == symbol)),
            lacking=tuple(dict.fromkeys(lacking)),
            unknown=unknown,
        )

    async def resolve_loading(self, venues: StrategyVenues, ticker: str, timeout_s: float) -> Resolution:
        """Resolve after loading every venue list that is missing (routing's path, off the webhook)."""
        waits = []
        for _, venue, refs in self._live_venues(venues.live):
            if venue.catalog is None:
                waits.append(self._load_now(venue, refs))
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits, return_exceptions=True), timeout_s)
        return self.resolve(venues, ticker)

    def market_lists(self) -> list[dict[str, Any]]:
        """Each live venue's market list: loaded or not, its age, markets, and the last failure."""
        return [
            {
                "exchange": venue.name,
                "loaded": venue.loaded,
                "markets": len(venue.markets),
                "age_s": venue.age(),
                "error": venue.error,
            }
            for venue in self._venues.values()
        ]

    async def load_markets(self, venues: Iterable[LiveVenue]) -> None:
        """Load each venue's market list once, whatever the number of its accounts: those not loaded
        (a failed one again after `markets_retry_s`) and those older than `markets_ttl_s`. Failures
        are kept on the venue (the reason a webhook or an intent reports) and logged."""
        for _, venue, refs in self._live_venues(venues):
            age = venue.age()
            retry = self._markets_retry
            if (age >= self._markets_ttl) if age is not None else not venue.failed_within(retry):
                await self._load_now(venue, refs)

    async def keep_markets_loaded(
        self, venues_in_use: Callable[[], list[LiveVenue]], stop: asyncio.Event
    ) -> None:
        """At start and then every `markets_retry_s`: load the lists of the venues in use, refresh
        those older than `markets_ttl_s`, so the webhook finds them loaded."""
        while not stop.is_set():
            try:
                await self.load_markets(await asyncio.to_thread(venues_in_use))
            except Exception:
                log.exception("market lists could not be refreshed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._markets_retry)

    def _live_venues(self, refs: Iterable[LiveVenue]) -> list[tuple[str, VenueMarkets, list[LiveVenue]]]:
        """One entry per distinct venue: its display name, its shared market list, its accounts
        (the first few, in the order given: any of them can load the list)."""
        seen: dict[str, tuple[str, VenueMarkets, list[LiveVenue]]] = {}
        for ref in refs:
            key = self._keys.get(ref)
            if key is None:
                key = self._keys[ref] = venue_key(ref.exchange, ref.sandbox, dict(ref.api_urls))
            entry = seen.get(key)
            if entry is None:
                seen[key] = (ref.exchange, self._venue(key, ref.exchange), [ref])
            elif len(entry[2]) < ACCOUNTS_TRIED_PER_LOAD:
                entry[2].append(ref)
        return list(seen.values())

    def _venue(self, key: str, exchange: str) -> VenueMarkets:
        return self._venues.setdefault(key, VenueMarkets(exchange))

    @staticmethod
    def _look_up(
        name: str, catalog: SymbolCatalog, ticker: str, listed: list[tuple[str, str]], lacking: list[str]
    ) -> None:
        try:
            listed.append((name, catalog.resolve(ticker)))
        except UnknownSymbol:
            lacking.append(name)

    def _load_soon(self, venue: VenueMarkets, refs: list[LiveVenue]) -> None:
        key = id(venue)
        if key in self._loading or venue.failed_within(self._markets_retry):
            return
        with contextlib.suppress(RuntimeError):  # no running loop: the next routing loads it
            task = asyncio.get_running_loop().create_task(self._load_now(venue, refs))
            self._loading[key] = task
            task.add_done_callback(lambda _: self._loading.pop(key, None))

    async def _load_now(self, venue: VenueMarkets, refs: list[LiveVenue]) -> None:
        """Load the venue's list through the first of its accounts that can: an account whose keys
        cannot be read, or that the exchange refuses (ccxt reads some lists through private calls
        when keys are set), must not leave every other account on that exchange without a list."""
        for ref in refs:
            try:
                live = self.for_account(ref.account_id, ref.exchange, AccountMode.LIVE)
            except ExchangeUnavailable as exc:  # this account's client cannot be built: the next
                venue.failed(str(exc))
                log.warning("%s markets: account %s cannot be used: %s", venue.name, ref.account_id, exc)
                continue
            if not isinstance(live, CcxtExchange):
                return
            try:
                # Asked for explicitly (start, background, routing): load even after a recent failure.
                await live.reload_markets(only_if_older_than=self._markets_ttl)
                return
            except (ExchangeUnavailable, ExchangeError) as exc:
                venue.failed(str(exc))
                log.warning("%s markets could not be loaded: %s", venue.name, exc)
                if exc.kind is not ErrorKind.AUTHENTICATION:  # the exchange's failure, not the keys'
                    return
            except Exception as exc:  # a load that fails in an unexpected way must not end the caller
                venue.failed(f"{type(exc).__name__}: {exc}")
                log.exception("%s markets could not be loaded", venue.name)
                return

    def _live_account(self, account_id: int, exchange: str) -> LiveAccount:
        row = self._load(account_id) if self._load else None
        if row is None:
            raise ExchangeUnavailable(f"live account {account_id} not found")
        if self._box is None:
            raise ExchangeUnavailable("TRADEWIRE_ENCRYPTION_KEY is not set: live API keys cannot be read")
        try:
            secrets = {
                name: self._box.decrypt(row[f"{name}_enc"], f"account:{account_id}:{name}")
                if row.get(f"{name}_enc")
                else None
                for name in ("api_key", "api_secret", "api_password")
            }
        except SecretsError as exc:
            raise ExchangeUnavailable(f"API keys of account {account_id} cannot be decrypted: {exc}") from exc
        return LiveAccount(
            account_id=account_id,
            exchange=exchange,
            api_key=secrets["api_key"] or "",
            secret=secrets["api_secret"] or "",
            password=secrets["api_password"],
            sandbox=bool(row.get("sandbox")),
            api_urls=dict(row.get("api_urls") or {}),
            timeout_ms=self._timeout_ms,
            private_urls_allowed=self._allow_private_urls,
        )


def _ticker_key(account: LiveAccount) -> str:
    """Accounts share prices and markets when they reach the same exchange at the same addresses."""
    return venue_key(account.exchange, account.sandbox, account.api_urls)


def venue_key(exchange: str, sandbox: bool, api_urls: Mapping[str, str]) -> str:
    """What identifies one venue: the exchange, its sandbox flag and any overridden addresses."""
    urls = ",".join(f"{k}={v}" for k, v in sorted(api_urls.items()))
    return f"{exchange}|{bool(sandbox)}|{urls}"


def _not_loaded(venue: VenueMarkets) -> str:
    if venue.error:
        return f"{venue.name} markets could not be loaded: {venue.error}"
    return f"{venue.name} markets are not loaded yet"
