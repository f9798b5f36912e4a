"""The server-side trading loop: recover at start, react to new signals, sweep for anything missed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from tradewire.domain.orders import OrderState
from tradewire.ports import Bus, Clock, Store
from tradewire.services.execution import Executor
from tradewire.services.ingest import SIGNAL_RECEIVED
from tradewire.services.reconcile import Reconciler
from tradewire.services.routing import SignalRouter

log = logging.getLogger("tradewire.pipeline")


class Pipeline:
    """Runs on the server whether or not any client is connected.

    The bus only wakes it up early: the database is the source of truth, so a lost message (or a
    crash) is made good by the start-up recovery and by the periodic sweep.
    """

    def __init__(
        self,
        store: Store,
        router: SignalRouter,
        executor: Executor,
        reconciler: Reconciler,
        bus: Bus,
        clock: Clock,
        sweep_interval_s: float = 2.0,
    ) -> None:
        self._store = store
        self._router = router
        self._executor = executor
        self._reconciler = reconciler
        self._clock = clock
        self._sweep_interval = sweep_interval_s
        bus.subscribe(SIGNAL_RECEIVED, self._on_signal)

    async def recover(self) -> None:
        """Finish whatever a previous process started: route, execute, send or look up."""
        signal_ids = await asyncio.to_thread(self._store.unrouted_signal_ids)
        for signal_id in signal_ids:
            await self._router.route(signal_id)
        sent = await self._executor.execute_pending()
        stranded = await asyncio.to_thread(self._store.orders_in_states, [OrderState.NEW])
        resumed = await self._executor.resume(stranded)
        unsettled = await asyncio.to_thread(
            self._store.orders_in_states,
            [OrderState.SUBMITTED, OrderState.OPEN, OrderState.PARTIALLY_FILLED],
        )
        checked = await self._reconciler.check(unsettled)
        log.info(
            "recovery: %d signals routed, %d orders sent, %d stranded orders sent, %d orders checked",
            len(signal_ids),
            sent,
            resumed,
            checked,
        )

    async def _on_signal(self, message: Mapping[str, Any]) -> None:
        signal_id = int(message["signal_id"])
        await self._router.route(signal_id)
        await self._executor.execute_pending(signal_id)

    async def sweep(self) -> None:
        """Catch up on anything a lost message left behind, and check orders that are due."""
        grace = self._clock.now() - timedelta(seconds=self._sweep_interval)
        for signal_id in await asyncio.to_thread(self._store.unrouted_signal_ids, grace):
            await self._router.route(signal_id)
        await self._executor.execute_pending()
        await self._reconciler.check_due()

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every interval until `stop` is set."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("sweep failed; retrying next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._sweep_interval)
