"""Recent closes per exchange and symbol, cached, for the correlation limit on new entries."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from tradewire.domain.correlation import correlated_with
from tradewire.ports import Clock, Exchange, ExchangeError, ExchangeUnavailable

log = logging.getLogger("tradewire.correlation")


@dataclass(slots=True, eq=False)
class Correlations:
    """Measures how an entry's pair moves with the pairs an account holds, from hourly candles.

    Closes come from the exchange's `recent_closes` (public candles), cached per exchange and symbol
    for `ttl_s`: a thousand subscribers entering the same pair ask the exchange once.
    """

    clock: Clock
    ttl_s: float = 900.0
    timeframe: str = "1h"
    limit: int = 100
    _cache: dict[tuple[str, str], tuple[float, list[float] | None]] = field(init=False, default_factory=dict)

    async def correlated(
        self,
        exchange: Exchange,
        exchange_name: str,
        symbol: str,
        open_symbols: Sequence[str],
        threshold: float,
    ) -> tuple[tuple[str, float], ...]:
        """The open pairs correlating with `symbol` above `threshold` (unmeasurable pairs left out)."""
        closes: dict[str, list[float]] = {}
        for name in (symbol, *open_symbols):
            found = await self._closes(exchange, exchange_name, name)
            if found is not None:
                closes[name] = found
        return correlated_with(symbol, open_symbols, closes, threshold)

    async def _closes(self, exchange: Exchange, exchange_name: str, symbol: str) -> list[float] | None:
        key = (exchange_name, symbol)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        fetch = getattr(exchange, "recent_closes", None)
        closes: list[float] | None = None
        if fetch is not None:
            try:
                closes = await fetch(symbol, self.timeframe, self.limit)
            except (ExchangeError, ExchangeUnavailable) as exc:
                log.info("no candles for %s on %s (%s): correlation not measured", symbol, exchange_name, exc)
                return None  # not cached: the next entry asks again
        self._cache[key] = (now + self.ttl_s, closes)
        return closes
