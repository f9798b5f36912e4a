"""The `lightgbm` strategy on a scripted predictor: crossings, exit threshold, holding time, levels,
confidence, no look-ahead, and the backtest engine running it."""

from __future__ import annotations

import numpy as np
import pytest

from tradewire.domain.backtest import BacktestConfig, run_backtest
from tradewire.domain.candles import Candles
from tradewire.domain.ml.features import FEATURE_SET
from tradewire.domain.ml.strategy import LightgbmParams, LightgbmStrategy
from tradewire.domain.strategies.builtin import build_strategy
from tradewire.domain.strategies.definition import StrategyDefinition


def _candles(n: int) -> Candles:
    close = 100.0 + np.sin(np.arange(n) / 3.0)
    return Candles(
        symbol="X/Y",
        timeframe="1m",
        ts=np.arange(n, dtype=np.int64) * 60_000,
        open=close,
        high=close + 0.5,
        low=close - 0.5,
        close=close,
        volume=np.full(n, 5.0),
    )


class Table:
    """Probabilities given per row index (the predictor is called on rows warmup..n-1)."""

    feature_names = FEATURE_SET.names

    def __init__(self, proba: list[float]) -> None:
        self.proba = np.array(proba)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.proba[FEATURE_SET.warmup : FEATURE_SET.warmup + len(rows)]


def test_entries_are_crossings_and_exits_follow_the_exit_threshold() -> None:
    w = FEATURE_SET.warmup
    proba = [0.0] * w + [0.2, 0.7, 0.8, 0.65, 0.5, 0.3, 0.9, 0.9]
    params = LightgbmParams(model_id=1, threshold=0.6, exit_threshold=0.4, take_profit_pct=2.0)
    signals = LightgbmStrategy(params, Table(proba)).signals(_candles(len(proba)))

    assert np.flatnonzero(signals.entries).tolist() == [w + 1, w + 6]
    assert np.flatnonzero(signals.exits).tolist() == [w + 5]
    assert signals.confidence is not None
    assert signals.confidence[w + 1] == pytest.approx(0.7)
    assert np.isnan(signals.confidence[:w]).all()
    assert signals.take_profit is not None
    assert signals.take_profit[w + 1] == pytest.approx(_candles(len(proba)).close[w + 1] * 1.02)


def test_holding_time_exits_after_n_candles() -> None:
    w = FEATURE_SET.warmup
    proba = [0.0] * w + [0.2, 0.7, 0.8, 0.8, 0.8, 0.8]
    params = LightgbmParams(model_id=1, threshold=0.6, max_hold_candles=3)

    signals = LightgbmStrategy(params, Table(proba)).signals(_candles(len(proba)))

    assert np.flatnonzero(signals.exits).tolist() == [w + 4]


def test_params_need_one_model_and_a_sane_exit() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        build_strategy("lightgbm", {"threshold": 0.6})
    with pytest.raises(ValueError, match="exit_threshold"):
        build_strategy("lightgbm", {"model_id": 1, "threshold": 0.5, "exit_threshold": 0.7})
    definition = StrategyDefinition.model_validate(
        {"builtin": "lightgbm", "params": {"model_symbol": "ETH/BTC"}, "symbols": ["ETH/BTC"]}
    )
    with pytest.raises(ValueError, match="no model loaded"):
        definition.build().signals(_candles(50))


def test_no_look_ahead_and_the_backtester_runs_it(eth_btc_5m: Candles) -> None:
    rng = np.random.default_rng(3)
    weights = rng.normal(size=len(FEATURE_SET.names))

    class Linear:
        feature_names = FEATURE_SET.names

        def predict(self, rows: np.ndarray) -> np.ndarray:
            z = np.nan_to_num(rows) @ weights * 50
            return 1 / (1 + np.exp(-z))

    strategy = LightgbmStrategy(LightgbmParams(model_id=1, threshold=0.7, exit_threshold=0.3), Linear())
    full = strategy.signals(eth_btc_5m)
    for k in (40, 500, 2000):
        cut = strategy.signals(eth_btc_5m.rows(stop=k))
        np.testing.assert_array_equal(cut.entries, full.entries[:k])
        np.testing.assert_array_equal(cut.exits, full.exits[:k])

    result = run_backtest(strategy, {"ETH/BTC": eth_btc_5m}, BacktestConfig())
    assert len(result.trades) > 0


class Rows:
    """Records the feature rows it is asked about."""

    feature_names = FEATURE_SET.names

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []

    def predict(self, rows: np.ndarray) -> np.ndarray:
        self.rows.append(rows)
        return np.full(len(rows), 0.5)


def test_the_model_sees_buy_sell_net_flow_when_the_candles_carry_buy_volume() -> None:
    params = LightgbmParams(model_id=1)
    flow = [FEATURE_SET.names.index("net_flow_1"), FEATURE_SET.names.index("net_flow_10")]
    plain, traded = Rows(), Rows()
    candles = _candles(60)
    LightgbmStrategy(params, plain).probabilities(candles)
    LightgbmStrategy(params, traded).probabilities(
        Candles(**{**candles.__dict__, "buy_volume": np.full(60, 4.0)})
    )

    assert np.isnan(plain.rows[0][:, flow]).all()
    assert traded.rows[0][:, flow].tolist() == [[0.6, 0.6]] * (60 - FEATURE_SET.warmup)  # (4 - 1) / 5
