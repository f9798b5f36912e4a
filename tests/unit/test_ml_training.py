"""Labels, walk-forward splits and classifier metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tradewire.domain.ml.training import auc, labels, log_loss, precision_at, walk_forward


def test_a_label_is_a_forward_return_beyond_the_round_trip_fees() -> None:
    close = np.array([100.0, 100.1, 100.4, 99.0, 101.0])

    got = labels(close, horizon=1, fee_rate=0.001)  # needs > 0.2 %

    np.testing.assert_array_equal(got[:-1], [0.0, 1.0, 0.0, 1.0])
    assert math.isnan(got[-1])
    two = labels(close, horizon=2, fee_rate=0.001, margin=0.005)  # needs > 0.7 %
    np.testing.assert_array_equal(two[:3], [0.0, 0.0, 0.0])
    assert np.isnan(two[3:]).all()


def test_labels_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="horizon"):
        labels(np.ones(3), horizon=0, fee_rate=0.001)


def test_walk_forward_is_time_ordered_with_a_gap() -> None:
    splits = walk_forward(100, folds=3, test_size=10, gap=5)

    assert [(int(s.test[0]), int(s.test[-1])) for s in splits] == [(70, 79), (80, 89), (90, 99)]
    for split in splits:
        assert int(split.train[-1]) == int(split.test[0]) - 6  # 5 rows left out between them
        assert int(split.train[0]) == 0
    with pytest.raises(ValueError, match="too few"):
        walk_forward(20, folds=2, test_size=10, gap=5)


def test_auc_matches_hand_values() -> None:
    y = np.array([0.0, 0.0, 1.0, 1.0])

    assert auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert auc(y, np.array([0.1, 0.2, 0.3, 0.4])) == pytest.approx(1.0)
    assert auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)  # ties count half
    assert math.isnan(auc(np.ones(3), np.array([0.1, 0.2, 0.3])))


def test_log_loss_and_precision_match_hand_values() -> None:
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.9, 0.2, 0.6, 0.7])

    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.6) + math.log(0.3)) / 4
    assert log_loss(y, p) == pytest.approx(expected)
    assert precision_at(y, p, 0.6) == (pytest.approx(2 / 3), 3)
    precision, count = precision_at(y, p, 0.95)
    assert math.isnan(precision) and count == 0
