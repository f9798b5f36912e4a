"""One server process: what it runs, how it starts and stops (the wiring that builds it is in
wiring.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Engine

from tradewire.adapters.cache_peers import RedisCachePeers
from tradewire.adapters.event_relay import RedisEventRelay
from tradewire.adapters.exchanges import AccountExchanges
from tradewire.adapters.health import HealthChecks
from tradewire.adapters.live.shared_limits import SharedLimits
from tradewire.adapters.live.shared_tickers import SharedTickers
from tradewire.adapters.metrics import Meters
from tradewire.adapters.paper.feed import ReplayFeed
from tradewire.adapters.paper.live_prices import PublicPriceFeed
from tradewire.adapters.paper.shared_prices import PriceBoard
from tradewire.adapters.paper.venue import PaperVenue
from tradewire.adapters.secrets_box import SecretBox
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.models import SqlModels
from tradewire.adapters.store.reports import SqlReports
from tradewire.adapters.store.server_lock import ServerLock, ServerRunning
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.worker_beacon import WorkerBeacon
from tradewire.candle_sources import CandleSources
from tradewire.config import Settings
from tradewire.domain.symbols import SymbolCatalog
from tradewire.partitioned_wiring import LeaderTasks, Partitioned
from tradewire.ports import Clock, RunningBus
from tradewire.ports.ownership import Ownership
from tradewire.ports.rate_limits import RateLimiter
from tradewire.services.admin import Administration
from tradewire.services.ai_setup import AiSetup
from tradewire.services.audit import AuditTrail
from tradewire.services.backtests import BacktestService
from tradewire.services.breaker_alerts import BreakerAlerts
from tradewire.services.confirmations import Confirmations
from tradewire.services.event_hub import EventHub
from tradewire.services.exports import Exports
from tradewire.services.health_details import HealthDetails
from tradewire.services.ingest import SignalIngest
from tradewire.services.live_marks import LiveMarks
from tradewire.services.members import Marketplace
from tradewire.services.monitor import ExitMonitor
from tradewire.services.ownership import SharedOwnership
from tradewire.services.pipeline import Pipeline
from tradewire.services.reconcile import Reconciler
from tradewire.services.records import Records
from tradewire.services.risk_usage import RiskUsage
from tradewire.services.signin import SignIn
from tradewire.services.strategy_runner import StrategyRunner
from tradewire.services.streams import OrderStreams
from tradewire.services.valuation import Valuations
from tradewire.telegram_wiring import Telegram
from tradewire.webhooks_wiring import Webhooks

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
    cache_peers: RedisCachePeers | None  # split processes: a write's cache invalidations told to all
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
        if self.cache_peers is not None:
            self.cache_peers.start()
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
            # (a worker taking over stopped out every position at a price the market never had). If
            # the exchange does not answer, the last prices it gave before the restart hold.
            await self._resume_prices(public)
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

    async def _resume_prices(self, public: PublicPriceFeed) -> None:
        try:
            public.resume(await self.prices.stored())
        except Exception:
            log.exception("could not read the paper market's last prices")

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
            await self._resume_prices(public)
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
        if self.cache_peers is not None:
            await self.cache_peers.close()
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
            # API processes show and value at these prices; a restart holds the exchange's last ones
            # (see _resume_prices) while it does not answer.
            if leads and (self.settings.role == "worker" or self.settings.paper_prices_from):
                try:
                    await self.prices.publish()
                except Exception:
                    log.exception("could not share the paper market's prices")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.feed_interval_s)


def tune_gc(threshold: int = 50_000) -> None:
    """Server-process garbage collection: fewer young-generation passes while a fan-out allocates.

    A 1,000-subscriber signal allocates hundreds of thousands of short-lived objects; CPython's
    default threshold (700) runs a collection every few hundred of them, which measured ~25 % of a
    fan-out's time. Objects alive after start-up are frozen out of collections altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, 20, 50)
