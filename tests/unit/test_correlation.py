"""Correlation of recent returns between pairs, on real candles and constructed series."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tradewire.adapters.candles_parquet import read_candles
from tradewire.domain.correlation import correlated_with, returns_correlation


def test_a_series_correlates_perfectly_with_a_scaled_copy_and_negatively_with_its_mirror() -> None:
    rng = np.random.default_rng(7)
    closes = (100 * np.cumprod(1 + rng.normal(0, 0.01, 200))).tolist()
    mirrored = (100 * np.cumprod(1 - (np.array(closes[1:]) / np.array(closes[:-1]) - 1))).tolist()

    same = returns_correlation(closes, [c * 3 for c in closes])
    assert same is not None and abs(same - 1.0) < 1e-12
    rho = returns_correlation(closes[1:], mirrored)
    assert rho is not None and rho < -0.99


def test_too_few_candles_or_a_flat_series_measure_nothing() -> None:
    assert returns_correlation([1.0 + i for i in range(15)], [2.0 + i for i in range(15)]) is None
    assert returns_correlation([5.0] * 50, [float(i + 1) for i in range(50)]) is None


def test_real_eth_and_btc_returns_correlate_strongly(data_dir: Path) -> None:
    btc = read_candles(data_dir / "ohlcv/binance/BTC_USDT-4h.parquet", "BTC/USDT", "4h")
    eth = read_candles(data_dir / "ohlcv/binance/ETH_USDT-4h.parquet", "ETH/USDT", "4h")
    common, ib, ie = np.intersect1d(btc.ts, eth.ts, return_indices=True)
    assert len(common) > 100

    rho = returns_correlation(btc.close[ib][-100:].tolist(), eth.close[ie][-100:].tolist())

    assert rho is not None and 0.5 < rho <= 1.0


def test_correlated_with_counts_other_open_pairs_above_the_threshold() -> None:
    rng = np.random.default_rng(3)
    base = 100 * np.cumprod(1 + rng.normal(0, 0.01, 120))
    noise = 100 * np.cumprod(1 + rng.normal(0, 0.01, 120))
    closes = {
        "A/USDT": base.tolist(),
        "B/USDT": (base * 2).tolist(),
        "C/USDT": noise.tolist(),
    }

    found = correlated_with("A/USDT", ["A/USDT", "B/USDT", "C/USDT", "D/USDT"], closes, 0.7)

    assert [symbol for symbol, _ in found] == ["B/USDT"]  # its own pair and unmeasurable D not counted
