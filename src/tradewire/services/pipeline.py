"""The server-side trading loop: recover at start, react to new signals, sweep for anything missed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import InitVar, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from tradewire.domain.orders import OrderState
from tradewire.domain.partitions import Partitions, owns
from tradewire.domain.records import OrderQuery
from tradewire.ports import Bus, Clock, OrderStore, SignalStore
from tradewire.ports.ownership import Ownership
from tradewire.services.confirmations import INTENT_CONFIRMED, Confirmations
from tradewire.services.execution import Executor
from tradewire.services.handover import ACCOUNT_SYNC, ORDERS_SAVED
from tradewire.services.ingest import SIGNAL_RECEIVED
from tradewire.services.loops import every
from tradewire.services.ownership import AllMine
from tradewire.services.reconcile import Reconciler
from tradewire.services.routing import SignalRouter

log = logging.getLogger("tradewire.pipeline")

_T = TypeVar("_T")

# A signal whose routing fails with an error this many times is marked failed with the reason.
ROUTING_ATTEMPTS_ALLOWED = 5

# Wake-ups to every worker: a signal's intents (or a confirmed entry) wait for their accounts' owners.
INTENTS_WAITING = "intents.waiting"


class RecoveryStore(SignalStore, OrderStore, Protocol):
    """What recovery and the sweep read of the store: unrouted signals and stranded orders."""


@dataclass(slots=True, eq=False)
class Pipeline:
    """Runs on the server whether or not any client is connected.

    The bus only wakes it up early: the database is the source of truth, so a lost message (or a
    crash) is made good by the start-up recovery and by the periodic sweep.
    """

    store: RecoveryStore
    router: SignalRouter
    executor: Executor
    reconciler: Reconciler
    bus: InitVar[Bus]
    clock: Clock
    sweep_interval_s: float = 2.0
    confirmations: Confirmations | None = None  # confirm before trade: proposals expire in the sweep
    # Several active workers: the accounts this worker owns (all of them otherwise), and the wake-ups
    # that reach every worker (a bus message reaches one), for the work of accounts others own.
    ownership: Ownership = field(default_factory=AllMine)
    wakeups: InitVar[Bus | None] = None
    _wakeups: Bus | None = field(init=False, default=None)

    def __post_init__(self, bus: Bus, wakeups: Bus | None) -> None:
        bus.subscribe(SIGNAL_RECEIVED, self._on_signal)
        bus.subscribe(INTENT_CONFIRMED, self._on_confirmed)
        bus.subscribe(ORDERS_SAVED, self._on_orders_saved)
        bus.subscribe(ACCOUNT_SYNC, self._on_account_sync)
        self._wakeups = wakeups
        if wakeups is not None:
            wakeups.subscribe(INTENTS_WAITING, self._on_intents_waiting)
            wakeups.subscribe(ORDERS_SAVED, self._on_orders_saved_elsewhere)
            wakeups.subscribe(ACCOUNT_SYNC, self._on_account_sync_elsewhere)

    async def recover(self) -> None:
        """Finish whatever a previous process started: route, execute, send or look up.

        Each step, and each signal, stands alone: a row that cannot be handled is logged (and counted
        towards its failed state), the start-up goes on, and the sweep tries the rest again."""
        signal_ids: list[int] = []
        if self.ownership.leader:
            signal_ids = await self._step("reading unrouted signals", self._unrouted(), [])
        for signal_id in signal_ids:
            await self._route(signal_id)
        async with self.ownership.hold() as partitions:
            resumed, checked, sent = await self._catch_up(partitions)
        log.info(
            "recovery: %d signals routed, %d orders sent, %d stranded orders sent, %d orders checked",
            len(signal_ids),
            sent,
            resumed,
            checked,
        )

    async def take_over(self, taken: Partitions) -> None:
        """This worker took `taken` (another worker left or died): finish what its owner left."""
        async with self.ownership.hold() as partitions:
            if partitions is not None:
                taken = Partitions(taken.count, taken.owned & partitions.owned)
            resumed, checked, sent = await self._catch_up(taken)
        log.info(
            "take-over of partitions %s: %d orders sent, %d stranded orders sent, %d orders checked",
            sorted(taken.owned),
            sent,
            resumed,
            checked,
        )

    async def _catch_up(self, partitions: Partitions | None) -> tuple[int, int, int]:
        # Orders first: an intent waits while an earlier order of its subscription's symbol has an
        # unknown outcome, so the stranded are sent and the unsettled looked up before deciding more.
        resumed: int = await self._step("sending stranded orders", self._resume_stranded(None, partitions), 0)
        checked: int = await self._step("checking unsettled orders", self._check_unsettled(partitions), 0)
        sent: int = await self._step(
            "executing pending intents", self.executor.execute_pending(None, partitions), 0
        )
        return resumed, checked, sent

    async def _on_signal(self, message: Mapping[str, Any]) -> None:
        signal_id = int(message["signal_id"])
        if self._wakeups is not None:
            # Several workers route at once: earlier signals first (routing is idempotent), so that a
            # subscription's intents keep its signals' order (a buy, then the sell that closes it).
            for earlier in await self._step("reading unrouted signals", self._unrouted(), []):
                if earlier < signal_id:
                    await self._route(earlier)
        if await self._route(signal_id):
            await self._execute(signal_id)

    async def _on_confirmed(self, message: Mapping[str, Any]) -> None:
        """A human confirmed an entry: decide it (and its signal's other pending intents) now."""
        signal_id = message.get("signal_id")
        await self._execute(int(signal_id) if signal_id is not None else None)

    async def _execute(self, signal_id: int | None) -> None:
        if self._wakeups is None:
            await self.executor.execute_pending(signal_id)
            return
        # Beside other workers, every pending intent of the accounts owned here, in id order: another
        # worker may have routed an earlier signal whose intents this worker has not decided yet.
        async with self.ownership.hold() as partitions:
            await self.executor.execute_pending(None, partitions)
        if partitions is None or not partitions.everything:
            await self._wakeups.publish(INTENTS_WAITING, {"signal_id": signal_id})

    async def _on_intents_waiting(self, _message: Mapping[str, Any]) -> None:
        """Another worker routed a signal (or had an entry confirmed): decide this worker's share."""
        async with self.ownership.hold() as partitions:
            await self.executor.execute_pending(None, partitions)

    async def _on_orders_saved(self, message: Mapping[str, Any]) -> None:
        """Another process (an API process's manual close) stored NEW orders: send them now."""
        if await self._send_saved(message) and self._wakeups is not None:
            await self._wakeups.publish(ORDERS_SAVED, message)

    async def _on_orders_saved_elsewhere(self, message: Mapping[str, Any]) -> None:
        await self._send_saved(message)

    async def _send_saved(self, message: Mapping[str, Any]) -> bool:
        """Send the NEW orders `message` names that this worker owns; whether others own some."""
        wanted = {int(i) for i in message.get("order_ids", [])}
        if not wanted:
            return False
        async with self.ownership.hold() as partitions:
            stored = await asyncio.to_thread(self.store.orders_in_states, OrderQuery([OrderState.NEW]))
            named = [o for o in stored if o.order_id in wanted]
            await self.executor.resume([o for o in named if owns(partitions, o.account_id)])
        return any(not owns(partitions, o.account_id) for o in named)

    async def _on_account_sync(self, message: Mapping[str, Any]) -> None:
        """Another process asked for an account's unsettled orders to be checked now."""
        if not await self._sync(message) and self._wakeups is not None:
            await self._wakeups.publish(ACCOUNT_SYNC, message)

    async def _on_account_sync_elsewhere(self, message: Mapping[str, Any]) -> None:
        await self._sync(message)

    async def _sync(self, message: Mapping[str, Any]) -> bool:
        """Check the account's unsettled orders if this worker owns it; whether it does."""
        account_id = int(message["account_id"])
        async with self.ownership.hold() as partitions:
            if not owns(partitions, account_id):
                return False
            await self.reconciler.sync_account(account_id)
            return True

    async def sweep(self) -> None:
        """Catch up on anything a lost message left behind, expire unanswered proposals, and check
        orders that are due: each step runs whatever the one before it met, so due orders are
        checked on every sweep (with several workers, each for the accounts it owns; the leader
        routes and expires for all)."""
        grace = self.clock.now() - timedelta(seconds=self.sweep_interval_s)
        if self.ownership.leader:
            for signal_id in await self._step("reading unrouted signals", self._unrouted(grace), []):
                await self._route(signal_id)
            if self.confirmations is not None:
                await self._step("expiring unconfirmed proposals", self.confirmations.expire_due(), 0)
        async with self.ownership.hold() as partitions:
            await self._step("executing pending intents", self.executor.execute_pending(None, partitions), 0)
            await self._step("sending stranded orders", self._resume_stranded(grace, partitions), 0)
            await self._step("checking due orders", self.reconciler.check_due(partitions=partitions), 0)

    async def _route(self, signal_id: int) -> bool:
        """Route one signal; an error counts an attempt, and the last allowed one marks it failed."""
        try:
            await self.router.route(signal_id)
            return True
        except Exception as exc:
            log.exception("signal %s: routing failed", signal_id)
            reason = f"{type(exc).__name__}: {exc}"
            try:
                failed = await asyncio.to_thread(
                    self.store.routing_failed, signal_id, reason, ROUTING_ATTEMPTS_ALLOWED, self.clock.now()
                )
            except Exception:
                log.exception("signal %s: the failed routing attempt could not be recorded", signal_id)
                return False
            if failed:
                log.error(
                    "signal %s: routing failed %d times; marked failed", signal_id, ROUTING_ATTEMPTS_ALLOWED
                )
            return False

    async def _unrouted(self, received_before: datetime | None = None) -> list[int]:
        return await asyncio.to_thread(self.store.unrouted_signal_ids, received_before)

    async def _resume_stranded(
        self, created_before: datetime | None = None, partitions: Partitions | None = None
    ) -> int:
        """Send NEW orders nobody sent: left by a crash, or stored by another process whose message
        was lost (those younger than `created_before` are still being sent by whoever stored them;
        sending is claimed in the store, so a race sends nothing twice)."""
        query = OrderQuery([OrderState.NEW], created_before, partitions)
        stranded = await asyncio.to_thread(self.store.orders_in_states, query)
        return await self.executor.resume(stranded) if stranded else 0

    async def _check_unsettled(self, partitions: Partitions | None = None) -> int:
        states = [OrderState.SUBMITTED, OrderState.OPEN, OrderState.PARTIALLY_FILLED]
        query = OrderQuery(states, partitions=partitions)
        unsettled = await asyncio.to_thread(self.store.orders_in_states, query)
        return await self.reconciler.check(unsettled)

    @staticmethod
    async def _step(what: str, work: Awaitable[_T], fallback: _T) -> _T:
        try:
            return await work
        except Exception:
            log.exception("%s failed; going on with the next step", what)
            return fallback

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every interval until `stop` is set."""
        await every(self.sweep_interval_s, stop, self.sweep, "sweep", log)
