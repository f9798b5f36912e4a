"""Wires settings to adapters and services: the one place that knows which implementation is used."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from tradewire.adapters.account_guards import ExchangeAccountGuards
from tradewire.adapters.ai import LazyVision, render_chart
from tradewire.adapters.bus import InProcessBus
from tradewire.adapters.candles_parquet import ParquetArchive
from tradewire.adapters.clock import SystemClock
from tradewire.adapters.event_relay import Notifiers, RedisEventRelay
from tradewire.adapters.exchanges import AccountExchanges
from tradewire.adapters.health import Check, HealthChecks
from tradewire.adapters.live.addresses import check_urls
from tradewire.adapters.live.candles import PublicCandles
from tradewire.adapters.live.ccxt_exchange import RetryPolicy
from tradewire.adapters.live.shared_limits import SharedLimits
from tradewire.adapters.live.shared_tickers import SharedTickers
from tradewire.adapters.live.trade_candles import TradeCandles
from tradewire.adapters.metrics import ExchangeCalls, Meters
from tradewire.adapters.ml.validate import ChildProcessValidator
from tradewire.adapters.paper.catalog import demo_markets
from tradewire.adapters.paper.feed import ReplayFeed, build_demo_feed
from tradewire.adapters.paper.live_prices import PublicPriceFeed
from tradewire.adapters.paper.shared_prices import PriceBoard
from tradewire.adapters.paper.venue import PaperVenue
from tradewire.adapters.passwords import ScryptPasswords, verify_secret
from tradewire.adapters.rate_limits import RateLimits
from tradewire.adapters.secrets_box import SecretBox, SecretsError, decode_key
from tradewire.adapters.store.admin import SqlAdmin
from tradewire.adapters.store.ai import SqlAi
from tradewire.adapters.store.audit import SqlAudit
from tradewire.adapters.store.backtests import SqlBacktests
from tradewire.adapters.store.db import make_engine, private_dir, upgrade
from tradewire.adapters.store.events import SqlEvents
from tradewire.adapters.store.exports import SqlExports
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.models import SqlModels
from tradewire.adapters.store.platform import SqlPlatform
from tradewire.adapters.store.reports import SqlReports
from tradewire.adapters.store.server_lock import ServerLock, ServerRunning
from tradewire.adapters.store.signin import SqlSignIn
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.two_factor import SqlTwoFactor
from tradewire.adapters.worker_beacon import WorkerBeacon
from tradewire.config import Settings
from tradewire.domain.candles import Candles
from tradewire.domain.members import Role
from tradewire.domain.ml.strategy import Predictor
from tradewire.domain.signin import PasswordPolicy, ThrottlePolicy
from tradewire.domain.symbols import SymbolCatalog
from tradewire.logs import watch_problems
from tradewire.partitioned_wiring import LeaderTasks, Partitioned, build_partitioned
from tradewire.ports import CandleSource, Clock, RunningBus
from tradewire.ports.events import EventNotifier
from tradewire.ports.ownership import Ownership
from tradewire.ports.rate_limits import RateLimiter
from tradewire.services.admin import Administration
from tradewire.services.ai_setup import AiSetup, UrlCheck
from tradewire.services.audit import AttemptBudget, AuditTrail
from tradewire.services.backtests import BACKTEST_QUEUED, BacktestService
from tradewire.services.breaker_alerts import BreakerAlerts
from tradewire.services.chart_analyst import ChartAnalyst
from tradewire.services.confirmations import Confirmations
from tradewire.services.event_hub import EventHub
from tradewire.services.execution import Executor
from tradewire.services.exports import Exports
from tradewire.services.handover import HandedCloser, HandedSync
from tradewire.services.health_details import HealthDetails
from tradewire.services.ingest import SignalIngest
from tradewire.services.live_marks import LiveMarks
from tradewire.services.members import Marketplace, build_marketplace
from tradewire.services.monitor import ExitMonitor
from tradewire.services.ownership import AllMine, SharedOwnership
from tradewire.services.pipeline import Pipeline
from tradewire.services.reconcile import ReconcilePolicy, Reconciler
from tradewire.services.records import Records
from tradewire.services.risk_usage import RiskUsage
from tradewire.services.routing import SignalRouter
from tradewire.services.signin import SignIn
from tradewire.services.strategy_runner import StrategyRunner
from tradewire.services.streams import OrderStreams
from tradewire.services.two_factor import TwoFactor
from tradewire.services.valuation import Valuations
from tradewire.telegram_wiring import Telegram, build_telegram
from tradewire.webhooks_wiring import Webhooks, build_webhooks

log = logging.getLogger("tradewire.runtime")


class AccountSync(Protocol):
    async def sync_account(self, account_id: int) -> int: ...


class StartupError(RuntimeError):
    """The platform cannot start safely with this configuration."""


@dataclass
class Runtime:
    """Everything one server process runs."""

    settings: Settings
    engine: Engine
    store: SqlStore
    members: SqlMembers
    models: SqlModels
    reports: SqlReports
    feed: ReplayFeed
    venue: PaperVenue
    bus: RunningBus
    clock: Clock
    ingest: SignalIngest
    pipeline: Pipeline
    secret_box: SecretBox | None
    jwt_secret: str
    catalog: SymbolCatalog
    exchanges: AccountExchanges
    reconciler: Reconciler
    monitor: ExitMonitor
    strategies: StrategyRunner
    candles: CandleSources
    backtests: BacktestService
    valuations: Valuations
    marketplace: Marketplace
    records: Records
    risk: RiskUsage  # how much of each risk limit subscriptions use now
    exports: Exports
    health: HealthChecks
    health_details: HealthDetails  # the Health page: checks, monitor lag, clients, exchanges, errors
    meters: Meters
    events: EventHub  # the live channel's delivery of the events outbox
    marks: LiveMarks  # open positions of connected users marked every few seconds (not events)
    signin: SignIn
    rate_limits: RateLimiter
    admin: Administration
    confirmations: Confirmations  # confirm before trade: every channel's answers to proposed entries
    ai: AiSetup  # AI endpoints, prompts and analyses (the analyst runs inside `strategies`)
    audit: AuditTrail
    telegram: Telegram
    breakers: BreakerAlerts  # live accounts' circuit breakers opening, told to their owners
    webhooks: Webhooks  # outgoing webhooks: setup, and the deliveries loop
    server_lock: ServerLock  # one server per database (adapters/store/server_lock.py)
    syncs: AccountSync  # "check this account now": the reconciler, or a worker through the bus (role api)
    prices: PriceBoard  # the paper market's prices, shared with API processes
    budgets: SharedLimits | None  # live accounts' request budgets in Redis, shared by split processes
    tickers: SharedTickers | None  # live venues' prices in Redis, shared by split processes
    relay: RedisEventRelay | None  # split processes: commits' live-channel wake-ups through Redis
    beacon: WorkerBeacon | None  # split processes: the active worker's status, for API processes
    ownership: Ownership  # the accounts this process trades for (all, unless several workers share them)
    partitioned: Partitioned | None  # several active workers (TRADEWIRE_WORKER_PARTITIONS)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    # Beside other workers: set once this worker leads and has the exchange's prices (it moves the
    # paper market from then on; until then it follows the prices the last leader shared).
    _moves_market: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def claim_database(self) -> None:
        """Hold the database for this server (StartupError when another server holds it): taken
        before anything is served, and again (a no-op) when the server starts."""
        try:
            self.server_lock.take(self.settings.server_lock_wait_s)
        except ServerRunning as exc:
            raise StartupError(str(exc)) from None

    async def start(self) -> None:
        """Recover what a previous process left, then run the trading loop in the background (an API
        process, TRADEWIRE_ROLE=api, runs no trading loop: workers do)."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self.settings.role == "api":
            await self.venue.start()
            await self.bus.start()
            await self.backtests.start()
            await self.prices.follow()
            self._tasks = [
                loop.create_task(self.prices.run_following(self.settings.feed_interval_s, self._stop)),
                loop.create_task(self.events.run(self._stop)),
                *([loop.create_task(self.relay.listen(self.events, self._stop))] if self.relay else []),
                *([loop.create_task(self.beacon.run_reading(self._stop))] if self.beacon else []),
                loop.create_task(self.marks.run(self._stop)),
            ]
            return
        if self.partitioned is not None:
            await self._start_partitioned(self.partitioned)
            return
        if self.settings.role == "worker":
            await self._stand_by()
        else:
            await asyncio.to_thread(self.claim_database)
        await self.venue.start()
        public = self._public_prices()
        if public is not None:
            # The exchange's prices before anything trades: recovery fills orders and the exit monitor
            # judges stops at the feed's price, which until then is the replay's or the simulation's
            # (a worker taking over stopped out every position at a price the market never had).
            await public.refresh()
        await self.bus.start()
        await self.pipeline.recover()
        if self.strategies.analyst is not None:
            await self.strategies.analyst.recover()
        await self.backtests.start()
        self._tasks = [
            loop.create_task(self.pipeline.run(self._stop)),
            loop.create_task(self._run_market(self._stop)),
            loop.create_task(self.monitor.run(self._stop)),
            loop.create_task(self.strategies.run(self._stop)),
            loop.create_task(self.exchanges.keep_markets_loaded(self.store.live_venues_in_use, self._stop)),
        ]
        if self.beacon is not None:  # a worker: API processes show it as the active one
            self._tasks.append(
                loop.create_task(self.beacon.run_beating(lambda: self.monitor.stats, self._stop))
            )
        if self.settings.role == "all":  # a worker has no clients: API processes serve the live channel
            self._tasks += [
                loop.create_task(self.events.run(self._stop)),
                loop.create_task(self.marks.run(self._stop)),
            ]
        self._tasks += [loop.create_task(run(self._stop)) for run in self.telegram.loops()]
        self._tasks += [loop.create_task(run(self._stop)) for run in self.webhooks.loops()]
        if public is not None:
            self._tasks.append(
                loop.create_task(public.run(self.settings.paper_prices_interval_s, self._stop))
            )
        if self.settings.exchange_streams:
            streams = OrderStreams(self.exchanges.live_accounts, self.reconciler)
            self._tasks.append(loop.create_task(streams.run(self._stop)))

    def _public_prices(self) -> PublicPriceFeed | None:
        if not self.settings.paper_prices_from:
            return None
        return PublicPriceFeed(
            self.settings.paper_prices_from,
            self.feed,
            list(self.venue.markets),
            self.settings.paper_prices_urls,
            self.settings.exchange_timeout_ms,
        )

    async def _start_partitioned(self, partitioned: Partitioned) -> None:
        """A worker beside other active workers: join them, take a share of the partitions, trade for
        their accounts; the leader (partition 0's holder) also runs the work only one worker may."""
        loop = asyncio.get_running_loop()
        await self.venue.start()  # no account's books yet: they are loaded as partitions are taken
        await self.prices.follow()  # the paper market as the leader last shared it
        await self.bus.start()
        await partitioned.join(self._stop)
        public = self._public_prices()
        if public is not None and self.ownership.leader:
            await public.refresh()  # before the exit monitor judges a stop (see start)
        await self.pipeline.recover()

        async def lead() -> None:
            if public is not None:
                await public.refresh()  # before this worker moves the market (see start)
            self._moves_market = True
            if self.strategies.analyst is not None:  # analyses a dead process left pending
                await self.strategies.analyst.recover()
            await self.backtests.start()

        leader_loops: list[Callable[[asyncio.Event], Awaitable[None]]] = [
            *self.telegram.loops(),
            *self.webhooks.loops(),
        ]
        if self.beacon is not None:
            beacon = self.beacon
            leader_loops.append(lambda stop: beacon.run_beating(lambda: self.monitor.stats, stop))
        if public is not None:
            leader_loops.append(lambda stop: public.run(self.settings.paper_prices_interval_s, stop))
        if self.settings.exchange_streams:
            leader_loops.append(OrderStreams(self.exchanges.live_accounts, self.reconciler).run)

        async def follow() -> None:
            self._moves_market = False
            await self.backtests.stop()

        leader = LeaderTasks(self.ownership_shared, leader_loops, on_lead=lead, on_follow=follow)
        self._tasks = [
            loop.create_task(partitioned.ownership.run(self._stop)),
            loop.create_task(partitioned.wakeups.run(self._stop)),
            loop.create_task(leader.run(self._stop)),
            loop.create_task(self.pipeline.run(self._stop)),
            loop.create_task(self._run_market(self._stop)),
            loop.create_task(self.monitor.run(self._stop)),
            # Each worker evaluates its partitions' strategies (the leader those on the paper market).
            loop.create_task(self.strategies.run(self._stop)),
            loop.create_task(self.exchanges.keep_markets_loaded(self.store.live_venues_in_use, self._stop)),
        ]

    @property
    def ownership_shared(self) -> SharedOwnership:
        assert self.partitioned is not None
        return self.partitioned.ownership

    async def _stand_by(self) -> None:
        """A worker waits until no other worker (or all-in-one server) holds the database: one is
        active at a time, the others take over when it ends or dies (PostgreSQL frees a dead
        process's advisory lock, the kernel its flock)."""
        told = False
        while True:
            try:
                await asyncio.to_thread(self.server_lock.take, 0.0)
                if told:
                    log.info("worker: the database is free; this worker is active now")
                return
            except ServerRunning as exc:
                if not told:
                    log.info("worker: standing by (%s)", exc)
                    told = True
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.partitioned is not None:
            try:  # the books of every partition saved, then given back to the other workers
                await self.partitioned.ownership.leave()
            except Exception:
                log.exception("worker: could not give back its partitions cleanly")
            await self.partitioned.wakeups.close()
        await self.backtests.stop()
        try:
            await self.monitor.flush()
        except Exception:
            log.exception("could not save trailing stops' best prices")
        await self.bus.stop()
        await self.breakers.settle()
        await self.exchanges.close()
        if self.budgets is not None:
            await self.budgets.close()
        if self.tickers is not None:
            await self.tickers.close()
        if self.relay is not None:
            self.relay.close()
        await self.candles.close()
        self.server_lock.release()

    def backtest_chart_png(self, row: Mapping[str, Any]) -> bytes:
        """A stored backtest's chart: price and trades, equity, drawdown (ValueError when its stored
        result cannot be charted)."""
        from tradewire.adapters.charts import stored_chart_png  # matplotlib loads on the first chart

        symbols = list(row["symbols"])
        title = f"Backtest #{row['id']}: {row['strategy_name']} {', '.join(symbols)} {row['timeframe']}"
        return stored_chart_png(row["result"], title, symbols, self.backtests.candles_of(row))

    async def _run_market(self, stop: asyncio.Event) -> None:
        """Advance the paper market and fill resting paper limit orders the price reached."""
        while not stop.is_set():
            # Beside other workers, the leader moves the market and the others follow its prices.
            leads = self.partitioned is None or self._moves_market
            if leads:
                self.feed.step()
            else:
                try:
                    await self.prices.follow()
                except Exception:
                    log.exception("could not read the paper market's prices; matching at the last ones")
            try:
                async with self.ownership.hold():
                    await self.venue.match_resting_orders()
            except Exception:
                log.exception("paper matching failed")
            if leads and self.settings.role == "worker":  # API processes show and value at these prices
                try:
                    await self.prices.publish()
                except Exception:
                    log.exception("could not share the paper market's prices")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.feed_interval_s)


class CandleSources:
    """Where the platform's own strategies read closed candles: the paper market, or an exchange's
    public API (one client per exchange, opened on first use); 1 s candles from the exchange's public
    trade stream (only for the symbols `follow` names)."""

    def __init__(
        self,
        feed: ReplayFeed,
        urls: dict[str, dict[str, str]],
        timeout_ms: int,
        seconds_capacity: int = 2_000,
        seconds_grace_ms: int = 250,
    ) -> None:
        self._feed = feed
        self._urls = urls
        self._timeout = timeout_ms
        self._capacity = seconds_capacity
        self._grace_ms = seconds_grace_ms
        self._public: dict[str, PublicCandles] = {}
        self._trades: dict[str, TradeCandles] = {}

    def for_name(self, name: str) -> CandleSource | None:
        if name == "paper":
            return _PaperCandles(self._feed)
        if name not in self._public:
            try:
                self._public[name] = PublicCandles(name, self._urls.get(name), self._timeout)
            except ValueError as exc:
                log.error("candles from %r: %s", name, exc)
                return None
        return _ExchangeCandles(self._public[name], self._trades.get(name))

    def follow(self, wanted: Mapping[str, frozenset[str]]) -> None:
        """Stream the public trades of exactly these symbols per exchange (for 1 s strategies)."""
        for name in wanted.keys() - self._trades.keys():
            self._trades[name] = TradeCandles(
                name, self._urls.get(name), self._timeout, capacity=self._capacity, grace_ms=self._grace_ms
            )
        for name, source in self._trades.items():
            source.follow(wanted.get(name, frozenset()))

    async def close(self) -> None:
        for client in self._public.values():
            await client.close()
        for source in self._trades.values():
            await source.close()


class _ExchangeCandles:
    """An exchange's candles: 1 s ones from its trade stream, the others from its REST API."""

    def __init__(self, public: PublicCandles, trades: TradeCandles | None) -> None:
        self._public = public
        self._trades = trades

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        if timeframe == "1s":
            return (
                None if self._trades is None else await self._trades.closed_candles(symbol, timeframe, limit)
            )
        return await self._public.closed_candles(symbol, timeframe, limit)


class _PaperCandles:
    def __init__(self, feed: ReplayFeed) -> None:
        self._feed = feed

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        return self._feed.closed_candles(symbol, timeframe, limit)


def tune_gc(threshold: int = 50_000) -> None:
    """Server-process garbage collection: fewer young-generation passes while a fan-out allocates.

    A 1,000-subscriber signal allocates hundreds of thousands of short-lived objects; CPython's
    default threshold (700) runs a collection every few hundred of them, which measured ~25 % of a
    fan-out's time. Objects alive after start-up are frozen out of collections altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, 20, 50)


def build_bus(settings: Settings) -> RunningBus:
    """The in-process bus (the embedded default), or Redis Streams shared by every process."""
    if settings.bus == "redis":
        from tradewire.adapters.redis_bus import RedisStreamsBus

        return RedisStreamsBus(
            settings.redis_url,
            settings.bus_prefix,
            max_deliveries=settings.bus_max_deliveries,
            claim_idle_s=settings.bus_claim_idle_s,
            maxlen=settings.bus_stream_maxlen,
        )
    return InProcessBus()


def build_runtime(settings: Settings, migrate: bool = True, clock: Clock | None = None) -> Runtime:
    """Build every adapter and service for `settings` (on `clock`, the wall clock by default); raises
    StartupError on unsafe configuration."""
    private_dir(settings.var_dir)
    engine = make_engine(settings.effective_database_url)
    if migrate:
        upgrade(engine)
    members = SqlMembers(engine)
    secret_box = _secret_box(settings)
    if secret_box is None and members.live_account_count() > 0:
        raise StartupError(
            "live exchange accounts exist but TRADEWIRE_ENCRYPTION_KEY is not set; "
            "set it to the key their API keys were encrypted with"
        )
    markets = demo_markets()
    feed = build_demo_feed(settings.effective_data_dir, markets, seed=settings.feed_seed)
    events = EventHub(
        SqlEvents(engine),
        SystemClock(),
        queue_limit=settings.ws_send_queue,
        catch_up_s=settings.ws_catch_up_s,
        retention=timedelta(hours=settings.events_retention_hours),
        prune_every_s=settings.events_prune_interval_s,
        prune_batch=settings.events_prune_batch,
    )
    # Split processes tell each other of their commits' events (the worker commits, API processes serve).
    split = settings.role != "all"
    relay = RedisEventRelay(settings.redis_url, f"{settings.bus_prefix}:events") if split else None
    notifier: EventNotifier = Notifiers([events, relay]) if relay else events
    venue = PaperVenue(
        engine,
        feed,
        markets,
        fee_rate=Decimal(settings.paper_fee_rate),
        starting_balance={settings.paper_quote_currency: Decimal(settings.paper_starting_balance)},
        notifier=notifier,
        keeps_books=settings.role != "api",
    )
    partitioned = build_partitioned(settings, engine)
    ownership: Ownership = partitioned.ownership if partitioned is not None else AllMine()
    if partitioned is not None:
        venue.partition(partitioned.ownership.count)  # books loaded as partitions are taken
    store = SqlStore(engine, late_fill_checks_s=settings.late_fill_checks_s, notifier=notifier)
    bus = build_bus(settings)
    clock = clock or SystemClock()
    calls = ExchangeCalls()
    breakers = BreakerAlerts(store, clock)
    # Split processes spend one budget per live account: an API process reading balances and the worker
    # placing orders use the same API key (and share its circuit breaker: budgets.breaker).
    budgets = SharedLimits(settings.redis_url, settings.bus_prefix) if split else None
    # ... and ask an exchange for a venue's tickers once for all of them (marks, the exit monitor).
    keep_s = max(60.0, 6 * settings.ticker_ttl_s)
    tickers = SharedTickers(settings.redis_url, settings.bus_prefix, keep_s) if split else None
    exchanges = AccountExchanges(
        venue,
        members.live_account,
        secret_box,
        ticker_ttl_s=settings.ticker_ttl_s,
        timeout_ms=settings.exchange_timeout_ms,
        retry=RetryPolicy(base_s=settings.exchange_retry_base_s),
        allow_private_urls=settings.allow_private_exchange_urls,
        markets_ttl_s=settings.markets_refresh_s,
        markets_retry_s=settings.markets_retry_s,
        calls=calls,
        on_breaker_open=breakers.opened,
        budgets=budgets.limiter if budgets else None,
        breakers=budgets.breaker if budgets else None,
        shared_prices=tickers.for_venue if tickers else None,
    )
    catalog = SymbolCatalog.of(markets, {m.id: m.symbol for m in markets.values()})
    ingest = SignalIngest(store, exchanges, bus, clock, verify_secret)
    candles = CandleSources(
        feed,
        settings.candles_urls,
        settings.exchange_timeout_ms,
        settings.second_candles_capacity,
        settings.second_candles_grace_ms,
    )
    executor = Executor(store, exchanges, bus, clock)
    confirmations = Confirmations(store, bus, clock)
    reconciler = Reconciler(
        store,
        exchanges,
        clock,
        ReconcilePolicy(
            lost_after_s=settings.lost_order_after_s,
            lost_after_checks=settings.lost_order_checks,
            limit_order_timeout_s=settings.limit_order_timeout_s,
        ),
    )
    pipeline = Pipeline(
        store,
        SignalRouter(
            store,
            clock,
            feed.last_price,
            exchanges,
            # A market list still loading when routing needs it: a few requests' time, then decide.
            resolve_timeout_s=settings.exchange_timeout_ms / 1000 + 5.0,
        ),
        executor,
        reconciler,
        # An API process routes and executes nothing: its pipeline listens to a bus nobody uses.
        InProcessBus() if settings.role == "api" else bus,
        clock,
        sweep_interval_s=settings.reconcile_interval_s,
        confirmations=confirmations,
        ownership=ownership,
        wakeups=partitioned.wakeups if partitioned is not None else None,
    )
    monitor = ExitMonitor(
        store, exchanges, clock, executor.resume, interval_s=settings.monitor_interval_s, ownership=ownership
    )
    valuations = Valuations(
        exchanges,
        clock,
        # A request's timeout and the retries' pauses; then the answer says the exchange did not reply.
        timeout_s=settings.exchange_timeout_ms / 1000 + 5.0,
        balance_ttl_s=settings.balance_ttl_s,
    )
    reports = SqlReports(engine)
    models = SqlModels(engine, _load_model, lookup_ttl_s=settings.model_lookup_ttl_s)
    ai_store = SqlAi(engine)
    analyst = ChartAnalyst(
        ai_store,
        LazyVision(
            timeout_s=settings.ai_timeout_s,
            breaker_threshold=settings.ai_breaker_failures,
            breaker_cooldown_s=settings.ai_breaker_cooldown_s,
            allow_private=settings.allow_private_ai_urls,
        ),
        render_chart,
        secret_box,
        ingest,
        clock,
        # A call lasts the timeout at most, twice when a malformed answer is asked again.
        stale_after_s=2 * settings.ai_timeout_s + 60,
    )
    passwords = ScryptPasswords()
    marketplace = build_marketplace(
        members,
        passwords,
        ExchangeAccountGuards(secret_box, exchanges, settings.allow_private_exchange_urls),
        exchanges,
        clock,
        paper_pairs=catalog,
        paper_markets=venue.markets,
        markets_timeout_s=settings.exchange_timeout_ms / 1000 + 5,
        signup_enabled=settings.signup_enabled,
        signup_role=Role(settings.signup_role),
        models=models,
        validator=ChildProcessValidator(),
        password_policy=PasswordPolicy(min_length=settings.password_min_length),
        ai=ai_store,
        telegram_bot=settings.telegram_token is not None,
        cache_ttl_s=settings.marketplace_cache_ttl_s,
    )
    signin = SignIn(
        SqlSignIn(engine),
        marketplace.logins,
        passwords,
        clock,
        refresh_ttl=timedelta(days=settings.refresh_token_days),
        throttle=ThrottlePolicy(
            free_failures=settings.signin_free_failures,
            lock_after=settings.signin_lock_after,
            lock_s=settings.signin_lock_minutes * 60,
        ),
        known_for=timedelta(days=settings.signin_known_address_days),
        two_factor=TwoFactor(SqlTwoFactor(engine), secret_box, clock),
    )
    events.live_sessions = signin.live_sessions
    events.session_check_s = settings.ws_session_check_s
    api_only = settings.role == "api"
    # A manual close (Telegram's in a worker) and "sync now" go to the account's owner: the worker
    # beside API processes, or whichever worker owns the account when several share them.
    hands_over = api_only or partitioned is not None
    # Split processes: the active worker tells API processes it is there, with its monitor's figures.
    beacon = WorkerBeacon(settings.redis_url, settings.bus_prefix) if split else None
    closer = HandedCloser(store, bus, clock) if hands_over else monitor
    records = Records(reports, store.watched_position, valuations, closer)
    health = HealthChecks(engine, bus.problem, settings.health_timeout_s)
    runtime = Runtime(
        breakers=breakers,
        settings=settings,
        engine=engine,
        store=store,
        members=members,
        models=models,
        reports=reports,
        feed=feed,
        venue=venue,
        bus=bus,
        clock=clock,
        ingest=ingest,
        pipeline=pipeline,
        secret_box=secret_box,
        jwt_secret=_jwt_secret(settings),
        catalog=catalog,
        exchanges=exchanges,
        reconciler=reconciler,
        strategies=StrategyRunner(
            store,
            ingest,
            candles.for_name,
            clock,
            interval_s=settings.strategy_interval_s,
            models=models,
            analyst=analyst,
            follow_trades=candles.follow,
            seconds_interval_s=settings.seconds_strategy_interval_s,
            ownership=ownership,
        ),
        candles=candles,
        monitor=monitor,
        backtests=BacktestService(
            SqlBacktests(engine, notifier=notifier),
            clock,
            ParquetArchive.at(settings.effective_data_dir),
            models=models,
            analyses=ai_store,
            # Beside workers, an API process stores backtests and the active worker runs them.
            runs_here=not api_only,
            bus=bus,
        ),
        valuations=valuations,
        marketplace=marketplace,
        records=records,
        risk=RiskUsage(
            marketplace.accounts,
            marketplace.subscriptions,
            store,
            valuations,
            exchanges,
            clock,
            settings.paper_quote_currency,
            timeout_s=valuations.timeout_s,
        ),
        exports=Exports(SqlExports(engine)),
        health=health,
        health_details=HealthDetails(
            _with_worker(health.run, beacon) if beacon and api_only else health.run,
            exchanges.live_accounts,
            marketplace.accounts,
            beacon.monitor_stats if beacon and api_only else (lambda: monitor.stats),
            lambda: events.clients,
            watch_problems().entries,
            clock,
        ),
        meters=Meters(
            engine,
            calls,
            exchanges.live_accounts,
            lambda: monitor.stats,
            clock.now,
            caches=(marketplace.caches.public, marketplace.caches.track_records, models.lookups),
        ),
        events=events,
        marks=LiveMarks(reports, valuations, events, clock, interval_s=settings.ws_marks_s),
        signin=signin,
        rate_limits=RateLimits(
            settings.rate_limits,
            settings.redis_url,
            redis_retry_s=settings.redis_retry_s,
            # Installations sharing a Redis count apart (the default prefix keeps the earlier keys).
            key_prefix="tradewire-limits"
            if settings.bus_prefix == "tradewire"
            else f"{settings.bus_prefix}:limits",
        ),
        admin=Administration(SqlAdmin(engine), SqlPlatform(engine), clock),
        confirmations=confirmations,
        ai=AiSetup(ai_store, secret_box, _ai_url_check(settings.allow_private_ai_urls), clock),
        audit=AuditTrail(SqlAudit(engine), clock, AttemptBudget(settings.audit_attempts_per_hour)),
        telegram=build_telegram(settings, engine, clock, marketplace, records, valuations, confirmations),
        webhooks=build_webhooks(settings, engine, clock, secret_box),
        server_lock=ServerLock(engine),
        syncs=HandedSync(store, bus) if hands_over else reconciler,
        prices=PriceBoard(engine, feed, clock.now),
        budgets=budgets,
        tickers=tickers,
        relay=relay,
        beacon=beacon,
        ownership=ownership,
        partitioned=partitioned,
    )
    if settings.role == "worker":  # backtests accepted by API processes run here
        if partitioned is not None:  # the leader runs them
            partitioned.bind(venue, monitor, pipeline, runtime.backtests, bus)
        else:
            bus.subscribe(BACKTEST_QUEUED, runtime.backtests.on_queued)
    return runtime


def _with_worker(
    checks: Callable[[], Awaitable[dict[str, Check]]], beacon: WorkerBeacon
) -> Callable[[], Awaitable[dict[str, Check]]]:
    """An API process's checks for the Health page: its own, and whether a worker is active."""

    async def run() -> dict[str, Check]:
        return {**(await checks()), "worker": beacon.check()}

    return run


def _load_model(text: str) -> Predictor:
    """A stored model's predictor (LightGBM loads on the first model used)."""
    from tradewire.adapters.ml.lightgbm_model import load_predictor

    return load_predictor(text)


def _ai_url_check(allow_private: bool) -> UrlCheck:
    """An AI endpoint's base URL is https to a public host (every address its name resolves to),
    unless private addresses are allowed."""

    async def check(url: str) -> None:
        try:
            await check_urls({"base_url": url}, allow_private)
        except ValueError as exc:  # worded for exchange api_urls
            raise ValueError(str(exc).replace("api_urls['base_url']", "the URL")) from None

    return check


def _secret_box(settings: Settings) -> SecretBox | None:
    if settings.encryption_key is None:
        return None
    try:
        current = decode_key(settings.encryption_key.get_secret_value())
        older = tuple(decode_key(k.get_secret_value()) for k in settings.encryption_old_keys)
    except SecretsError as exc:
        raise StartupError(f"TRADEWIRE_ENCRYPTION_KEY: {exc}") from exc
    return SecretBox(current, older)


def _jwt_secret(settings: Settings) -> str:
    """The configured JWT secret, or one generated once and kept (mode 0600) under var/."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path = Path(settings.var_dir) / "jwt.secret"
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
