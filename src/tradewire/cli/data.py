"""`tradewire data download`: candles from an exchange into the Parquet data directory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tradewire.cli.common import data_app, fail, parse_when, settings_or_exit


@data_app.command("download")
def data_download(
    symbol: Annotated[str, typer.Option(help="unified symbol, e.g. BTC/USDT")],
    since: Annotated[str, typer.Option(help="first candle, UTC: 2024-01-01 or 2024-01-01T12:00")],
    exchange: Annotated[str, typer.Option(help="ccxt exchange id")] = "binance",
    timeframe: Annotated[str, typer.Option(help="candle timeframe: 1m, 5m, 1h, 1d ...")] = "5m",
    until: Annotated[str | None, typer.Option(help="stop before this time, UTC (default: now)")] = None,
    out: Annotated[
        Path | None, typer.Option(help="data directory (default: the configured one, TRADEWIRE_DATA_DIR)")
    ] = None,
    api_url: Annotated[
        list[str] | None,
        typer.Option(help="KEY=URL: override ccxt's urls['api'][KEY] (a proxy, a local endpoint); repeat"),
    ] = None,
    page: Annotated[int, typer.Option(min=1, max=5000, help="candles asked for per request")] = 1000,
) -> None:
    """Download candles with ccxt into <out>/ohlcv/<exchange>/<BASE>_<QUOTE>-<tf>.parquet (merged)."""
    from datetime import UTC, datetime

    from tradewire.adapters.candles_parquet import CandleFileError, merge_candles, series_path
    from tradewire.adapters.live.clients import ClientError, client_class
    from tradewire.adapters.live.downloads import DownloadFailed, UnknownMarket, download_candles
    from tradewire.domain.candles import timeframe_ms

    try:
        timeframe_ms(timeframe)
    except ValueError as exc:
        fail(str(exc))
    pair = symbol.strip().upper()
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    start_ms = _epoch_ms("--since", since)
    stop_ms = now_ms if until is None else _epoch_ms("--until", until)
    if stop_ms <= start_ms:
        fail("--until must be after --since")
    root = out
    if root is None:
        root = settings_or_exit().effective_data_dir
        if root is None:
            fail("no data directory: give --out or set TRADEWIRE_DATA_DIR")
    if client_class(exchange, "sync") is None:
        fail(f"--exchange: ccxt does not know {exchange!r} (binance, bybit, okx, ...)")
    try:
        target = series_path(root, exchange, pair, timeframe)
    except ValueError:
        fail(f"--symbol: not a unified symbol like 'BTC/USDT': {symbol!r}")
    urls = _api_urls(api_url or [])
    show = sys.stderr.isatty()
    try:
        rows = download_candles(
            exchange,
            pair,
            timeframe,
            start_ms=start_ms,
            stop_ms=min(stop_ms, now_ms),
            now_ms=now_ms,
            page=page,
            api_urls=urls,
            progress=_show_progress if show else None,
        )
    except ClientError as exc:
        fail(f"--api-url: {exc}")
    except UnknownMarket as exc:
        fail(str(exc))
    except DownloadFailed as exc:
        fail(str(exc), 1)
    finally:
        if show:
            sys.stderr.write("\r" + " " * 40 + "\r")
    if not rows:
        typer.echo(f"{exchange} has no closed {pair} {timeframe} candles in that period; nothing written")
        return
    try:
        total, added = merge_candles(target, rows, pair, timeframe)
    except CandleFileError as exc:
        fail(str(exc))
    first = datetime.fromtimestamp(rows[0][0] / 1000, UTC).isoformat(timespec="minutes")
    last = datetime.fromtimestamp(rows[-1][0] / 1000, UTC).isoformat(timespec="minutes")
    typer.echo(f"{len(rows)} candles downloaded ({first} to {last}), {added} new: {total} in {target}")


def _epoch_ms(option: str, text: str) -> int:
    moment = parse_when(option, text)
    assert moment is not None
    return int(moment.timestamp() * 1000)


def _api_urls(items: list[str]) -> dict[str, str]:
    """--api-url KEY=URL options as {key: url}; the keys are checked against the exchange's."""
    urls: dict[str, str] = {}
    for item in items:
        key, sep, url = item.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            fail(f"--api-url: expected KEY=http(s)://..., got {item!r}")
        urls[key] = url
    return urls


def _show_progress(count: int) -> None:
    sys.stderr.write(f"\r{count} candles ...")
    sys.stderr.flush()
