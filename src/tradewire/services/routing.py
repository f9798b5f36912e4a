"""Routing: one execution intent per matching active subscription, stored before anything trades."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal

from tradewire import failpoints
from tradewire.domain.execution import pair_matches
from tradewire.domain.records import SubscriptionTarget
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
        matching = [t for t in targets if _matches(t, symbol)]
        price = self._market_price(symbol) if self._market_price else None
        await asyncio.to_thread(self._store.create_intents, signal_id, matching, self._clock.now(), price)
        failpoints.hit("after_intents")
        log.info("signal %s routed to %d of %d active subscriptions", signal_id, len(matching), len(targets))
        return len(matching)


def _matches(target: SubscriptionTarget, symbol: str) -> bool:
    """A subscription whose stored pair list cannot be read receives nothing (and says so in the log);
    its signal still reaches every other subscriber."""
    try:
        return pair_matches(target.pairs, symbol)
    except Exception:
        log.exception("subscription %s: its pair list cannot be read; skipped", target.subscription_id)
        return False
