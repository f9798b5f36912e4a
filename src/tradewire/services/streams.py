"""Order updates pushed by exchanges settle orders at once; REST polling stays the safety net."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tradewire.services.loops import pause
from tradewire.services.reconcile import Reconciler

log = logging.getLogger("tradewire.streams")


@dataclass(slots=True, eq=False)
class OrderStreams:
    """One watch_orders stream per live account in use, restarted with backoff when it breaks.

    Nothing depends on a stream being up: the reconciler keeps polling every unsettled order, so a
    broken stream only makes settlement slower, never wrong.
    """

    live_accounts: Callable[[], Mapping[int, Any]]
    reconciler: Reconciler
    retry_s: float = 5.0
    scan_s: float = 1.0
    _tasks: dict[int, asyncio.Task[None]] = field(init=False, default_factory=dict)

    @property
    def following(self) -> list[int]:
        return sorted(account for account, task in self._tasks.items() if not task.done())

    async def run(self, stop: asyncio.Event) -> None:
        """Start a stream for every live account that gets used, until `stop` is set."""
        try:
            while not stop.is_set():
                for account_id, exchange in self.live_accounts().items():
                    if account_id not in self._tasks and getattr(exchange, "streams_orders", False):
                        self._tasks[account_id] = asyncio.get_running_loop().create_task(
                            self._follow(account_id, exchange, stop)
                        )
                await pause(stop, self.scan_s)
        finally:
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _follow(self, account_id: int, exchange: Any, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                views = await exchange.watch_orders()
                failures = 0
                recorded = await self.reconciler.apply_pushed(account_id, exchange, views)
                if recorded:
                    log.info("account %s: %d order updates from the stream", account_id, recorded)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(60.0, self.retry_s * 2 ** min(failures - 1, 4))
                log.warning(
                    "account %s: order stream broke (%s); polling continues, retry in %.0fs",
                    account_id,
                    exc,
                    delay,
                )
                await pause(stop, delay)
