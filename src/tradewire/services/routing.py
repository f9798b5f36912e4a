"""Routing: one execution intent per matching active subscription, stored before anything trades."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal

from tradewire import failpoints
from tradewire.domain.execution import pair_matches
from tradewire.ports import Clock, Store

log = logging.getLogger("tradewire.routing")


class SignalRouter:
    """Fans a signal out to its strategy's subscriptions."""

    def __init__(
        self, store: Store, clock: Clock, market_price: Callable[[str], Decimal | None] | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._market_price = market_price  # prices signals without one for the strategy's track record

    async def route(self, signal_id: int) -> int:
        """Create the signal's intents (idempotent); returns how many subscriptions match."""
        info = await asyncio.to_thread(self._store.signal_route_info, signal_id)
        if info is None:
            log.warning("signal %s not found; nothing to route", signal_id)
            return 0
        strategy_id, symbol, _status = info
        targets = await asyncio.to_thread(self._store.active_targets, strategy_id)
        matching = [t for t in targets if pair_matches(t.pairs, symbol)]
        price = self._market_price(symbol) if self._market_price else None
        await asyncio.to_thread(self._store.create_intents, signal_id, matching, self._clock.now(), price)
        failpoints.hit("after_intents")
        log.info("signal %s routed to %d of %d active subscriptions", signal_id, len(matching), len(targets))
        return len(matching)
