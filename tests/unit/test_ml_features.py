"""The LightGBM feature set: no look-ahead (truncation), shape and names, hand-checked values."""

from __future__ import annotations

import numpy as np
import pytest

from tradewire.domain.candles import Candles
from tradewire.domain.ml.features import FEATURE_SET, compute_features, last_features


def test_the_set_has_twenty_plus_named_columns() -> None:
    assert len(FEATURE_SET.names) >= 20
    assert len(set(FEATURE_SET.names)) == len(FEATURE_SET.names)
    assert FEATURE_SET.key == "candles@1"


def test_features_at_row_t_use_candles_up_to_t_only(candles: Candles) -> None:
    full = compute_features(candles)

    for k in [1, 2, 5, 21, 33, 34, 35, 101, len(candles) // 2, len(candles) - 1]:
        truncated = compute_features(candles.rows(stop=k))
        np.testing.assert_array_equal(truncated, full[:k], err_msg=f"cut at {k}")
        np.testing.assert_array_equal(last_features(candles.rows(stop=k)), full[k - 1])


def test_every_candle_feature_is_defined_from_the_warmup_and_net_flow_is_missing(candles: Candles) -> None:
    features = compute_features(candles)
    net_flow = [FEATURE_SET.names.index("net_flow_1"), FEATURE_SET.names.index("net_flow_10")]
    candle_columns = [i for i in range(len(FEATURE_SET.names)) if i not in net_flow]

    assert features.shape == (len(candles), len(FEATURE_SET.names))
    assert np.isfinite(features[FEATURE_SET.warmup :, candle_columns]).all()
    assert np.isnan(features[FEATURE_SET.warmup - 1, candle_columns]).any()
    assert np.isnan(features[:, net_flow]).all()


def test_hand_values_on_a_small_series() -> None:
    n = 40
    close = 100.0 + np.arange(n, dtype=np.float64)
    candles = Candles(
        symbol="X/Y",
        timeframe="1m",
        ts=np.arange(n, dtype=np.int64) * 60_000,
        open=close - 0.5,
        high=close + 1.0,
        low=close - 1.0,
        close=close,
        volume=np.full(n, 10.0),
    )
    buy = np.full(n, 7.5)
    f = compute_features(candles, buy_volume=buy)
    col = {name: i for i, name in enumerate(FEATURE_SET.names)}
    last = f[-1]

    assert last[col["ret_1"]] == pytest.approx(139 / 138 - 1)
    assert last[col["ret_20"]] == pytest.approx(139 / 119 - 1)
    assert last[col["ma_ratio_5"]] == pytest.approx(139 / 137 - 1)  # mean of 135..139
    assert last[col["range_1"]] == pytest.approx(2 / 139)
    assert last[col["body"]] == pytest.approx(0.5 / 138.5)
    assert last[col["close_position"]] == pytest.approx(0.5)
    assert last[col["volume_ratio_20"]] == pytest.approx(1.0)
    assert last[col["volume_change"]] == pytest.approx(0.0)
    assert last[col["rsi_14"]] == pytest.approx(1.0)  # only gains
    assert last[col["net_flow_1"]] == pytest.approx(0.5)  # (7.5 - 2.5) / 10
    assert last[col["net_flow_10"]] == pytest.approx(0.5)
    assert np.isnan(f[0, col["ret_1"]])
