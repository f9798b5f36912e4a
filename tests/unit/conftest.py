"""Fixtures shared by the unit tests."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from tradewire.adapters.candles_parquet import read_candles
from tradewire.domain.candles import Candles

# Real series from ../shared/data/ohlcv: an hourly USDT market and a 5-minute BTC-quoted one.
SERIES = [
    ("binance/BTC_USDT-1h.parquet", "BTC/USDT", "1h"),
    ("freqtrade/ETH_BTC-5m.parquet", "ETH/BTC", "5m"),
]


@pytest.fixture(scope="module", params=SERIES, ids=[relative for relative, _, _ in SERIES])
def candles(request: pytest.FixtureRequest, data_dir: Path) -> Candles:
    """Each real series in turn (a test taking it runs once per series)."""
    relative, symbol, timeframe = request.param
    return _read(data_dir / "ohlcv" / relative, symbol, timeframe)


@functools.cache
def _read(path: Path, symbol: str, timeframe: str) -> Candles:
    """Each file read once for every module (Candles are immutable: frozen, read-only arrays)."""
    return read_candles(path, symbol, timeframe)
