"""Prometheus metrics of one runtime, in a registry of its own (a process may build several runtimes).

Events are counted where they happen, O(1) each and nothing per order: the webhook's answer time by
status, and each live exchange call's time and errors per exchange. What is state (signals, intents
and orders by status, circuit breakers, the exit monitor's lag) is read when Prometheus scrapes: one
grouped query and a walk over the live clients, never on the trading path.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, literal, select, union_all

from tradewire.adapters.live.guards import BreakerState
from tradewire.adapters.store.tables import execution_intents, orders, signals
from tradewire.domain.execution import IntentStatus
from tradewire.domain.orders import OrderState

log = logging.getLogger("tradewire.metrics")

WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SIGNAL_STATUSES = ("received", "routed", "failed")  # signals.status (adapters/store/tables.py)
# The counts read whole tables (~0.35 s for 700,000 rows on SQLite): at most this often, whatever the
# scrape interval; scrapes in between get the last figures.
COUNTS_EVERY_S = 30.0
EXCHANGE_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Observer(Protocol):
    def observe(self, amount: float) -> None: ...


class _Timed:
    """`async with`: the time the block took, observed when it ends (failures too)."""

    __slots__ = ("_into", "_started")

    def __init__(self, into: _Observer) -> None:
        self._into = into
        self._started = 0.0

    async def __aenter__(self) -> None:
        self._started = time.perf_counter()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._into.observe(time.perf_counter() - self._started)


class _Untimed:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_UNTIMED = _Untimed()


class ExchangeMeter:
    """Call time and errors of one exchange, shared by its accounts."""

    def __init__(self, seconds: _Observer, errors: Callable[[str], Any]) -> None:
        self._seconds = seconds
        self._errors = errors
        self._by_kind: dict[str, Any] = {}

    def timed(self) -> _Timed | _Untimed:
        """Around one call to the exchange: `async with meter.timed(): ...`."""
        return _Timed(self._seconds)

    def error(self, kind: str) -> None:
        """A call that failed, by the error's kind (ErrorKind's value)."""
        counter = self._by_kind.get(kind)
        if counter is None:
            counter = self._by_kind[kind] = self._errors(kind)
        counter.inc()


class _Unmetered(ExchangeMeter):
    def __init__(self) -> None:
        pass

    def timed(self) -> _Timed | _Untimed:
        return _UNTIMED

    def error(self, kind: str) -> None:
        return None


UNMETERED: ExchangeMeter = _Unmetered()


class ExchangeCalls:
    """Live exchange calls: time per exchange, errors per exchange and kind (one meter per exchange)."""

    def __init__(self) -> None:
        self.seconds = Histogram(
            "tradewire_exchange_call_seconds",
            "Time of one call to a live exchange (orders, reads, cancels), failures included.",
            ["exchange"],
            buckets=EXCHANGE_BUCKETS,
            registry=None,
        )
        self.errors = Counter(
            "tradewire_exchange_errors",
            "Live exchange calls that failed, by kind (refusals, timeouts, unavailable, ...).",
            ["exchange", "kind"],
            registry=None,
        )
        self._meters: dict[str, ExchangeMeter] = {}

    def meter(self, exchange: str) -> ExchangeMeter:
        found = self._meters.get(exchange)
        if found is None:
            found = self._meters[exchange] = ExchangeMeter(
                self.seconds.labels(exchange), lambda kind: self.errors.labels(exchange, kind)
            )
        return found


class WebhookMeter:
    """The webhook's answer time by HTTP status (202 taken, 401 refused, 429 limited, ...)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._seconds = Histogram(
            "tradewire_webhook_seconds",
            "Time from a TradingView webhook request to its answer, by status.",
            ["status"],
            buckets=WEBHOOK_BUCKETS,
            registry=registry,
        )
        self._by_status: dict[int, Any] = {}

    def observe(self, status: int, seconds: float) -> None:
        child = self._by_status.get(status)
        if child is None:
            child = self._by_status[status] = self._seconds.labels(str(status))
        child.observe(seconds)


class _MonitorStats(Protocol):
    evaluations: int
    exits: int
    last_round_at: datetime | None


@dataclass
class _Snapshot:
    statuses: dict[tuple[str, str], int] | None = None
    breakers: dict[tuple[str, str], int] = field(default_factory=dict)
    lag_s: float | None = None
    rounds: int = 0
    exits: int = 0


class TradingState(Collector):
    """Gauges read at scrape time: `refresh` (on the event loop) then the registry's `collect`."""

    def __init__(
        self,
        engine: Engine,
        live_clients: Callable[[], Mapping[int, Any]],
        monitor_stats: Callable[[], _MonitorStats],
        now: Callable[[], datetime],
        counts_every_s: float = COUNTS_EVERY_S,
    ) -> None:
        self._engine = engine
        self._live_clients = live_clients
        self._monitor_stats = monitor_stats
        self._now = now
        self._snapshot = _Snapshot()
        self._counts_every = counts_every_s
        self._counted_at = -math.inf

    async def refresh(self) -> None:
        # Breakers shared by processes are read now (all at once), so each counts in its state everywhere.
        clients = self._live_clients().values()
        await asyncio.gather(*(client.refresh_health() for client in clients), return_exceptions=True)
        snapshot = _Snapshot(breakers=self._breakers())
        stats = self._monitor_stats()
        snapshot.rounds, snapshot.exits = stats.evaluations, stats.exits
        if stats.last_round_at is not None:
            snapshot.lag_s = max(0.0, (self._now() - stats.last_round_at).total_seconds())
        snapshot.statuses = self._snapshot.statuses
        if time.monotonic() - self._counted_at >= self._counts_every:
            self._counted_at = time.monotonic()  # a scrape meanwhile does not count again
            try:
                snapshot.statuses = await asyncio.to_thread(self._count_statuses)
            except Exception as exc:
                self._counted_at = -math.inf
                log.warning("metrics: signals, intents and orders could not be counted: %s", exc)
        self._snapshot = snapshot

    def describe(self) -> list[Metric]:
        return []  # read only at scrape time; nothing to check for clashes at registration

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot
        if snapshot.statuses is not None:
            for table, label, known, help_text in (
                ("signals", "status", SIGNAL_STATUSES, "Signals stored, by status."),
                (
                    "intents",
                    "status",
                    list(IntentStatus),
                    "Execution intents (signal x subscription), by status.",
                ),
                ("orders", "state", list(OrderState), "Orders, by state."),
            ):
                family = GaugeMetricFamily(f"tradewire_{table}", help_text, labels=[label])
                counts = {value: 0 for value in known}  # a state no row is in reads 0, not absent
                counts.update({value: n for (kind, value), n in snapshot.statuses.items() if kind == table})
                for value, count in sorted(counts.items()):
                    family.add_metric([value], count)
                yield family
        breakers = GaugeMetricFamily(
            "tradewire_exchange_circuit_breakers",
            "Live exchange accounts in use, by exchange and circuit breaker state.",
            labels=["exchange", "state"],
        )
        for (exchange, state), count in sorted(snapshot.breakers.items()):
            breakers.add_metric([exchange, state], count)
        yield breakers
        if snapshot.lag_s is not None:
            yield GaugeMetricFamily(
                "tradewire_exit_monitor_lag_seconds",
                "Seconds since the exit monitor last checked every open position against prices.",
                value=snapshot.lag_s,
            )
        yield CounterMetricFamily(
            "tradewire_exit_monitor_rounds", "Exit monitor rounds completed.", value=snapshot.rounds
        )
        yield CounterMetricFamily(
            "tradewire_exit_monitor_exits", "Exit orders the monitor placed.", value=snapshot.exits
        )

    def _breakers(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for client in self._live_clients().values():
            exchange = client.account.exchange
            for state in BreakerState:
                counts.setdefault((exchange, state.value), 0)
            key = (exchange, client.circuit.value)
            counts[key] += 1
        return counts

    def _count_statuses(self) -> dict[tuple[str, str], int]:
        """Rows per status of signals, intents and orders: one grouped query."""
        query = union_all(
            select(literal("signals"), signals.c.status, func.count()).group_by(signals.c.status),
            select(literal("intents"), execution_intents.c.status, func.count()).group_by(
                execution_intents.c.status
            ),
            select(literal("orders"), orders.c.state, func.count()).group_by(orders.c.state),
        )
        with self._engine.connect() as connection:
            return {(str(kind), str(value)): int(count) for kind, value, count in connection.execute(query)}


class _CountedCache(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def hits(self) -> int: ...

    @property
    def misses(self) -> int: ...


class CacheCounts(Collector):
    """Hits and misses of each cache (services/caches.py), read at scrape time."""

    def __init__(self, caches: Sequence[_CountedCache]) -> None:
        self._caches = caches

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        hits = CounterMetricFamily(
            "tradewire_cache_hits", "Reads served from a short-lived cache, by cache.", labels=["cache"]
        )
        misses = CounterMetricFamily(
            "tradewire_cache_misses", "Reads a short-lived cache had to load, by cache.", labels=["cache"]
        )
        for cache in self._caches:
            hits.add_metric([cache.name], cache.hits)
            misses.add_metric([cache.name], cache.misses)
        yield hits
        yield misses


class Meters:
    """Every metric of one runtime and their registry; `exposition` renders them for /metrics."""

    def __init__(
        self,
        engine: Engine,
        calls: ExchangeCalls,
        live_clients: Callable[[], Mapping[int, Any]],
        monitor_stats: Callable[[], _MonitorStats],
        now: Callable[[], datetime],
        caches: Sequence[_CountedCache] = (),
    ) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(calls.seconds)
        self.registry.register(calls.errors)
        self.webhook = WebhookMeter(self.registry)
        self._state = TradingState(engine, live_clients, monitor_stats, now)
        self.registry.register(self._state)
        self.registry.register(CacheCounts(caches))

    async def exposition(self) -> bytes:
        """The metrics in Prometheus' text format, state read now."""
        await self._state.refresh()
        return generate_latest(self.registry)
