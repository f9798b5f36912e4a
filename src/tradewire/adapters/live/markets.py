"""One exchange's market list, loaded once and shared by every account that reaches that exchange."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from tradewire.domain.markets import Market
from tradewire.domain.symbols import SymbolCatalog

# A market list that failed to load this recently is not asked for again (a fan-out to many accounts
# of one unreachable exchange, or a webhook right after a failed load, costs one failure, not many).
RECENT_FAILURE_S = 5.0


class VenueMarkets:
    """The markets of one venue (an exchange at one set of addresses), as loaded by any of its accounts.

    Accounts share it so that a thousand accounts on one exchange load its market list once, and so
    that the webhook can resolve tickers against it without any I/O (`catalog` is None until loaded).
    """

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._clock = clock
        self.markets: dict[str, Market] = {}
        self.catalog: SymbolCatalog | None = None
        self.source: Any = None  # the ccxt client that loaded them (others copy its market tables)
        self.loaded_at: float | None = None
        self.error: str | None = None  # why the last load failed (None after a success)
        self.failed_at: float | None = None
        self.lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return self.catalog is not None

    def age(self) -> float | None:
        """Seconds since the last successful load, or None if never loaded."""
        return None if self.loaded_at is None else self._clock() - self.loaded_at

    def failed_within(self, seconds: float) -> bool:
        return self.failed_at is not None and self._clock() - self.failed_at < seconds

    def store(self, markets: Mapping[str, Market], source: Any) -> None:
        """Keep a freshly loaded market list and index its symbols and exchange ids."""
        self.markets = dict(markets)
        self.catalog = SymbolCatalog.of(self.markets, {m.id: m.symbol for m in self.markets.values()})
        self.source = source
        self.loaded_at = self._clock()
        self.error = None
        self.failed_at = None

    def failed(self, reason: str) -> None:
        """Remember why a load failed; a list loaded before stays in use."""
        self.error = reason
        self.failed_at = self._clock()
