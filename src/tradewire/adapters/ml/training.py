"""Train a LightGBM predictor on one series of candles: features, fee-aware labels, walk-forward folds,
held-out metrics and the backtest of the predictor on the held-out tail (the backtest engine).

Rows: from the feature warm-up to the last row with a label. Folds: `folds` consecutive test blocks at
the end, each trained on everything before it minus `horizon` rows (their labels would look into the
test block). The last block is the held-out tail: its metrics and its backtest go into the manifest;
the earlier folds' AUCs show how stable the model is. The shipped model is trained on every row before
the tail (minus the gap), so the reported numbers are those of the model shipped.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from tradewire.adapters.ml.lightgbm_model import (
    PARAMS,
    ROUNDS,
    LightgbmPredictor,
    library_version,
    model_text,
    sha256,
    train,
)
from tradewire.domain.backtest import BacktestConfig, run_backtest
from tradewire.domain.candles import Candles
from tradewire.domain.ml.features import FEATURE_SET, compute_features
from tradewire.domain.ml.strategy import LightgbmParams, LightgbmStrategy
from tradewire.domain.ml.training import auc, labels, log_loss, precision_at, walk_forward


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def train_series(
    candles: Candles,
    horizon: int,
    fee_rate: float,
    margin: float = 0.0,
    threshold: float = 0.6,
    folds: int = 3,
    test_fraction: float = 0.15,
    rounds: int = ROUNDS,
) -> tuple[str, dict[str, Any]]:
    """The model's text and its manifest (without the sha256 of the text, added by `manifest_for`)."""
    features = compute_features(candles)
    y = labels(candles.close, horizon, fee_rate, margin)
    start = FEATURE_SET.warmup
    stop = len(candles) - horizon  # rows with a label
    if stop - start < 500:
        raise ValueError(
            f"{len(candles)} candles are too few to train on (need about {start + horizon + 500})"
        )
    rows = np.arange(start, stop)
    test_size = max(50, int(len(rows) * test_fraction / folds))
    splits = walk_forward(len(rows), folds, test_size, horizon)
    fold_aucs = []
    predictor: LightgbmPredictor | None = None
    for split in splits:
        train_rows, test_rows = rows[split.train], rows[split.test]
        predictor = train(features[train_rows], y[train_rows], FEATURE_SET.names, rounds)
        fold_aucs.append(auc(y[test_rows], predictor.predict(features[test_rows])))
    assert predictor is not None
    tail = rows[splits[-1].test]
    tail_y = y[tail]
    proba = predictor.predict(features[tail])
    precision, chosen = precision_at(tail_y, proba, threshold)
    # The tail's backtest: the strategy on the candles from the tail's start (after a lead-in for the
    # features), entries only inside the tail, no look-ahead (features and probabilities are causal).
    lead = 200
    first = max(0, int(tail[0]) - lead)
    window = candles.rows(first, int(tail[-1]) + 1)
    strategy = LightgbmStrategy(LightgbmParams(model_id=1, threshold=threshold), predictor)
    strategy.warmup = int(tail[0]) - first
    result = run_backtest(strategy, {candles.symbol: window}, BacktestConfig(fee_rate=fee_rate))
    report = result.report.as_json()
    train_rows = rows[splits[-1].train]
    manifest: dict[str, Any] = {
        "format": "lightgbm-text",
        "feature_set": {
            "name": FEATURE_SET.name,
            "version": FEATURE_SET.version,
            "names": list(FEATURE_SET.names),
        },
        "symbol": candles.symbol,
        "timeframe": candles.timeframe,
        "horizon": horizon,
        "fee_rate": fee_rate,
        "margin": margin,
        "threshold": threshold,
        "training_range": {
            "start": _iso(int(candles.ts[train_rows[0]])),
            "end": _iso(int(candles.ts[train_rows[-1]])),
            "rows": len(train_rows),
        },
        "test_range": {
            "start": _iso(int(candles.ts[tail[0]])),
            "end": _iso(int(candles.ts[tail[-1]])),
            "rows": len(tail),
        },
        "metrics": {
            "auc": _num(auc(tail_y, proba)),
            "log_loss": _num(log_loss(tail_y, proba)),
            "precision_at_threshold": _num(precision),
            "predicted_positive": chosen,
            "base_rate": _num(float(tail_y.mean())),
            "fold_auc": [_num(a) for a in fold_aucs],
        },
        "backtest": {
            "trades": len(result.trades),
            "total_return_pct": report.get("total_return_pct"),
            "max_drawdown_pct": report.get("max_drawdown_pct"),
            "win_rate_pct": report.get("win_rate_pct"),
            "sharpe": report.get("sharpe"),
        },
        "lightgbm_version": library_version(),
        "params": {**PARAMS, "num_boost_round": rounds},
    }
    return model_text(predictor), manifest


def manifest_for(text: str, manifest: dict[str, Any]) -> dict[str, Any]:
    return {**manifest, "sha256": sha256(text.encode())}
