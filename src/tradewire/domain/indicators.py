"""Technical indicators: pure functions over float64 arrays, with TA-Lib's default conventions.

Every function accepts array-likes and returns arrays as long as its input, NaN during the warm-up.
The value at index i uses only data up to i: nothing looks ahead.

Conventions (TA-Lib's defaults; the tests pin them with hand-computed values):
- EMA: k = 2 / (period + 1), seeded with the SMA of the first `period` values.
- RSI and ATR: Wilder smoothing (k = 1 / period), seeded with the plain mean of the first `period`
  changes or true ranges.
- MACD is exactly talib.MACD: its fast EMA starts where the slow one does (seeded with the SMA of the
  `fast` values ending there), so early values differ slightly from ema(fast) - ema(slow) and converge;
  all three lines start together, after slow + signal - 2 candles.
- Bollinger: SMA middle band, population standard deviation (ddof=0).
- Stochastic: the "slow" stochastic, %K and %D both smoothed with SMAs.
- A window without any change, range or money flow gives an RSI, %K or MFI of 0, as in TA-Lib.
- OBV starts at the first candle's volume, not at 0.
Calling talib.set_unstable_period or talib.set_compatibility anywhere in the process changes these.

Missing values (NaN):
- Leading rows with a NaN in any input are skipped; the warm-up starts at the first complete row.
- SMA and VWAP are NaN while a later NaN lies inside their window, and recover once it has left.
- Every other indicator is a running computation: a NaN after the first complete row makes that value
  and every later one NaN. TA-Lib does this itself for most of them; it is enforced here for all,
  because TA-Lib's RSI turns a gap into zeros and its OBV and STOCH step over some gaps silently.
  Fill or drop gaps first where values after them are needed.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import talib

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# TA-Lib refuses longer periods with a bare Exception; checking first names the bad parameter.
MAX_PERIOD = 100_000
# The moving average inside Bollinger and the stochastic, passed explicitly rather than left to TA-Lib's
# defaults. (The stubs declare MA_Type without re-exporting it from `talib`, hence the ignore.)
_SMA = talib.MA_Type.SMA  # type: ignore[attr-defined]


class MacdLines(NamedTuple):
    """MACD line (fast EMA - slow EMA), its signal EMA, and histogram = macd - signal."""

    macd: FloatArray
    signal: FloatArray
    histogram: FloatArray


class BollingerBands(NamedTuple):
    """SMA middle band with bands `stddev` population standard deviations above and below it."""

    upper: FloatArray
    middle: FloatArray
    lower: FloatArray


class StochasticLines(NamedTuple):
    """Slow %K and its moving average %D, both from 0 to 100."""

    k: FloatArray
    d: FloatArray


def sma(close: npt.ArrayLike, period: int) -> FloatArray:
    """Simple moving average of the last `period` values (warm-up: period - 1).

    NaN only while a NaN input lies inside the window; otherwise equal to talib.SMA.
    """
    period = _period("sma", "period", period)
    (values,) = _columns("sma", close=close)
    return _window_mean(values, np.isnan(values), period)


def ema(close: npt.ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, k = 2 / (period + 1), seeded with the SMA of the first `period` values.

    Warm-up: period - 1.
    """
    period = _period("ema", "period", period)
    (values,) = _columns("ema", close=close)
    return _cut(talib.EMA(values, timeperiod=period), _first_gap(values))


def rsi(close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Relative strength index (0..100) with Wilder-smoothed gains and losses (warm-up: period)."""
    period = _period("rsi", "period", period, minimum=2)
    (values,) = _columns("rsi", close=close)
    return _cut(talib.RSI(values, timeperiod=period), _first_gap(values))


def macd(close: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9) -> MacdLines:
    """MACD, signal line and histogram as talib.MACD computes them (warm-up: slow + signal - 2)."""
    fast = _period("macd", "fast", fast, minimum=2)
    slow = _period("macd", "slow", slow, minimum=2)
    signal = _period("macd", "signal", signal)
    if fast >= slow:
        # TA-Lib would silently swap them; a reversed pair is far more likely a mistake.
        raise ValueError(f"macd: fast must be shorter than slow, got fast={fast}, slow={slow}")
    (values,) = _columns("macd", close=close)
    line, signal_line, histogram = talib.MACD(values, fastperiod=fast, slowperiod=slow, signalperiod=signal)
    gap = _first_gap(values)
    return MacdLines(_cut(line, gap), _cut(signal_line, gap), _cut(histogram, gap))


def bollinger(close: npt.ArrayLike, period: int = 20, stddev: float = 2.0) -> BollingerBands:
    """Bollinger bands: SMA ± `stddev` population standard deviations (warm-up: period - 1)."""
    period = _period("bollinger", "period", period, minimum=2)
    width = float(stddev)
    if not (math.isfinite(width) and width >= 0):
        raise ValueError(f"bollinger: stddev must be a finite number >= 0, got {stddev!r}")
    (values,) = _columns("bollinger", close=close)
    upper, middle, lower = talib.BBANDS(values, timeperiod=period, nbdevup=width, nbdevdn=width, matype=_SMA)
    gap = _first_gap(values)
    return BollingerBands(_cut(upper, gap), _cut(middle, gap), _cut(lower, gap))


def atr(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Average true range with Wilder smoothing (warm-up: period, as true range needs a previous close)."""
    period = _period("atr", "period", period)
    highs, lows, closes = _columns("atr", high=high, low=low, close=close)
    return _cut(talib.ATR(highs, lows, closes, timeperiod=period), _first_gap(highs, lows, closes))


def stochastic(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    k_period: int = 14,
    k_smooth: int = 3,
    d_period: int = 3,
) -> StochasticLines:
    """Slow stochastic: %K over `k_period` smoothed by an SMA of `k_smooth`, %D its SMA of `d_period`.

    Warm-up: k_period + k_smooth + d_period - 3, for both lines.
    """
    k_period = _period("stochastic", "k_period", k_period)
    k_smooth = _period("stochastic", "k_smooth", k_smooth)
    d_period = _period("stochastic", "d_period", d_period)
    highs, lows, closes = _columns("stochastic", high=high, low=low, close=close)
    k, d = talib.STOCH(
        highs,
        lows,
        closes,
        fastk_period=k_period,
        slowk_period=k_smooth,
        slowk_matype=_SMA,
        slowd_period=d_period,
        slowd_matype=_SMA,
    )
    gap = _first_gap(highs, lows, closes)
    return StochasticLines(_cut(k, gap), _cut(d, gap))


def obv(close: npt.ArrayLike, volume: npt.ArrayLike) -> FloatArray:
    """On-balance volume: adds the volume on an up close, subtracts it on a down close (no warm-up).

    Starts at the first candle's volume, as TA-Lib does.
    """
    closes, volumes = _columns("obv", close=close, volume=volume)
    return _cut(talib.OBV(closes, volumes), _first_gap(closes, volumes))


def mfi(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    period: int = 14,
) -> FloatArray:
    """Money flow index (0..100): a volume-weighted RSI of the typical price (warm-up: period)."""
    period = _period("mfi", "period", period, minimum=2)
    highs, lows, closes, volumes = _columns("mfi", high=high, low=low, close=close, volume=volume)
    flows = talib.MFI(highs, lows, closes, volumes, timeperiod=period)
    return _cut(flows, _first_gap(highs, lows, closes, volumes))


def vwap(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    period: int,
) -> FloatArray:
    """Rolling VWAP of the typical price (high + low + close) / 3 over the last `period` candles.

    Warm-up: period - 1. NaN where the window has no volume at all, or holds a NaN input.
    """
    period = _period("vwap", "period", period)
    highs, lows, closes, volumes = _columns("vwap", high=high, low=low, close=close, volume=volume)
    missing = _missing(highs, lows, closes, volumes)
    typical = (highs + lows + closes) / 3.0
    # The ratio of the two window means is the ratio of the window sums; the 1 / period cancels.
    price_volume = _window_mean(typical * volumes, missing, period)
    total_volume = _window_mean(volumes, missing, period)
    # Counted exactly rather than tested on the running sum, which can leave a rounding residue
    # where it should be 0 and would turn an empty window into a meaningless price.
    traded = _window_count(volumes > 0, period) > 0
    result = np.full(len(volumes), np.nan)
    np.divide(price_volume, total_volume, out=result, where=traded & ~np.isnan(total_volume))
    return result


def crossed_above(a: npt.ArrayLike, b: npt.ArrayLike) -> BoolArray:
    """True at i when a[i-1] <= b[i-1] and a[i] > b[i]; False at 0 and where an input is NaN.

    `b` may be a single level, such as 70 for an RSI.
    """
    first, second = _pair("crossed_above", a, b)
    return _rises_over(first, second)


def crossed_below(a: npt.ArrayLike, b: npt.ArrayLike) -> BoolArray:
    """True at i when a[i-1] >= b[i-1] and a[i] < b[i]; False at 0 and where an input is NaN.

    `b` may be a single level, such as 30 for an RSI.
    """
    first, second = _pair("crossed_below", a, b)
    return _rises_over(second, first)


def _rises_over(a: FloatArray, b: FloatArray) -> BoolArray:
    crossed = np.zeros(len(a), dtype=np.bool_)
    # Any comparison with NaN is False, so a NaN on either side never counts as a cross.
    crossed[1:] = (a[:-1] <= b[:-1]) & (a[1:] > b[1:])
    return crossed


def _pair(indicator: str, a: npt.ArrayLike, b: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    if np.ndim(b) == 0:
        (first,) = _columns(indicator, a=a)
        return first, np.full(len(first), b, dtype=np.float64)
    first, second = _columns(indicator, a=a, b=b)
    return first, second


def _window_mean(values: FloatArray, missing: BoolArray, period: int) -> FloatArray:
    """talib.SMA, except that a NaN blanks only the windows holding it instead of all later ones."""
    if not missing.any():
        return np.asarray(talib.SMA(values, timeperiod=period), dtype=np.float64)
    # Zeros in place of the gaps keep the running sum finite; the windows that held them are blanked.
    mean = np.asarray(talib.SMA(np.where(missing, 0.0, values), timeperiod=period), dtype=np.float64)
    mean[_window_count(missing, period) > 0] = np.nan
    return mean


def _window_count(flags: BoolArray, period: int) -> npt.NDArray[np.int64]:
    """How many of the last `period` flags are set, at each index (exact: integer sums)."""
    running = np.cumsum(flags, dtype=np.int64)
    counts = running.copy()
    counts[period:] -= running[:-period]
    return counts


def _first_gap(*columns: FloatArray) -> int:
    """Index of the first NaN after the leading incomplete rows, or the length if there is none."""
    missing = _missing(*columns)
    if not missing.any():
        return len(missing)
    start = int(np.argmin(missing))  # first complete row
    rest = missing[start:]
    if not rest.any():
        return len(missing)
    return start + int(np.argmax(rest))


def _cut(raw: object, gap: int) -> FloatArray:
    """A TA-Lib result as a float64 array, NaN from index `gap` on."""
    result = np.asarray(raw, dtype=np.float64)
    result[gap:] = np.nan
    return result


def _missing(*columns: FloatArray) -> BoolArray:
    missing = np.isnan(columns[0])
    for column in columns[1:]:
        missing |= np.isnan(column)
    return missing


def _columns(indicator: str, **named: npt.ArrayLike) -> tuple[FloatArray, ...]:
    """The inputs as contiguous float64 arrays, checked to be one-dimensional and of one length."""
    columns: list[FloatArray] = []
    for name, values in named.items():
        array = np.ascontiguousarray(values, dtype=np.float64)
        # ascontiguousarray turns a scalar into a 1-element array; a scalar is still a mistake here.
        if array.ndim != 1 or np.ndim(values) != 1:
            raise ValueError(f"{indicator}: {name} must be one-dimensional, got shape {np.shape(values)}")
        columns.append(array)
    lengths = {len(column) for column in columns}
    if len(lengths) > 1:
        sizes = ", ".join(f"{name}={len(column)}" for name, column in zip(named, columns, strict=True))
        raise ValueError(f"{indicator}: inputs must have the same length, got {sizes}")
    return tuple(columns)


def _period(indicator: str, name: str, value: int, minimum: int = 1) -> int:
    """`value` checked to be an integer in [minimum, MAX_PERIOD]."""
    # bool is an int subclass, but `True` as a period is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{indicator}: {name} must be an integer, got {value!r}")
    if not minimum <= value <= MAX_PERIOD:
        raise ValueError(f"{indicator}: {name} must be between {minimum} and {MAX_PERIOD}, got {value}")
    return int(value)
