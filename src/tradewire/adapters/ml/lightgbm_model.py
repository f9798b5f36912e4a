"""LightGBM models in their text format (never pickle): train, load, predict.

Training is deterministic: fixed seed, `deterministic=True`, `force_row_wise`, one thread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

SEED = 7
PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "seed": SEED,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "verbosity": -1,
}
ROUNDS = 200


def library_version() -> str:
    return str(lgb.__version__)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, eq=False)
class LightgbmPredictor:
    """A loaded booster: probabilities for rows of features (its names, in order)."""

    booster: lgb.Booster
    feature_names: tuple[str, ...]

    def predict(self, rows: FloatArray) -> FloatArray:
        matrix = np.ascontiguousarray(np.atleast_2d(rows), dtype=np.float64)
        return np.asarray(self.booster.predict(matrix, num_threads=1), dtype=np.float64)


def load_predictor(text: str) -> LightgbmPredictor:
    """A predictor from a LightGBM text model (`model.txt`). Raises ValueError if it is not one."""
    if not text.lstrip().startswith("tree"):
        raise ValueError("not a LightGBM text model (it must start with 'tree')")
    try:
        booster = lgb.Booster(model_str=text)
    except lgb.basic.LightGBMError as exc:
        raise ValueError(f"not a LightGBM text model: {exc}") from None
    return LightgbmPredictor(booster, tuple(booster.feature_name()))


def train(
    features: FloatArray, labels: FloatArray, names: tuple[str, ...], rounds: int = ROUNDS
) -> LightgbmPredictor:
    data = lgb.Dataset(features, label=labels, feature_name=list(names), free_raw_data=False)
    booster = lgb.train(PARAMS, data, num_boost_round=rounds)
    return LightgbmPredictor(booster, names)


def model_text(predictor: LightgbmPredictor) -> str:
    return str(predictor.booster.model_to_string())
