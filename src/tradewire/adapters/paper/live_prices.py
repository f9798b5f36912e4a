"""Real prices for the paper market, from an exchange's public tickers when the network is there."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal

from tradewire.adapters.live.clients import public_client
from tradewire.adapters.paper.feed import ReplayFeed
from tradewire.domain.money import to_decimal

log = logging.getLogger("tradewire.paper.prices")


class PublicPriceFeed:
    """Polls one fetch_tickers for the paper markets and holds the feed at those prices.

    When the exchange cannot be reached, a market that followed it keeps the exchange's last price
    (its price source says so), and follows the exchange again when it answers: the replayed or
    simulated series is another market's price, at which stops and targets would fire and orders
    fill at prices the market never had. A market that never had the exchange's price (none stored
    before a restart either) stays on the replay or simulation, as the log and its source say.
    """

    def __init__(
        self,
        exchange: str,
        feed: ReplayFeed,
        symbols: Sequence[str],
        api_urls: Mapping[str, str] | None = None,
        timeout_ms: int = 10_000,
    ) -> None:
        self._client = public_client(exchange, api_urls, timeout_ms)
        self._exchange = exchange
        self._feed = feed
        self._symbols = list(symbols)
        self._following: set[str] = set()
        self._reachable: bool | None = None

    async def refresh(self) -> int:
        """One fetch_tickers; returns how many markets now follow the exchange (0 if unreachable)."""
        try:
            if not self._client.markets:
                await self._client.load_markets()
            listed = [s for s in self._symbols if s in self._client.markets]
            tickers = await self._client.fetch_tickers(listed)
        except Exception as exc:
            self._fall_back(exc)
            return 0
        if self._reachable is not True:
            log.info("paper prices: following %s's public tickers", self._exchange)
        self._reachable = True
        for symbol, ticker in tickers.items():
            last = (ticker or {}).get("last")
            if last is not None and symbol in self._symbols:
                self._feed.follow_live(symbol, to_decimal(last), f"live:{self._exchange}")
                self._following.add(symbol)
        return len(self._following)

    def resume(self, stored: Mapping[str, tuple[Decimal, str]]) -> int:
        """Hold the markets at the exchange's prices stored before a restart (the `paper_prices`
        table: price and source per symbol) until the exchange answers; returns how many."""
        label = f"live:{self._exchange}"
        for symbol, (price, source) in stored.items():
            if symbol in self._symbols and price > 0 and source.startswith(label):
                self._feed.follow_live(symbol, price, f"{label} (last price before the restart)")
                self._following.add(symbol)
        return len(self._following)

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.refresh()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval_s)
        finally:
            await self._client.close()

    def _fall_back(self, exc: Exception) -> None:
        if self._reachable is not False:
            log.warning(
                "paper prices: %s unreachable (%s: %s); markets that followed it keep its last price, "
                "the others use replayed or simulated prices",
                self._exchange,
                type(exc).__name__,
                str(exc)[:200],
            )
        self._reachable = False
        label = f"live:{self._exchange} (last price; {self._exchange} unreachable)"
        for symbol in self._following:
            price = self._feed.last_price(symbol)
            if price is not None:
                self._feed.follow_live(symbol, price, label)
