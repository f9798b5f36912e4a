"""Candles merged into fewer bars for a chart: each bar's open, high, low, close and volume are those
of the candles it covers."""

from __future__ import annotations

import numpy as np
import pytest

from tradewire.domain.candles import Candles, coarsened


def _series(n: int) -> Candles:
    ts = np.arange(n, dtype=np.int64) * 60_000
    close = np.arange(n, dtype=np.float64) + 100
    return Candles(
        symbol="BTC/USDT",
        timeframe="1m",
        ts=ts,
        open=close - 0.5,
        high=close + np.where(np.arange(n) == 3, 50, 1),
        low=close - np.where(np.arange(n) == 4, 50, 1),
        close=close,
        volume=np.ones(n),
    )


def test_every_k_candles_become_one_bar_and_the_last_bar_takes_the_rest() -> None:
    bars = coarsened(_series(10), 4)  # k = 3: rows 0-2, 3-5, 6-8, 9

    assert bars.ts.tolist() == [0, 180_000, 360_000, 540_000]
    assert bars.open.tolist() == [99.5, 102.5, 105.5, 108.5]
    assert bars.high.tolist() == [103.0, 153.0, 109.0, 110.0]
    assert bars.low.tolist() == [99.0, 54.0, 105.0, 108.0]
    assert bars.close.tolist() == [102.0, 105.0, 108.0, 109.0]
    assert bars.volume.tolist() == [3.0, 3.0, 3.0, 1.0]


def test_a_short_series_is_kept_and_a_bound_below_one_is_refused() -> None:
    series = _series(5)

    assert coarsened(series, 5) is series
    assert len(coarsened(series, 1)) == 1
    with pytest.raises(ValueError, match="at least 1"):
        coarsened(series, 0)
