"""OHLCV candles as columns of numpy arrays (pure: reading them from disk lives in adapters/)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

_UNIT_MS = {
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}
# ASCII digits only: \d would take '١m' (Arabic-Indic) or '１m' (full-width), which no exchange knows.
_TIMEFRAME = re.compile(r"([0-9]+)([smhdw])")
# A year at most: a candle's close (its open plus this) must stay a time datetime can hold.
MAX_TIMEFRAME_MS = 366 * 86_400_000


def timeframe_ms(tf: str) -> int:
    """Length of a ccxt timeframe ('1m', '5m', '1h', '4h', '1d', '1w'…) in milliseconds.

    Months ('1M') are refused: they have no fixed length; so are timeframes over a year ('9999999w').
    """
    match = _TIMEFRAME.fullmatch(tf)
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"unknown timeframe {tf!r}: expected a count and a unit, like '1m', '4h' or '1d'")
    length = int(match.group(1)) * _UNIT_MS[match.group(2)]
    if length > MAX_TIMEFRAME_MS:
        raise ValueError(f"unknown timeframe {tf!r}: longer than a year")
    return length


@dataclass(frozen=True, kw_only=True, eq=False)
class Candles:
    """One series of candles for a symbol and timeframe, sorted by open time.

    `ts` is the candle open time in ms since the epoch (int64); prices and base volume are float64.
    Gaps (missing candles) are allowed: rows are simply absent. The arrays are read-only views.
    `buy_volume` (optional): the taker-buy base volume per candle, where the candles were built from
    public trades whose side is known (domain/trade_candles.py); the sell volume is the rest.
    """

    symbol: str
    timeframe: str
    ts: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64]
    buy_volume: npt.NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        ts = _frozen_column("ts", self.ts, np.int64)
        object.__setattr__(self, "ts", ts)
        for name in ("open", "high", "low", "close", "volume"):
            column = _frozen_column(name, getattr(self, name), np.float64)
            if len(column) != len(ts):
                raise ValueError(
                    f"{self.symbol} {self.timeframe}: column {name!r} has {len(column)} rows, "
                    f"ts has {len(ts)}"
                )
            object.__setattr__(self, name, column)
        if self.buy_volume is not None:
            column = _frozen_column("buy_volume", self.buy_volume, np.float64)
            if len(column) != len(ts):
                raise ValueError(
                    f"{self.symbol} {self.timeframe}: column 'buy_volume' has {len(column)} rows, "
                    f"ts has {len(ts)}"
                )
            object.__setattr__(self, "buy_volume", column)
        if len(ts) > 1:
            steps = np.diff(ts)
            if not bool((steps > 0).all()):
                row = int(np.argmax(steps <= 0)) + 1
                raise ValueError(
                    f"{self.symbol} {self.timeframe}: ts must be strictly increasing, "
                    f"row {row} has {int(ts[row])} after {int(ts[row - 1])}"
                )

    def __len__(self) -> int:
        return len(self.ts)

    def rows(self, start: int | None = None, stop: int | None = None) -> Candles:
        """The candles in rows [start, stop), as slicing a list would take them (views, no copy)."""
        part = slice(start, stop)
        return dataclasses.replace(
            self,
            ts=self.ts[part],
            open=self.open[part],
            high=self.high[part],
            low=self.low[part],
            close=self.close[part],
            volume=self.volume[part],
            buy_volume=None if self.buy_volume is None else self.buy_volume[part],
        )


def _frozen_column(name: str, values: object, dtype: type[np.generic]) -> npt.NDArray[np.generic]:
    array = np.asarray(values, dtype=dtype)
    if array.ndim != 1:
        raise ValueError(f"column {name!r} must be one-dimensional, got shape {array.shape}")
    # A view, so making it read-only does not touch the caller's array; frozen means the data too.
    view = array.view()
    view.flags.writeable = False
    return view


def coarsened(candles: Candles, max_rows: int) -> Candles:
    """`candles` with every k consecutive rows merged into one bar (its first open time and open, the
    highest high, the lowest low, its last close, the summed volume), k the least that leaves at most
    `max_rows` bars; the series itself when it is short enough."""
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    n = len(candles)
    if n <= max_rows:
        return candles
    k = -(-n // max_rows)
    starts = np.arange(0, n, k)
    ends = np.minimum(starts + k, n) - 1
    return dataclasses.replace(
        candles,
        ts=candles.ts[starts],
        open=candles.open[starts],
        high=np.maximum.reduceat(candles.high, starts),
        low=np.minimum.reduceat(candles.low, starts),
        close=candles.close[ends],
        volume=np.add.reduceat(candles.volume, starts),
        buy_volume=None if candles.buy_volume is None else np.add.reduceat(candles.buy_volume, starts),
    )
