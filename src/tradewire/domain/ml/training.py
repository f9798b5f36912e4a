"""Labels, time-ordered walk-forward splits and the held-out metrics of a classifier, in numpy.

Label of row t: 1 when the close `horizon` candles later beats the close at t by more than the round
trip's fees plus a margin (`close[t+h] / close[t] - 1 > 2 × fee_rate + margin`), else 0; the last
`horizon` rows have no future and get no label (NaN). Splits never shuffle: each fold trains on the
rows before its test block, minus a gap of `horizon` rows, so no training label looks into the test
block.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def labels(close: FloatArray, horizon: int, fee_rate: float, margin: float = 0.0) -> FloatArray:
    """1.0 / 0.0 per row as the module says; NaN where the horizon runs past the data."""
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    if not (0 <= fee_rate < 1) or margin < 0:
        raise ValueError(f"fee_rate must be in [0, 1) and margin >= 0, got {fee_rate}, {margin}")
    out = np.full(len(close), np.nan)
    if len(close) > horizon:
        forward = close[horizon:] / close[:-horizon] - 1.0
        out[:-horizon] = (forward > 2.0 * fee_rate + margin).astype(np.float64)
    return out


class Split(NamedTuple):
    train: IntArray
    test: IntArray


def walk_forward(n: int, folds: int, test_size: int, gap: int) -> list[Split]:
    """`folds` consecutive test blocks of `test_size` rows ending at row n, oldest first; each trains
    on rows [0, test_start - gap). The last fold's test block is the held-out tail."""
    if folds < 1 or test_size < 1 or gap < 0:
        raise ValueError("folds and test_size must be >= 1, gap >= 0")
    first_test = n - folds * test_size
    if first_test - gap < 1:
        raise ValueError(f"{n} rows are too few for {folds} folds of {test_size} rows and a gap of {gap}")
    splits = []
    for k in range(folds):
        start = first_test + k * test_size
        splits.append(
            Split(
                np.arange(0, start - gap, dtype=np.int64), np.arange(start, start + test_size, dtype=np.int64)
            )
        )
    return splits


def auc(y: FloatArray, p: FloatArray) -> float:
    """Area under the ROC curve (ties count half; Mann-Whitney). NaN when one class is absent."""
    y = np.asarray(y, dtype=np.float64)
    positives = int((y == 1).sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p), dtype=np.float64)
    sorted_p = np.asarray(p)[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def log_loss(y: FloatArray, p: FloatArray, eps: float = 1e-15) -> float:
    q = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))


def precision_at(y: FloatArray, p: FloatArray, threshold: float) -> tuple[float, int]:
    """Share of true positives among rows predicted >= threshold, and how many those are (NaN, 0 if
    none)."""
    chosen = np.asarray(p) >= threshold
    count = int(chosen.sum())
    return (float(np.asarray(y)[chosen].mean()) if count else float("nan")), count
