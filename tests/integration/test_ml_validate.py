"""Model uploads are validated in a limited child process: good, garbage, pickle, wrong features,
and the limits (time, memory) enforced."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tradewire.adapters.ml.lightgbm_model import model_text, train
from tradewire.adapters.ml.validate import validate_model
from tradewire.domain.ml.features import FEATURE_SET


@pytest.fixture(scope="module")
def good_text() -> bytes:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, len(FEATURE_SET.names)))
    y = (x[:, 0] > 0).astype(np.float64)
    return model_text(train(x, y, FEATURE_SET.names, rounds=5)).encode()


def test_a_lightgbm_text_model_with_the_declared_features_passes(good_text: bytes) -> None:
    assert validate_model(good_text, FEATURE_SET.names).ok


def test_garbage_a_pickle_and_wrong_features_are_refused(good_text: bytes, tmp_path: Path) -> None:
    garbage = validate_model(b"\x00\x01 not a model", FEATURE_SET.names)
    pickled = validate_model(pickle.dumps({"a": 1}), FEATURE_SET.names)
    wrong = validate_model(good_text, (*FEATURE_SET.names[:-1], "other"))
    truncated = validate_model(good_text[: len(good_text) // 3], FEATURE_SET.names)

    assert not garbage.ok and "LightGBM" in garbage.reason
    assert not pickled.ok
    assert not wrong.ok and "feature names" in wrong.reason
    assert not truncated.ok


def test_the_child_runs_under_a_memory_limit(good_text: bytes) -> None:
    # 64 MB of address space cannot even load numpy and LightGBM: the limit is in force in the child.
    verdict = validate_model(good_text, FEATURE_SET.names, memory_bytes=64 * 1024 * 1024)

    assert not verdict.ok


def test_the_parent_stops_a_child_that_takes_too_long(good_text: bytes) -> None:
    verdict = validate_model(good_text, FEATURE_SET.names, wall_seconds=0.01)

    assert not verdict.ok and "longer than" in verdict.reason
