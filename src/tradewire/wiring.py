"""Wires settings to adapters and services: the one place that knows which implementation is used."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from tradewire.adapters.account_guards import ExchangeAccountGuards
from tradewire.adapters.ai import LazyVision, render_chart
from tradewire.adapters.bus import InProcessBus
from tradewire.adapters.cache_peers import RedisCachePeers
from tradewire.adapters.candles_parquet import ParquetArchive
from tradewire.adapters.clock import SystemClock
from tradewire.adapters.event_relay import Notifiers, RedisEventRelay
from tradewire.adapters.exchanges import AccountExchanges
from tradewire.adapters.health import Check, HealthChecks
from tradewire.adapters.live.addresses import check_urls
from tradewire.adapters.live.ccxt_exchange import RetryPolicy
from tradewire.adapters.live.shared_limits import SharedLimits
from tradewire.adapters.live.shared_tickers import SharedTickers
from tradewire.adapters.metrics import ExchangeCalls, Meters
from tradewire.adapters.ml.validate import ChildProcessValidator
from tradewire.adapters.paper.catalog import demo_markets
from tradewire.adapters.paper.feed import build_demo_feed
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
from tradewire.adapters.store.server_lock import ServerLock
from tradewire.adapters.store.signin import SqlSignIn
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.two_factor import SqlTwoFactor
from tradewire.adapters.worker_beacon import WorkerBeacon
from tradewire.candle_sources import CandleSources
from tradewire.config import Settings
from tradewire.domain.members import Role
from tradewire.domain.ml.strategy import Predictor
from tradewire.domain.signin import PasswordPolicy, ThrottlePolicy
from tradewire.domain.symbols import SymbolCatalog
from tradewire.logs import watch_problems
from tradewire.partitioned_wiring import build_partitioned
from tradewire.ports import Clock, RunningBus
from tradewire.ports.events import EventNotifier
from tradewire.ports.ownership import Ownership
from tradewire.runtime import Runtime, StartupError
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
from tradewire.services.members import build_marketplace
from tradewire.services.monitor import ExitMonitor
from tradewire.services.ownership import AllMine
from tradewire.services.pipeline import Pipeline
from tradewire.services.reconcile import ReconcilePolicy, Reconciler
from tradewire.services.records import Records
from tradewire.services.risk_usage import RiskUsage
from tradewire.services.routing import SignalRouter
from tradewire.services.signin import SignIn
from tradewire.services.strategy_runner import StrategyRunner
from tradewire.services.two_factor import TwoFactor
from tradewire.services.valuation import Valuations
from tradewire.telegram_wiring import build_telegram
from tradewire.webhooks_wiring import build_webhooks

log = logging.getLogger("tradewire.runtime")


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
        venue.partition(partitioned.ownership.count, fence=partitioned.leases)  # loaded as taken
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
            exchanges=exchanges,
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
    cache_peers = RedisCachePeers(settings.redis_url, f"{settings.bus_prefix}:caches") if split else None
    if cache_peers is not None:
        cache_peers.share(marketplace.caches.public, marketplace.caches.track_records, models.lookups)
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
        cache_peers=cache_peers,
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
