"""Closed candles from an exchange's public API through ccxt, for strategies that run on the server."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import ccxt
import numpy as np

from tradewire.adapters.live.clients import public_client
from tradewire.domain.candles import Candles, timeframe_ms

log = logging.getLogger("tradewire.candles")


class PublicCandles:
    """One public ccxt client per exchange; `closed_candles` drops the candle still forming."""

    def __init__(
        self, exchange: str, api_urls: Mapping[str, str] | None = None, timeout_ms: int = 10_000
    ) -> None:
        self._client = public_client(exchange, api_urls, timeout_ms)
        self.exchange = exchange

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        """The latest `limit` closed candles; None when the exchange cannot be asked (logged)."""
        step = timeframe_ms(timeframe)
        try:
            rows = await self._client.fetch_ohlcv(symbol, timeframe, limit=limit + 1)
        except ccxt.BaseError as exc:
            log.warning("%s: no %s candles for %s: %s", self.exchange, timeframe, symbol, exc)
            return None
        now_ms = int(time.time() * 1000)
        rows = [r for r in rows if r and r[0] + step <= now_ms and None not in r[:6]]
        if not rows:
            return None
        data = np.asarray([r[:6] for r in rows[-limit:]], dtype=np.float64)
        ts, keep = np.unique(data[:, 0].astype(np.int64), return_index=True)
        data = data[keep]
        return Candles(
            symbol=symbol,
            timeframe=timeframe,
            ts=ts,
            open=data[:, 1],
            high=data[:, 2],
            low=data[:, 3],
            close=data[:, 4],
            volume=data[:, 5],
        )

    async def close(self) -> None:
        await self._client.close()
