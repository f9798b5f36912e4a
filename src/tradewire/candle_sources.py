"""Where the platform's own strategies read closed candles (wired by tradewire.wiring)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from tradewire.adapters.live.candles import PublicCandles
from tradewire.adapters.live.trade_candles import TradeCandles
from tradewire.adapters.paper.feed import ReplayFeed
from tradewire.domain.candles import Candles
from tradewire.ports import CandleSource

log = logging.getLogger("tradewire.runtime")


class CandleSources:
    """Where the platform's own strategies read closed candles: the paper market, or an exchange's
    public API (one client per exchange, opened on first use); 1 s candles from the exchange's public
    trade stream (only for the symbols `follow` names)."""

    def __init__(
        self,
        feed: ReplayFeed,
        urls: dict[str, dict[str, str]],
        timeout_ms: int,
        seconds_capacity: int = 2_000,
        seconds_grace_ms: int = 250,
    ) -> None:
        self._feed = feed
        self._urls = urls
        self._timeout = timeout_ms
        self._capacity = seconds_capacity
        self._grace_ms = seconds_grace_ms
        self._public: dict[str, PublicCandles] = {}
        self._trades: dict[str, TradeCandles] = {}

    def for_name(self, name: str) -> CandleSource | None:
        if name == "paper":
            return _PaperCandles(self._feed)
        if name not in self._public:
            try:
                self._public[name] = PublicCandles(name, self._urls.get(name), self._timeout)
            except ValueError as exc:
                log.error("candles from %r: %s", name, exc)
                return None
        return _ExchangeCandles(self._public[name], self._trades.get(name))

    def follow(self, wanted: Mapping[str, frozenset[str]]) -> None:
        """Stream the public trades of exactly these symbols per exchange (for 1 s strategies)."""
        for name in wanted.keys() - self._trades.keys():
            self._trades[name] = TradeCandles(
                name, self._urls.get(name), self._timeout, capacity=self._capacity, grace_ms=self._grace_ms
            )
        for name, source in self._trades.items():
            source.follow(wanted.get(name, frozenset()))

    async def close(self) -> None:
        for client in self._public.values():
            await client.close()
        for source in self._trades.values():
            await source.close()


class _ExchangeCandles:
    """An exchange's candles: 1 s ones from its trade stream, the others from its REST API."""

    def __init__(self, public: PublicCandles, trades: TradeCandles | None) -> None:
        self._public = public
        self._trades = trades

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        if timeframe == "1s":
            return (
                None if self._trades is None else await self._trades.closed_candles(symbol, timeframe, limit)
            )
        return await self._public.closed_candles(symbol, timeframe, limit)


class _PaperCandles:
    def __init__(self, feed: ReplayFeed) -> None:
        self._feed = feed

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        return self._feed.closed_candles(symbol, timeframe, limit)
