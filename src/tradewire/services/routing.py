"""Routing: one execution intent per matching active subscription, stored before anything trades."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from tradewire import failpoints
from tradewire.domain.execution import pair_matches
from tradewire.domain.members import AccountMode
from tradewire.domain.records import Routing, SubscriptionTarget
from tradewire.ports import (
    Clock,
    ExchangeDirectory,
    ExchangeError,
    ExchangeUnavailable,
    IntentStore,
    SignalStore,
    SymbolResolver,
)
from tradewire.services.ingest import PAPER_ONLY

log = logging.getLogger("tradewire.routing")


class RoutingStore(SignalStore, IntentStore, Protocol):
    """What routing needs of the store: the signal, its strategy's venues, and its intents."""


@dataclass(slots=True, eq=False)
class SignalRouter:
    """Fans a signal out to its strategy's subscriptions."""

    store: RoutingStore
    clock: Clock
    # Prices signals without one for the strategy's track record: the paper market's ...
    market_price: Callable[[str], Decimal | None] | None = None
    symbols: SymbolResolver | None = None
    resolve_timeout_s: float = 15.0
    # ... or, for a strategy with live subscribers, their exchange's.
    exchanges: ExchangeDirectory | None = None
    track_price_timeout_s: float = 2.0
    # Signals waiting for a market list (the sweep leaves them).
    _resolving: set[int] = field(init=False, default_factory=set)

    async def route(self, signal_id: int) -> int:
        """Create the signal's intents (idempotent); returns how many subscriptions match."""
        info = await asyncio.to_thread(self.store.signal_route_info, signal_id)
        if info is None:
            log.warning("signal %s not found; nothing to route", signal_id)
            return 0
        strategy_id, symbol = info.strategy_id, info.symbol
        if info.status == "unresolved":
            return 0  # decided once: its intents say why
        targets = await asyncio.to_thread(self.store.active_targets, strategy_id)
        status = "routed"
        if not symbol:
            if signal_id in self._resolving:
                return 0
            self._resolving.add(signal_id)
            try:
                symbol = await self._resolve(signal_id, strategy_id)
            finally:
                self._resolving.discard(signal_id)
            status = "routed" if symbol else "unresolved"
        if symbol:
            matching = [t for t in targets if _matches(t, symbol)]
        else:
            # No venue lists the ticker (or a list could not be loaded): every subscriber without a
            # pair filter gets an intent that execution skips with its own venue's reason.
            matching = [t for t in targets if not t.pairs]
        price = await self._track_price(strategy_id, symbol) if symbol and not info.priced else None
        routing = Routing(signal_id, matching, price, status)
        await asyncio.to_thread(self.store.create_intents, routing, self.clock.now())
        failpoints.hit("after_intents")
        log.info("signal %s routed to %d of %d active subscriptions", signal_id, len(matching), len(targets))
        return len(matching)

    async def _track_price(self, strategy_id: int, symbol: str) -> Decimal | None:
        """The price a signal without one counts at in its strategy's track record (the losing-pair
        blacklist, the strategy's drawdown): where its subscribers trade. The paper market replays or
        simulates prices, so a strategy with live subscribers is priced at a live venue's ticker."""
        paper = self.market_price(symbol) if self.market_price else None
        if self.exchanges is None:
            return paper
        venues = await asyncio.to_thread(self.store.strategy_venues, strategy_id)
        if not venues.live:
            return paper
        venue = venues.live[0]
        try:
            exchange = self.exchanges.for_account(venue.account_id, venue.exchange, AccountMode.LIVE)
            # Bounded: every subscriber's intent waits for this price, which only the record needs.
            price = await asyncio.wait_for(exchange.price(symbol), self.track_price_timeout_s)
        except (ExchangeUnavailable, ExchangeError, TimeoutError) as exc:
            log.info("no %s price for the track record: %s", symbol, exc or "timed out")
            price = None
        except Exception:  # the record's price never stops a signal from being routed
            log.exception("no %s price for the track record", symbol)
            price = None
        return price if price is not None or not venues.paper else paper

    async def _resolve(self, signal_id: int, strategy_id: int) -> str:
        """Resolve the ticker of a signal stored before a venue's market list was loaded."""
        ticker = await asyncio.to_thread(self.store.signal_ticker, signal_id) or ""
        if self.symbols is None:
            return ""
        venues = await asyncio.to_thread(self.store.strategy_venues, strategy_id)
        resolution = await self.symbols.resolve_loading(
            PAPER_ONLY if venues.empty else venues, ticker, self.resolve_timeout_s
        )
        if resolution.symbol is None:
            log.warning("signal %s: %s", signal_id, resolution.explain(ticker))
            return ""
        await asyncio.to_thread(self.store.resolve_signal, signal_id, resolution.symbol)
        log.info("signal %s: %r resolved to %s", signal_id, ticker, resolution.symbol)
        return resolution.symbol


def _matches(target: SubscriptionTarget, symbol: str) -> bool:
    """A subscription whose stored pair list cannot be read receives nothing (and says so in the log);
    its signal still reaches every other subscriber."""
    try:
        return pair_matches(target.pairs, symbol)
    except Exception:
        log.exception("subscription %s: its pair list cannot be read; skipped", target.subscription_id)
        return False
