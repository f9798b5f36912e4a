"""An exchange account's circuit breaker opening, told to the account's owner (the `risk` topic).

Breakers live in the live adapter, on the trading path: an opening is handed over here and written
to the outbox later, in a transaction of its own on a worker thread. The trading call that opened the
breaker never waits for that write, and a write that fails is logged, nothing more. A breaker split
processes share in Redis is opened by one process's failure, which alone hands the opening over; the
opening is named (`BreakerOpening.once`) so that the store tells it once in any case (processes that
each opened their own breaker while Redis was away, in one cooldown's time, tell it once too).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from tradewire.domain.risk_alerts import BreakerOpening
from tradewire.ports import Clock
from tradewire.ports.events import RiskAlertLog

log = logging.getLogger("tradewire.risk")


@dataclass(eq=False)
class BreakerAlerts:
    """Writes each breaker opening it is handed, in the background."""

    store: RiskAlertLog
    clock: Clock
    _writing: set[asyncio.Task[None]] = field(default_factory=set)  # kept until done (else collected)

    def opened(self, opening: BreakerOpening) -> None:
        """Schedule the opening's event; returns at once (called on the trading path)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: nothing trades either; the opening is in the log
            log.warning("account %s: circuit opened outside the event loop; not told", opening.account_id)
            return
        task = loop.create_task(self._write(opening))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _write(self, opening: BreakerOpening) -> None:
        try:
            await asyncio.to_thread(self.store.breaker_opened, opening, self.clock.now())
        except Exception:
            log.exception("account %s: the circuit's opening could not be stored", opening.account_id)

    async def settle(self) -> None:
        """Wait for the openings being written (tests, and shutdown)."""
        while self._writing:
            await asyncio.gather(*list(self._writing), return_exceptions=True)
