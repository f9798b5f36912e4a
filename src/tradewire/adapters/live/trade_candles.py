"""1-second candles from an exchange's public trade stream (ccxt pro `watch_trades`), for strategies
whose timeframe is `1s`.

One `TradeCandles` per exchange, one task per symbol followed; the candles themselves are built by
the pure `SecondCandles` (domain/trade_candles.py: empty seconds, late and duplicate trades, gaps).
Only the symbols the runner asks for are streamed (`follow`): a symbol no 1 s strategy uses any more
has its task cancelled and its buffer dropped.

When the stream breaks (an error from `watch_trades`, or ccxt quietly opened a new connection
between two calls), the trades missed are unknown: the buffer is marked with a gap (emptied), so no
strategy evaluates across it until enough fresh candles exist; the stream is opened again after a
pause that doubles with each failure in a row (`retry_s` up to `max_retry_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tradewire.adapters.live.clients import ClientError, public_client
from tradewire.domain.candles import Candles
from tradewire.domain.trade_candles import Outcome, PublicTrade, SecondCandles

log = logging.getLogger("tradewire.trade_candles")

SECONDS = "1s"


def wall_ms() -> int:
    return int(time.time() * 1000)


class TradeCandles:
    """The 1 s candle source of one exchange (a `CandleSource` for timeframe `1s`)."""

    def __init__(
        self,
        exchange: str,
        api_urls: Mapping[str, str] | None = None,
        timeout_ms: int = 10_000,
        *,
        capacity: int = 2_000,
        grace_ms: int = 250,
        retry_s: float = 1.0,
        max_retry_s: float = 30.0,
        now_ms: Callable[[], int] = wall_ms,
        client: Any = None,
    ) -> None:
        self.exchange = exchange
        self._urls = dict(api_urls or {})
        self._timeout_ms = timeout_ms
        self._capacity = capacity
        self._grace_ms = grace_ms  # a second closes this long after it ends: trades still on the wire
        self._retry_s = retry_s
        self._max_retry_s = max_retry_s
        self._now_ms = now_ms
        self._client = client
        self._books: dict[str, SecondCandles] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._unwatching: set[asyncio.Task[None]] = set()
        self._broken: str | None = None

    @property
    def following(self) -> list[str]:
        return sorted(self._tasks)

    def book(self, symbol: str) -> SecondCandles | None:
        """The buffer of a symbol followed (exact candles and counters), or None."""
        return self._books.get(symbol)

    def follow(self, symbols: Collection[str]) -> None:
        """Stream exactly these symbols: start the new ones, stop (and forget) the others."""
        wanted = set(symbols)
        for symbol in [s for s in self._tasks if s not in wanted]:
            self._tasks.pop(symbol).cancel()
            self._books.pop(symbol, None)
            unwatch = asyncio.get_running_loop().create_task(self._unwatch(symbol))
            self._unwatching.add(unwatch)
            unwatch.add_done_callback(self._unwatching.discard)
            log.info("%s %s: trade stream stopped (no 1s strategy uses it)", self.exchange, symbol)
        if not wanted - self._tasks.keys() or self._ensure_client() is None:
            return
        loop = asyncio.get_running_loop()
        for symbol in sorted(wanted - self._tasks.keys()):
            self._books[symbol] = SecondCandles(symbol, self._capacity)
            self._tasks[symbol] = loop.create_task(self._watch(symbol))
            log.info("%s %s: trade stream started for 1s candles", self.exchange, symbol)

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        """The latest `limit` closed 1 s candles (at most the buffer's capacity); None while the symbol
        is not followed or fewer exist since it started or since its last gap."""
        if timeframe != SECONDS:
            raise ValueError(f"trade streams build 1s candles only, not {timeframe}")
        book = self._books.get(symbol)
        if book is None:
            return None
        book.close_until(self._now_ms() - self._grace_ms)
        return book.closed(limit)

    async def close(self) -> None:
        tasks = [*self._tasks.values(), *self._unwatching]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._books.clear()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()

    # ------------------------------------------------------------------ inside

    def _ensure_client(self) -> Any:
        if self._client is None and self._broken is None:
            try:
                self._client = public_client(self.exchange, self._urls, self._timeout_ms, flavour="pro")
                if not self._client.has.get("watchTrades"):
                    raise ClientError(f"ccxt has no trade stream for {self.exchange!r}")
            except ClientError as exc:
                self._client = None
                self._broken = str(exc)
                log.error("%s: no 1s candles: %s", self.exchange, exc)
        return self._client

    async def _unwatch(self, symbol: str) -> None:
        """Tell the exchange to stop sending the symbol's trades (the connection may carry others)."""
        client = self._client
        if client is None or not client.has.get("unWatchTrades"):
            return
        try:
            await client.un_watch_trades(symbol)
        except Exception as exc:
            log.info("%s %s: could not unsubscribe its trades: %s", self.exchange, symbol, exc)

    async def _watch(self, symbol: str) -> None:
        client = self._client
        failures = 0
        holder: object | None = None  # the ccxt connection our subscription rides on
        while True:
            try:
                trades = await client.watch_trades(symbol)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                holder = None
                self._gap(symbol, f"stream broke ({type(exc).__name__}: {exc})")
                delay = min(self._max_retry_s, self._retry_s * 2 ** min(failures - 1, 10))
                log.warning("%s %s: trade stream retry in %.1fs", self.exchange, symbol, delay)
                await asyncio.sleep(delay)
                continue
            failures = 0
            now = _holder(client, symbol)
            if holder is not None and now is not holder:
                # ccxt opened a new connection between two calls: what the old one dropped is lost.
                self._gap(symbol, "reconnected")
            holder = now
            self._take(symbol, trades)

    def _gap(self, symbol: str, why: str) -> None:
        book = self._books.get(symbol)
        if book is not None:
            book.gap(self._now_ms())
            log.warning(
                "%s %s: %s; 1s candles start again (gap %d), strategies wait for fresh candles",
                self.exchange,
                symbol,
                why,
                book.gaps,
            )

    def _take(self, symbol: str, trades: list[dict[str, Any]]) -> None:
        book = self._books.get(symbol)
        if book is None:
            return
        for raw in trades:
            trade = _trade(raw)
            if trade is None:
                log.warning(
                    "%s %s: a trade without id, time, price or amount, skipped", self.exchange, symbol
                )
                continue
            if book.add(trade) is Outcome.LATE:
                log.debug("%s %s: trade %s late for its second, left out", self.exchange, symbol, trade.id)


def _trade(raw: Mapping[str, Any]) -> PublicTrade | None:
    """A ccxt trade structure as a `PublicTrade` (None when it lacks what a candle needs)."""
    if raw.get("id") is None or raw.get("timestamp") is None:
        return None
    try:
        side = raw.get("side")
        return PublicTrade(
            id=str(raw["id"]),
            ts=int(raw["timestamp"]),
            # ccxt parses to float; repr is the shortest string that reads back the same, which for
            # an exchange's decimal string is that string.
            price=Decimal(repr(float(raw["price"]))),
            amount=Decimal(repr(float(raw["amount"]))),
            side=side if side in ("buy", "sell") else None,
        )
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return None


def _holder(client: Any, symbol: str) -> object | None:
    """The ccxt WebSocket connection that carries `symbol`'s trades (ccxt keys it 'trade::<symbol>')."""
    for connection in list((getattr(client, "clients", None) or {}).values()):
        if f"trade::{symbol}" in getattr(connection, "subscriptions", {}):
            return connection  # type: ignore[no-any-return]
    return None
