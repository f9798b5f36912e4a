"""The candle features every LightGBM predictor is trained, backtested and run on, defined once.

`FEATURE_SET` names the set, its version and the ordered column names; a model's manifest records
them and the registry refuses a model whose feature names differ. Change a formula, add or reorder a
column: bump the version.

Every column at row t uses candles 0..t only (tests/unit/test_ml_features.py cuts the series and
compares). Windowed features (returns, moving averages, volatility, ranges, volume ratios) depend on
the last 30 candles at most; the RSI and MACD ones are recursive (Wilder / EMA smoothing) and, like the
indicators they reuse, settle after a few times their period: live evaluation reads `history` candles
(200 or more), far beyond that.

`net_flow_*` (buy volume minus sell volume over total, from public trades) exists only where trades
were recorded; candles alone leave it NaN, which LightGBM treats as missing. Live, 1 s candles built
from an exchange's trade stream carry their taker buy volume (`Candles.buy_volume`, see
domain/trade_candles.py) and the `lightgbm` strategy passes it here; Parquet candles (training,
backtests) have none, so a model trained on them never splits on these columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tradewire.domain import indicators as ind
from tradewire.domain.candles import Candles

FloatArray = npt.NDArray[np.float64]

RETURN_HORIZONS = (1, 3, 5, 10, 20)
MA_PERIODS = (5, 10, 20, 30)
VOLUME_PERIODS = (5, 20)


@dataclass(frozen=True)
class FeatureSet:
    name: str
    version: int
    names: tuple[str, ...]
    warmup: int  # first row where every candle feature (not net flow) is defined

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


FEATURE_SET = FeatureSet(
    name="candles",
    version=1,
    names=(
        *(f"ret_{k}" for k in RETURN_HORIZONS),
        *(f"ma_ratio_{p}" for p in MA_PERIODS),
        "volatility_10",
        "volatility_30",
        "rsi_7",
        "rsi_14",
        "macd_hist",
        "momentum_10",
        "range_1",
        "range_10",
        "body",
        "upper_wick",
        "lower_wick",
        "close_position",
        "atr_14",
        "bollinger_b",
        *(f"volume_ratio_{p}" for p in VOLUME_PERIODS),
        "volume_change",
        "net_flow_1",
        "net_flow_10",
    ),
    warmup=34,  # MACD(12, 26, 9): its histogram starts at row 33, the first momentum row needs 34
)


def _shifted(values: FloatArray, k: int) -> FloatArray:
    out = np.full(len(values), np.nan)
    if k < len(values):
        out[k:] = values[:-k]
    return out


def _ratio(a: FloatArray, b: FloatArray) -> FloatArray:
    """a / b with NaN where b is 0 or either is NaN (call under np.errstate: compute_features does)."""
    out = a / b
    out[~np.isfinite(out)] = np.nan
    return out


def _window_std(values: FloatArray, period: int) -> FloatArray:
    """Population standard deviation of the last `period` values (NaN while the window is short)."""
    out = np.full(len(values), np.nan)
    if len(values) >= period:
        windows = np.lib.stride_tricks.sliding_window_view(values, period)
        out[period - 1 :] = windows.std(axis=1)
    return out


def _window_sum(values: FloatArray, period: int) -> FloatArray:
    out = np.full(len(values), np.nan)
    if len(values) >= period:
        out[period - 1 :] = np.lib.stride_tricks.sliding_window_view(values, period).sum(axis=1)
    return out


def compute_features(candles: Candles, buy_volume: FloatArray | None = None) -> FloatArray:
    """The feature matrix, one row per candle, columns in `FEATURE_SET.names` order (float64).

    `buy_volume`: the taker-buy base volume per candle when trades were recorded (sell volume is the
    rest of the candle's volume); None leaves the net-flow columns NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return _features(candles, buy_volume)


def _features(candles: Candles, buy_volume: FloatArray | None) -> FloatArray:
    close, high, low, open_, volume = candles.close, candles.high, candles.low, candles.open, candles.volume
    n = len(close)
    columns: list[FloatArray] = []
    for k in RETURN_HORIZONS:
        columns.append(_ratio(close, _shifted(close, k)) - 1.0)
    for p in MA_PERIODS:
        columns.append(_ratio(close, ind.sma(close, p)) - 1.0)
    log_returns = np.log(_ratio(close, _shifted(close, 1)))
    for p in (10, 30):
        columns.append(_window_std(log_returns, p))
    columns.append(ind.rsi(close, 7) / 100.0)
    columns.append(ind.rsi(close, 14) / 100.0)
    macd = ind.macd(close, 12, 26, 9)
    columns.append(_ratio(macd.histogram, close))
    columns.append(_ratio(macd.histogram - _shifted(macd.histogram, 1), close))  # momentum of MACD
    spread = high - low
    candle_range = _ratio(spread, close)
    columns.append(candle_range)
    columns.append(ind.sma(candle_range, 10))
    columns.append(_ratio(close - open_, open_))
    columns.append(_ratio(high - np.maximum(open_, close), close))
    columns.append(_ratio(np.minimum(open_, close) - low, close))
    position = _ratio(close - low, spread)
    position[(spread == 0) & np.isfinite(close)] = 0.5
    columns.append(position)
    columns.append(_ratio(ind.atr(high, low, close, 14), close))
    bands = ind.bollinger(close, 20, 2.0)
    columns.append(_ratio(close - bands.lower, bands.upper - bands.lower))
    for p in VOLUME_PERIODS:
        columns.append(_ratio(volume, ind.sma(volume, p)))
    columns.append(np.log1p(volume) - np.log1p(_shifted(volume, 1)))
    if buy_volume is None:
        columns.extend([np.full(n, np.nan), np.full(n, np.nan)])
    else:
        net = 2.0 * np.asarray(buy_volume, dtype=np.float64) - volume
        columns.append(_ratio(net, volume))
        columns.append(_ratio(_window_sum(net, 10), _window_sum(volume, 10)))
    matrix = np.column_stack(columns) if n else np.empty((0, len(FEATURE_SET.names)))
    assert matrix.shape[1] == len(FEATURE_SET.names)
    return np.ascontiguousarray(matrix, dtype=np.float64)


def last_features(candles: Candles) -> FloatArray:
    """The features of the last candle only (one row), as `compute_features(candles)[-1]`."""
    row: FloatArray = compute_features(candles)[-1]
    return row
