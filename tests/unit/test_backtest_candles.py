"""The backtest service reads candles only through its CandleArchive port: no files, no database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tradewire.domain.candles import Candles
from tradewire.services.backtests import BacktestInputError, BacktestRequest, BacktestService

HOUR_MS = 3_600_000
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _hours(symbol: str, count: int) -> Candles:
    close = np.linspace(100.0, 120.0, count)
    return Candles(
        symbol=symbol,
        timeframe="1h",
        ts=int(T0.timestamp() * 1000) + HOUR_MS * np.arange(count, dtype=np.int64),
        open=close,
        high=close + 1,
        low=close - 1,
        close=close,
        volume=np.ones(count),
    )


class Archive:
    """Candle series in memory, by (symbol, timeframe); `broken` files raise what a bad file does."""

    def __init__(self, series: dict[tuple[str, str], Candles], broken: Exception | None = None) -> None:
        self.series = series
        self.broken = broken
        self.read_paths: list[Path] = []

    def find(self, symbol: str, timeframe: str) -> Path | None:
        if "/" not in symbol:
            raise ValueError(f"not a unified market symbol like 'BTC/USDT': {symbol!r}")
        return Path(f"{symbol}-{timeframe}") if (symbol, timeframe) in self.series else None

    def read(self, path: Path, symbol: str, timeframe: str) -> Candles:
        self.read_paths.append(path)
        if self.broken is not None:
            raise self.broken
        return self.series[(symbol, timeframe)]


class NoStore:
    """A store the refused requests must never reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the store was asked for {name} by a request that cannot run")


class Clock:
    def now(self) -> datetime:
        return T0


def _service(archive: Archive | None) -> BacktestService:
    return BacktestService(NoStore(), Clock(), archive)


def _request(*symbols: str, **fields: Any) -> BacktestRequest:
    return BacktestRequest(strategy="ema_cross", params={}, symbols=symbols, timeframe="1h", **fields)


def test_candles_are_read_from_the_archive_and_cut_to_the_window() -> None:
    # Arrange
    archive = Archive({("BTC/USDT", "1h"): _hours("BTC/USDT", 48)})
    start, end = datetime(2025, 1, 1, 6, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)

    # Act
    series = _service(archive).candles_of({"id": 1, **_request("BTC/USDT", start=start, end=end).row()})

    # Assert
    assert series is not None and list(series) == ["BTC/USDT"]
    assert len(series["BTC/USDT"]) == 18  # 06:00 … 23:00
    assert archive.read_paths == [Path("BTC/USDT-1h")]


@pytest.mark.parametrize(
    ("archive", "symbols", "message"),
    [
        (None, ("BTC/USDT",), "no market data on this server: set TRADEWIRE_DATA_DIR"),
        (Archive({}), ("BTC/USDT", "ETH/USDT"), "no 1h candles for BTC/USDT, ETH/USDT on this server"),
        (Archive({}), ("BTCUSDT",), "not a unified market symbol"),
        (
            Archive({("BTC/USDT", "1h"): _hours("BTC/USDT", 3)}, broken=ValueError("BTC/USDT-1h: row 2 ...")),
            ("BTC/USDT",),
            "row 2",
        ),
        (
            Archive(
                {("BTC/USDT", "1h"): _hours("BTC/USDT", 3)}, broken=PermissionError(13, "Permission denied")
            ),
            ("BTC/USDT",),
            "BTC/USDT-1h: cannot read it \\(Permission denied\\)",
        ),
    ],
    ids=["no-archive", "missing-series", "bad-symbol", "bad-file", "unreadable-file"],
)
def test_a_request_the_archive_cannot_serve_is_refused_before_anything_is_stored(
    archive: Archive | None, symbols: tuple[str, ...], message: str
) -> None:
    # Act / Assert
    with pytest.raises(BacktestInputError, match=message):
        asyncio.run(_service(archive).submit(1, _request(*symbols)))
