"""Candle series in the Parquet data directory, `ohlcv/<source>/<BASE>_<QUOTE>-<tf>.parquet`: read,
found, and merged with freshly downloaded candles."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
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
_SOURCE = re.compile(r"[a-z0-9_]+")  # ccxt exchange ids


class CandleFileError(ValueError):
    """A Parquet file that is not a readable candle series."""


def read_candles(path: Path, symbol: str, timeframe: str) -> Candles:
    """Load one candle series; raises CandleFileError (one line naming the file, and the row when one
    row is at fault) if columns are missing or a row is not a candle a market can print."""
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
        candles = Candles(
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
    problem = first_bad_row(candles)
    if problem is not None:
        row, why = problem
        opened = datetime.fromtimestamp(int(candles.ts[row]) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
        raise CandleFileError(f"{path}: row {row} (opened {opened} UTC): {why}; fix or drop that candle")
    return candles


def first_bad_row(candles: Candles) -> tuple[int, str] | None:
    """The first candle no market can print, and why: a missing or infinite value, a price at or
    below 0, a high below the low, open or close (or a low above them), a negative volume."""
    o, h, lo, c, v = candles.open, candles.high, candles.low, candles.close, candles.volume
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(o) | ~np.isfinite(h) | ~np.isfinite(lo) | ~np.isfinite(c) | ~np.isfinite(v)
        bad |= (o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0) | (v < 0)
        bad |= (h < lo) | (h < o) | (h < c) | (lo > o) | (lo > c)
    if not bool(bad.any()):
        return None
    row = int(np.argmax(bad))
    values = {"open": o[row], "high": h[row], "low": lo[row], "close": c[row], "volume": v[row]}
    return row, _why(values)


def _why(values: dict[str, float]) -> str:
    for name, value in values.items():
        if math.isnan(value):
            return f"{name} is missing (NaN)"
        if math.isinf(value):
            return f"{name} is infinite"
    for name in ("open", "high", "low", "close"):
        if values[name] <= 0:
            return f"{name} is {values[name]:g} (a price must be above 0)"
    if values["volume"] < 0:
        return f"volume is {values['volume']:g} (it cannot be negative)"
    high, low = values["high"], values["low"]
    if high < low:
        return f"high {high:g} is below low {low:g}"
    for name in ("open", "close"):
        if high < values[name]:
            return f"high {high:g} is below the {name} {values[name]:g}"
        if low > values[name]:
            return f"low {low:g} is above the {name} {values[name]:g}"
    raise AssertionError("first_bad_row found a row with nothing wrong")  # pragma: no cover


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


class ParquetArchive:
    """The services' CandleArchive (ports/archive.py): the series files under one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    @classmethod
    def at(cls, data_dir: Path | None) -> ParquetArchive | None:
        """The archive of `data_dir`; None when the server has no data directory."""
        return None if data_dir is None else cls(data_dir)

    def find(self, symbol: str, timeframe: str) -> Path | None:
        return find_series(self.data_dir, symbol, (timeframe,))

    def read(self, path: Path, symbol: str, timeframe: str) -> Candles:
        return read_candles(path, symbol, timeframe)


def timeframe_of(path: Path) -> str:
    """The timeframe in a series file name ('BTC_USDT-1m.parquet' -> '1m')."""
    _, sep, timeframe = path.stem.rpartition("-")
    if not sep or not timeframe:
        raise CandleFileError(f"{path}: file name does not end in '-<timeframe>.parquet'")
    return timeframe


def series_path(data_dir: Path, source: str, symbol: str, timeframe: str) -> Path:
    """Where the series of `symbol` ('BTC/USDT') from `source` lives; ValueError for a symbol (or
    source) that could name a file outside the data directory."""
    if not _SOURCE.fullmatch(source):
        raise ValueError(f"not a source name like 'binance': {source!r}")
    return data_dir / "ohlcv" / source / f"{_series_stem(symbol)}-{timeframe}.parquet"


def merge_candles(
    target: Path, rows: Sequence[Sequence[float]], symbol: str, timeframe: str
) -> tuple[int, int]:
    """Merge [ts, open, high, low, close, volume] rows into the series file (new values win on equal
    times), written whole and then renamed over the old file, so a reader never sees half a file.
    Returns (rows in the file, rows added); CandleFileError when the existing file cannot be read."""
    fresh = np.array(rows, dtype=np.float64).reshape(-1, 6)
    columns = {"ts": fresh[:, 0].astype(np.int64), **{c: fresh[:, i] for i, c in enumerate(COLUMNS[1:], 1)}}
    before = 0
    if target.exists():
        try:
            old = read_candles(target, symbol, timeframe)
        except (CandleFileError, OSError) as exc:
            raise CandleFileError(f"cannot merge into {target}: {exc}") from exc
        before = len(old)
        keep = ~np.isin(old.ts, columns["ts"])
        columns = {c: np.concatenate([getattr(old, c)[keep], columns[c]]) for c in COLUMNS}
    order = np.argsort(columns["ts"], kind="stable")
    table = pa.table({c: columns[c][order] for c in COLUMNS})
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".tmp")
    pq.write_table(table, temporary)
    temporary.replace(target)
    return table.num_rows, table.num_rows - before


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
    # Missing values become NaN, which first_bad_row then reports with their row.
    return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)
