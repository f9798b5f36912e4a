"""Several active workers (TRADEWIRE_WORKER_PARTITIONS): the leases, the wake-ups between workers, what
a worker does when its partitions change, and the work only the leader runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from tradewire.adapters.paper.venue import PaperVenue
from tradewire.adapters.store.partitions import PartitionLeases
from tradewire.adapters.store.server_lock import ServerRunning
from tradewire.adapters.wakeups import RedisWakeups
from tradewire.config import Settings
from tradewire.domain.partitions import Partitions
from tradewire.ports import Bus
from tradewire.services.backtests import BACKTEST_QUEUED, BacktestService
from tradewire.services.monitor import ExitMonitor
from tradewire.services.ownership import OwnershipHooks, SharedOwnership
from tradewire.services.pipeline import Pipeline

log = logging.getLogger("tradewire.worker")

Loop = Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class Partitioned:
    """A worker's share of the partitions and its wake-ups to the other workers."""

    ownership: SharedOwnership
    wakeups: RedisWakeups
    leases: PartitionLeases  # also the paper books' write fence
    _backtests: BacktestService | None = field(default=None, init=False)

    def bind(
        self,
        venue: PaperVenue,
        monitor: ExitMonitor,
        pipeline: Pipeline,
        backtests: BacktestService,
        bus: Bus,
    ) -> None:
        """What this worker does when its partitions change; backtests run on the leader."""

        async def taken(partitions: Partitions) -> None:
            await venue.take_partitions(partitions)

        async def giving(partitions: Partitions) -> None:
            try:
                await monitor.flush()  # trailing stops' best prices, for the next owner
            finally:
                await venue.give_partitions(partitions)

        self.ownership.hooks = OwnershipHooks(
            on_taken=taken, on_giving=giving, after_taken=pipeline.take_over
        )
        self._backtests = backtests
        bus.subscribe(BACKTEST_QUEUED, self.backtest_queued)
        self.wakeups.subscribe(BACKTEST_QUEUED, self.backtest_queued_elsewhere)

    async def join(self, stop: asyncio.Event) -> None:
        """Count among the active workers (waiting while an all-in-one server holds the database),
        then take a first share of the partitions."""
        told = False
        while not stop.is_set():
            try:
                await self.ownership.join()
                break
            except ServerRunning as exc:
                if not told:
                    log.info("worker: waiting (%s)", exc)
                    told = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        await self.ownership.rebalance()

    async def backtest_queued(self, message: Mapping[str, Any]) -> None:
        """An API process accepted a backtest: the leader runs it (told by a wake-up if not this one)."""
        if self.ownership.leader:
            await self.backtest_queued_elsewhere(message)
        else:
            await self.wakeups.publish(BACKTEST_QUEUED, message)

    async def backtest_queued_elsewhere(self, message: Mapping[str, Any]) -> None:
        if self.ownership.leader and self._backtests is not None:
            await self._backtests.on_queued(message)


def build_partitioned(settings: Settings, engine: Engine) -> Partitioned | None:
    if not settings.worker_partitions or settings.role != "worker":
        return None
    leases = PartitionLeases(engine, settings.worker_partitions)
    ownership = SharedOwnership(leases, every_s=settings.worker_rebalance_s)
    return Partitioned(ownership, RedisWakeups(settings.redis_url, f"{settings.bus_prefix}:wakeups"), leases)


class LeaderTasks:
    """Runs some loops only while this worker leads (holds partition 0): started when it becomes the
    leader, stopped if it ever stops being one; `on_lead` runs first (backtests' recovery)."""

    def __init__(
        self,
        ownership: SharedOwnership,
        loops: Sequence[Loop],
        on_lead: Callable[[], Coroutine[Any, Any, None]] | None = None,
        on_follow: Callable[[], Coroutine[Any, Any, None]] | None = None,
        check_s: float = 0.25,
    ) -> None:
        self._ownership = ownership
        self._loops = list(loops)
        self._on_lead = on_lead
        self._on_follow = on_follow
        self._check_s = check_s

    async def run(self, stop: asyncio.Event) -> None:
        leading: asyncio.Event | None = None
        tasks: list[asyncio.Task[None]] = []
        try:
            while not stop.is_set():
                if self._ownership.leader and leading is None:
                    log.info("worker: leading (the paper market, backtests, notifications, strategies)")
                    leading = asyncio.Event()
                    if self._on_lead is not None:
                        await self._on_lead()
                    tasks = [
                        asyncio.get_running_loop().create_task(_run(loop, leading)) for loop in self._loops
                    ]
                elif not self._ownership.leader and leading is not None:
                    await self._end(leading, tasks)
                    leading, tasks = None, []
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._check_s)
        finally:
            if leading is not None:
                await self._end(leading, tasks)

    async def _end(self, leading: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
        leading.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._on_follow is not None:
            await self._on_follow()


async def _run(loop: Loop, stop: asyncio.Event) -> None:
    await loop(stop)
