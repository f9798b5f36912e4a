"""Read candle series from the shared Parquet data directory: `ohlcv/<source>/<BASE>_<QUOTE>-<tf>.parquet`."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from tradewire.domain.candles import Candles

COLUMNS = ("ts", "open", "high", "low", "close", "volume")
DATA_DIR_ENV = "TRADEWIRE_DATA_DIR"
PREFERRED_TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")
# The Binance series are the most complete and the closest to what the demo markets model.
PREFERRED_SOURCE = "binance"

_ASSET = re.compile(r"[A-Za-z0-9]+")


class CandleFileError(ValueError):
    """A Parquet file that is not a readable candle series."""


def read_candles(path: Path, symbol: str, timeframe: str) -> Candles:
    """Load one candle series; raises CandleFileError if columns are missing or the rows are unusable."""
    try:
        schema = pq.read_schema(path)
    except pa.ArrowInvalid as exc:  # the file exists but is not Parquet; a missing file stays an OSError
        raise CandleFileError(f"{path}: not a readable Parquet file ({exc})") from exc
    missing = [name for name in COLUMNS if name not in schema.names]
    if missing:
        raise CandleFileError(
            f"{path}: missing column(s) {', '.join(missing)}; a candle file needs {', '.join(COLUMNS)}"
        )
    table = pq.read_table(path, columns=list(COLUMNS))
    if table.column("ts").null_count:
        raise CandleFileError(f"{path}: column 'ts' has empty values")
    try:
        return Candles(
            symbol=symbol,
            timeframe=timeframe,
            ts=_ts_ms(table.column("ts")),
            open=_floats(table.column("open")),
            high=_floats(table.column("high")),
            low=_floats(table.column("low")),
            close=_floats(table.column("close")),
            volume=_floats(table.column("volume")),
        )
    except ValueError as exc:
        raise CandleFileError(f"{path}: {exc}") from exc


def find_series(
    data_dir: Path,
    symbol: str,
    preferred_timeframes: Sequence[str] = PREFERRED_TIMEFRAMES,
) -> Path | None:
    """The candle file for `symbol` ('BTC/USDT'), or None if no source has it in a preferred timeframe.

    Timeframes are tried in the given order; within one timeframe, sources are tried by name with
    'binance' first. A perpetual ('BTC/USDT:USDT') uses its spot series, which it tracks closely.
    """
    stem = _series_stem(symbol)
    root = data_dir / "ohlcv"
    if not root.is_dir():
        return None
    sources = sorted(
        (entry for entry in root.iterdir() if entry.is_dir()),
        key=lambda entry: (entry.name != PREFERRED_SOURCE, entry.name),
    )
    for timeframe in preferred_timeframes:
        for source in sources:
            candidate = source / f"{stem}-{timeframe}.parquet"
            if candidate.is_file():
                return candidate
    return None


def timeframe_of(path: Path) -> str:
    """The timeframe in a series file name ('BTC_USDT-1m.parquet' -> '1m')."""
    _, sep, timeframe = path.stem.rpartition("-")
    if not sep or not timeframe:
        raise CandleFileError(f"{path}: file name does not end in '-<timeframe>.parquet'")
    return timeframe


def default_data_dir() -> Path | None:
    """$TRADEWIRE_DATA_DIR if set, else `../shared/data` next to the working directory if it exists."""
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    sibling = Path.cwd().parent / "shared" / "data"
    return sibling if sibling.is_dir() else None


def _series_stem(symbol: str) -> str:
    pair = symbol.partition(":")[0]
    base, sep, quote = pair.partition("/")
    # Checked because the parts become a file name: nothing may escape the data directory.
    if not sep or not _ASSET.fullmatch(base) or not _ASSET.fullmatch(quote):
        raise ValueError(f"not a unified market symbol like 'BTC/USDT': {symbol!r}")
    return f"{base}_{quote}"


def _ts_ms(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("ms")).cast(pa.int64())
    return np.asarray(column.to_numpy(), dtype=np.int64)


def _floats(column: pa.ChunkedArray) -> npt.NDArray[np.float64]:
    # Missing values become NaN rather than failing the whole series.
    return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)
