"""Recorded candle history kept on this server (implemented in adapters/candles_parquet.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from tradewire.domain.candles import Candles


class CandleArchive(Protocol):
    """Candle series of many markets in a data directory, one file per market and timeframe."""

    def find(self, symbol: str, timeframe: str) -> Path | None:
        """The file of `symbol`'s candles in `timeframe`, None when there is none; ValueError for a
        symbol that cannot name a file."""
        ...

    def read(self, path: Path, symbol: str, timeframe: str) -> Candles:
        """The candles of a file `find` gave; ValueError for a file that is not a candle series,
        OSError for one that cannot be read."""
        ...
