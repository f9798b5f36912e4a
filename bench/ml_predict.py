"""Benchmark: the `lightgbm` strategy's work per candle for 100 symbols: features on each symbol's
last candles and one batched prediction. Prints min / median over repeated runs; target (issue #13
item 6) < 50 ms per candle.

Two ways are timed: the features of every candle of each window (what `signals()` does, 200 candles:
the runner's history) and only what the last candle needs (a window of 120 candles). The model is
trained once on a real shared series (ETH/BTC 5m) with the production parameters.

    .venv/bin/python bench/ml_predict.py [--symbols 100] [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradewire.adapters.candles_parquet import read_candles  # noqa: E402
from tradewire.adapters.ml.lightgbm_model import load_predictor  # noqa: E402
from tradewire.adapters.ml.training import train_series  # noqa: E402
from tradewire.domain.ml.features import compute_features  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    data = ROOT.parent / "shared/data/ohlcv/freqtrade/ETH_BTC-5m.parquet"
    candles = read_candles(data, "ETH/BTC", "5m")
    text, _ = train_series(candles, horizon=12, fee_rate=0.001)
    predictor = load_predictor(text)
    rng = np.random.default_rng(0)
    for window in (200, 120):
        starts = rng.integers(0, len(candles) - window, size=args.symbols)
        series = [candles.rows(int(s), int(s) + window) for s in starts]
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            rows = np.stack([compute_features(c)[-1] for c in series])
            proba = predictor.predict(rows)
            times.append((time.perf_counter() - t0) * 1000)
        assert proba.shape == (args.symbols,)
        print(
            f"{args.symbols} symbols, {window} candles each: features + one batched prediction "
            f"min {min(times):.1f} ms, median {statistics.median(times):.1f} ms (target < 50 ms)"
        )


if __name__ == "__main__":
    main()
