"""Candles from an exchange's public API through ccxt, page by page, for `tradewire data download`."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ccxt

from tradewire.adapters.live.clients import public_client
from tradewire.domain.candles import timeframe_ms

# [open time ms, open, high, low, close, volume]; a value the exchange left out is NaN.
Row = list[float]


class UnknownMarket(ValueError):
    """The exchange has no such market: the request was wrong, not the network."""


class DownloadFailed(Exception):
    """The exchange could not be reached, or refused; nothing was downloaded."""


def download_candles(
    exchange: str,
    symbol: str,
    timeframe: str,
    *,
    start_ms: int,
    stop_ms: int,
    now_ms: int,
    page: int = 1000,
    api_urls: Mapping[str, str] | None = None,
    timeout_ms: int = 30_000,
    progress: Callable[[int], None] | None = None,
) -> list[Row]:
    """Candles opening in [start_ms, stop_ms) and closed by now_ms, oldest first, one row
    per open time. A sync client with ccxt's own throttle keeps to the exchange's rate limit;
    `api_urls` are the operator's (a proxy, a local endpoint). `progress` hears the count so far.

    Raises ClientError (unknown exchange or url key), UnknownMarket or DownloadFailed.
    """
    step = timeframe_ms(timeframe)
    client = public_client(exchange, api_urls, timeout_ms, flavour="sync")
    rows: dict[int, Row] = {}
    cursor = start_ms
    try:
        while cursor < stop_ms:
            batch = client.fetch_ohlcv(symbol, timeframe, since=cursor, limit=page)
            if not batch:
                break
            for row in batch:
                ts = int(row[0])
                if start_ms <= ts < stop_ms and ts + step <= now_ms:
                    rows[ts] = [ts, *(float("nan") if v is None else float(v) for v in row[1:6])]
            following = int(batch[-1][0]) + step
            if following <= cursor:
                break
            cursor = following
            if progress is not None:
                progress(len(rows))
    except ccxt.BadSymbol as exc:
        raise UnknownMarket(f"{exchange} has no market {symbol}: {exc}") from exc
    except ccxt.NetworkError as exc:
        raise DownloadFailed(f"cannot reach {exchange}: {type(exc).__name__}: {_first_line(exc)}") from exc
    except ccxt.BaseError as exc:
        raise DownloadFailed(f"{exchange} refused: {type(exc).__name__}: {_first_line(exc)}") from exc
    return [rows[ts] for ts in sorted(rows)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""
