"""Pre-trade risk rules at their boundaries."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradewire.domain.risk import RiskContext, RiskLimits, assess_entry


def _context(**overrides: object) -> RiskContext:
    values: dict[str, object] = {
        "open_positions_subscription": 0,
        "open_positions_account": 0,
        "realized_today": D(0),
        "equity": D(10_000),
        "signal_age_s": 1.0,
    }
    values.update(overrides)
    return RiskContext(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("open_now", "approved"), [(19, True), (20, False)])
def test_positions_per_strategy_limit(open_now: int, approved: bool) -> None:
    assessment = assess_entry(RiskLimits(), _context(open_positions_subscription=open_now))

    assert assessment.approved is approved
    if not approved:  # a refusal reports every rule with its numbers
        assert any(
            c.rule == "positions_per_strategy" and "20 open, limit 20" in c.detail for c in assessment.checks
        )


@pytest.mark.parametrize(("open_now", "approved"), [(49, True), (50, False)])
def test_positions_total_limit(open_now: int, approved: bool) -> None:
    assert assess_entry(RiskLimits(), _context(open_positions_account=open_now)).approved is approved


@pytest.mark.parametrize(
    ("realized", "approved"), [(D("-499.99"), True), (D("-500"), False), (D("120"), True)]
)
def test_daily_loss_limit_is_five_percent_of_equity(realized: D, approved: bool) -> None:
    assessment = assess_entry(RiskLimits(), _context(realized_today=realized))

    assert assessment.approved is approved
    if not approved:
        assert assessment.reason == "rejected by risk: daily_loss: lost 500 today, limit 500 until 00:00 UTC"


def test_daily_loss_in_quote_units_applies_when_tighter() -> None:
    limits = RiskLimits(daily_loss_quote=D(100))

    assert not assess_entry(limits, _context(realized_today=D(-100))).approved
    assert assess_entry(limits, _context(realized_today=D("-99.5"))).approved


@pytest.mark.parametrize(("age", "approved"), [(300.0, True), (300.5, False)])
def test_a_signal_older_than_the_limit_is_stale(age: float, approved: bool) -> None:
    limits = RiskLimits(max_signal_age_s=300)

    assert assess_entry(limits, _context(signal_age_s=age)).approved is approved


def test_every_rule_is_reported_even_when_one_fails() -> None:
    assessment = assess_entry(RiskLimits(max_signal_age_s=60), _context(open_positions_account=50))

    verdicts = {c.rule: c.passed for c in assessment.checks}
    assert list(verdicts) == [
        "trading_state",
        "pair_blacklist",
        "positions_per_strategy",
        "positions_total",
        "daily_loss",
        "drawdown",
        "strategy_drawdown",
        "correlation",
        "cooldown",
        "risk_reward",
        "signal_age",
    ]
    assert [rule for rule, passed in verdicts.items() if not passed] == ["positions_total"]


def test_limits_read_from_json_with_defaults() -> None:
    assert RiskLimits.from_json(None) == RiskLimits()
    assert RiskLimits.from_json({"max_positions_total": 3, "daily_loss_quote": "250"}) == RiskLimits(
        max_positions_total=3, daily_loss_quote=D(250)
    )
