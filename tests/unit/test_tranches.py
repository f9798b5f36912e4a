"""DCA plans: how an entry is split into tranches, where the later ones trigger, and phases."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradewire.domain.tranches import DcaMode, DcaPlan, PositionPhase, Tranche, phase_after


def test_equal_tranches_trigger_every_step_below_the_first_fill() -> None:
    plan = DcaPlan(DcaMode.EQUAL, 3, D(2))

    first, later = plan.split(D("0.006"))
    scheduled = plan.schedule(later, D(50000))

    assert first == D("0.002") and later == (D("0.002"), D("0.002"))
    assert [(t.number, t.trigger) for t in scheduled] == [(2, D(49000)), (3, D(48000))]


def test_pyramids_weight_the_tranches_and_pyramid_up_buys_as_the_price_rises() -> None:
    down = DcaPlan(DcaMode.PYRAMID_DOWN, 4, D(1))
    up = DcaPlan(DcaMode.PYRAMID_UP, 4, D(1))

    assert down.weights() == (D("0.1"), D("0.2"), D("0.3"), D("0.4"))
    assert up.weights() == (D("0.4"), D("0.3"), D("0.2"), D("0.1"))
    assert [t.trigger for t in up.schedule((D(1), D(1), D(1)), D(100))] == [D(101), D(102), D(103)]
    assert sum(up.split(D(10))[1]) + up.split(D(10))[0] == D(10)


def test_adaptive_buys_more_after_a_gap_at_most_double() -> None:
    plan = DcaPlan(DcaMode.ADAPTIVE, 3, D(2))
    tranche = Tranche(2, D(1), D(98))  # planned at 2 % below a first fill of 100

    assert plan.amount_at(tranche, D(100), D(98)) == D(1)
    assert plan.amount_at(tranche, D(100), D(97)) == D("1.5")
    assert plan.amount_at(tranche, D(100), D(90)) == D(2)
    assert DcaPlan(DcaMode.EQUAL, 3, D(2)).amount_at(tranche, D(100), D(90)) == D(1)


@pytest.mark.parametrize(("tranches", "step"), [(1, "2"), (11, "2"), (3, "0"), (5, "20")])
def test_invalid_plans_are_refused(tranches: int, step: str) -> None:
    with pytest.raises(ValueError):
        DcaPlan(DcaMode.EQUAL, tranches, D(step))


def test_phases_follow_the_fills() -> None:
    assert phase_after(True, False, 2, None) is PositionPhase.BUILDING
    assert phase_after(True, False, 0, PositionPhase.BUILDING) is PositionPhase.OPEN
    assert phase_after(True, True, 0, PositionPhase.OPEN) is PositionPhase.REDUCING
    assert phase_after(True, False, 0, PositionPhase.REDUCING) is PositionPhase.REDUCING
    assert phase_after(False, True, 0, PositionPhase.REDUCING) is PositionPhase.CLOSED


def test_plans_round_trip_through_json() -> None:
    plan = DcaPlan(DcaMode.PYRAMID_UP, 5, D("1.5"))

    assert DcaPlan.from_json(plan.as_json()) == plan
    assert DcaPlan.from_json(None) is None
