"""Which accounts this process trades for.

An all-in-one server, and a worker when workers take turns (one active, the others standing by), own
every account: `AllMine`. With TRADEWIRE_WORKER_PARTITIONS set, every worker is active and owns a fair
share of the partitions (`SharedOwnership`): each second it counts the active workers, gives back what
it holds above its share and takes free partitions up to it, so a worker that joins gets work and a
dead worker's partitions (PostgreSQL frees its advisory locks) are taken by the others.

A partition is given back only when no work holds it (`hold`), after this process has saved what it
keeps of its accounts in memory (`on_giving`: the paper venue's books, the exit monitor's trailing
prices), and its accounts' books are loaded before any work sees it (`on_taken`). So two workers never
trade for one account at once, and the one taking over starts from what the other last saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from tradewire.domain.partitions import Partitions, fair_share
from tradewire.ports.ownership import Leases

log = logging.getLogger("tradewire.ownership")

Change = Callable[[Partitions], Coroutine[Any, Any, None]]


class AllMine:
    """Every account, always (one trading process)."""

    leader = True

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[Partitions | None]:
        yield None


@dataclass(slots=True)
class OwnershipHooks:
    """What the process does around a change of its partitions (each gets only the partitions that
    change, out of the same count)."""

    on_taken: Change  # load their accounts' books; after this, work may start for them
    on_giving: Change  # save and forget their accounts' books; no work holds them meanwhile
    after_taken: Change  # catch up on their work (a dead owner's orders, pending intents)


class SharedOwnership:
    """A fair share of the partitions, leased from the database (`Leases`) and rebalanced every
    `every_s` seconds by `run`."""

    def __init__(self, leases: Leases, hooks: OwnershipHooks | None = None, every_s: float = 1.0) -> None:
        self._leases = leases
        self.hooks = hooks or OwnershipHooks(_nothing, _nothing, _nothing)  # set once the services exist
        self._every = every_s
        self.count = leases.count
        self._owned: frozenset[int] = frozenset()
        self._holds = 0
        self._changing = False
        self._idle = asyncio.Condition()
        self._catching_up: set[asyncio.Task[None]] = set()
        self.workers = 0  # active workers at the last count (this one included)

    @property
    def owned(self) -> Partitions:
        return Partitions(self.count, self._owned)

    @property
    def leader(self) -> bool:
        """The holder of partition 0 runs the singletons."""
        return 0 in self._owned

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[Partitions | None]:
        async with self._idle:
            await self._idle.wait_for(lambda: not self._changing)
            self._holds += 1
        try:
            yield self.owned
        finally:
            async with self._idle:
                self._holds -= 1
                self._idle.notify_all()

    async def join(self) -> None:
        await asyncio.to_thread(self._leases.join)

    async def rebalance(self) -> None:
        """One round: count the workers, give back above the fair share, take free ones up to it."""
        self.workers = await asyncio.to_thread(self._leases.workers)
        share = fair_share(self.count, self.workers)
        # Partition 0 (the leader's) is given back last: leadership moves only when its holder leaves.
        surplus = sorted(self._owned, key=lambda p: (p == 0, -p))[: max(0, len(self._owned) - share)]
        if surplus:
            await self._give(surplus)
        wanted = share - len(self._owned)
        taken: list[int] = []
        for partition in range(self.count):
            if len(taken) >= wanted:
                break
            if partition not in self._owned and await asyncio.to_thread(self._leases.try_take, partition):
                taken.append(partition)
        if taken:
            await self._take(taken)

    async def _take(self, partitions: Iterable[int]) -> None:
        taken = Partitions(self.count, frozenset(partitions))
        try:
            await self.hooks.on_taken(taken)
        except BaseException:
            for partition in taken.owned:  # not loaded: not ours
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._leases.give_back, partition)
            raise
        self._owned = self._owned | taken.owned
        log.info(
            "worker: took partitions %s (owns %d of %d)", sorted(taken.owned), len(self._owned), self.count
        )
        task = asyncio.get_running_loop().create_task(self.hooks.after_taken(taken))
        self._catching_up.add(task)
        task.add_done_callback(self._catching_up.discard)

    async def _give(self, partitions: Iterable[int]) -> None:
        giving = Partitions(self.count, frozenset(partitions) & self._owned)
        if not giving.owned:
            return
        async with self._idle:
            await self._idle.wait_for(lambda: not self._changing)
            self._changing = True  # no new work starts; the work under way finishes first
            await self._idle.wait_for(lambda: self._holds == 0)
        try:
            await self.hooks.on_giving(giving)
            self._owned = self._owned - giving.owned
            for partition in giving.owned:
                await asyncio.to_thread(self._leases.give_back, partition)
            log.info("worker: gave back partitions %s", sorted(giving.owned))
        finally:
            async with self._idle:
                self._changing = False
                self._idle.notify_all()

    async def leave(self) -> None:
        """Give back every partition (saving what memory keeps of them) and stop counting."""
        for task in list(self._catching_up):
            task.cancel()
        await asyncio.gather(*self._catching_up, return_exceptions=True)
        try:
            await self._give(self._owned)
        finally:
            await asyncio.to_thread(self._leases.leave)

    async def lost(self) -> None:
        """The leases' connection failed: PostgreSQL may have freed the partitions for others, so
        stop working for them at once (what memory keeps of them is saved if it still can be)."""
        if self._owned:
            log.error("worker: the partition leases were lost; giving up partitions %s", sorted(self._owned))
        try:
            await self._give(self._owned)
        except Exception:
            log.exception("worker: could not save the partitions' books while giving them up")
            self._owned = frozenset()
            async with self._idle:
                self._changing = False
                self._idle.notify_all()

    async def run(self, stop: asyncio.Event) -> None:
        """Rebalance every `every_s` until `stop` is set."""
        while not stop.is_set():
            try:
                await self.rebalance()
            except Exception:
                log.exception("worker: rebalancing partitions failed")
                await self.lost()
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._leases.join)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._every)


async def _nothing(_partitions: Partitions) -> None:
    return None
