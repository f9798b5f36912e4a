"""Prices for live accounts: one fetch_tickers call per exchange for every symbol in use, cached."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

from tradewire.domain.money import to_decimal

log = logging.getLogger("tradewire.tickers")

Fetch = Callable[[list[str]], Awaitable[dict[str, Any]]]
FetchOne = Callable[[str], Awaitable[dict[str, Any]]]


class SharedPrices(Protocol):
    """Prices of one venue shared by every process (shared_tickers.RedisTickers): what another
    process fetched, with its age, and what this one fetched, for the others."""

    async def fresh(self, symbols: list[str], ttl_s: float) -> dict[str, tuple[float, Decimal]]: ...
    async def share(self, prices: dict[str, Decimal]) -> None: ...


class TickerCache:
    """Shared by every account of one exchange. A stale or unknown symbol triggers one batched
    refresh of all symbols asked for so far; if the batch call fails, symbols are fetched one by one.
    With `shared`, a price another process fetched within the TTL is taken before asking the exchange,
    and what this process fetches is shared."""

    def __init__(
        self,
        ttl_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedPrices | None = None,
    ) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._shared = shared
        self._prices: dict[str, tuple[float, Decimal]] = {}
        self._wanted: set[str] = set()
        self._errors: dict[str, str] = {}  # why the last refresh of a symbol gave no price
        self._lock = asyncio.Lock()
        self.batch_calls = 0
        self.single_calls = 0

    def cached(self, symbol: str) -> Decimal | None:
        """The price if fresh, else None."""
        entry = self._prices.get(symbol)
        if entry is None or self._clock() - entry[0] > self._ttl:
            return None
        return entry[1]

    async def price(self, symbol: str, fetch_many: Fetch, fetch_one: FetchOne) -> Decimal | None:
        """A fresh price, refreshing the whole set of symbols in use with one call if needed."""
        self._wanted.add(symbol)
        if (fresh := self.cached(symbol)) is not None:
            return fresh
        async with self._lock:
            if (fresh := self.cached(symbol)) is not None:  # another caller refreshed meanwhile
                return fresh
            symbols = sorted(self._wanted)
            if self._shared is not None:
                now = self._clock()
                for known, (age_s, price) in (await self._shared.fresh(symbols, self._ttl)).items():
                    self._prices[known] = (now - age_s, price)
                    self._errors.pop(known, None)
                if (fresh := self.cached(symbol)) is not None:  # another process fetched it
                    return fresh
            try:
                self.batch_calls += 1
                fetched = self._store(await fetch_many(symbols))
                if fetched and self._shared is not None:
                    await self._shared.share(fetched)
            except Exception as exc:
                log.warning(
                    "fetch_tickers for %d symbols failed (%s); fetching %s alone", len(symbols), exc, symbol
                )
                try:
                    self.single_calls += 1
                    self._store({symbol: await fetch_one(symbol)})
                except Exception as single_exc:
                    log.warning("fetch_ticker %s failed: %s", symbol, single_exc)
                    self._errors[symbol] = str(single_exc) or type(single_exc).__name__
        found = self.cached(symbol)
        if found is None:
            self._errors.setdefault(symbol, "the exchange reported no price")
        return found

    def error(self, symbol: str) -> str | None:
        """Why the last refresh left `symbol` without a price (None if it has one)."""
        return None if self.cached(symbol) is not None else self._errors.get(symbol)

    def _store(self, tickers: dict[str, Any]) -> dict[str, Decimal]:
        now = self._clock()
        fetched: dict[str, Decimal] = {}
        for symbol, ticker in tickers.items():
            value = (ticker or {}).get("last") or (ticker or {}).get("close")
            if value is not None:
                fetched[symbol] = to_decimal(value)
                self._prices[symbol] = (now, fetched[symbol])
                self._errors.pop(symbol, None)
        return fetched
