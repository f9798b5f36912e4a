"""Pre-trade risk rules at their boundaries."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import pytest

from tradewire.domain.risk import (
    RULES,
    RiskContext,
    RiskLimits,
    TradingState,
    assess_entry,
    assess_exit,
    checks,
    drawdown_pct,
    risk_reward,
    summary,
)


def risk_context(**overrides: object) -> RiskContext:
    """An entry's risk context: nothing open, nothing lost today, 10,000 of equity, a fresh signal."""
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
    assessment = assess_entry(RiskLimits(), risk_context(open_positions_subscription=open_now))

    assert assessment.approved is approved
    if not approved:  # a refusal reports every rule with its numbers
        assert any(
            c.rule == "positions_per_strategy" and "20 open, limit 20" in c.detail for c in assessment.checks
        )


@pytest.mark.parametrize(("open_now", "approved"), [(49, True), (50, False)])
def test_positions_total_limit(open_now: int, approved: bool) -> None:
    assert assess_entry(RiskLimits(), risk_context(open_positions_account=open_now)).approved is approved


@pytest.mark.parametrize(
    ("realized", "approved"), [(D("-499.99"), True), (D("-500"), False), (D("120"), True)]
)
def test_daily_loss_limit_is_five_percent_of_equity(realized: D, approved: bool) -> None:
    assessment = assess_entry(RiskLimits(), risk_context(realized_today=realized))

    assert assessment.approved is approved
    if not approved:
        assert assessment.reason == "rejected by risk: daily_loss: lost 500 today, limit 500 until 00:00 UTC"


def test_daily_loss_in_quote_units_applies_when_tighter() -> None:
    limits = RiskLimits(daily_loss_quote=D(100))

    assert not assess_entry(limits, risk_context(realized_today=D(-100))).approved
    assert assess_entry(limits, risk_context(realized_today=D("-99.5"))).approved


@pytest.mark.parametrize(("age", "approved"), [(300.0, True), (300.5, False)])
def test_a_signal_older_than_the_limit_is_stale(age: float, approved: bool) -> None:
    limits = RiskLimits(max_signal_age_s=300)

    assert assess_entry(limits, risk_context(signal_age_s=age)).approved is approved


def test_every_rule_is_reported_even_when_one_fails() -> None:
    assessment = assess_entry(RiskLimits(max_signal_age_s=60), risk_context(open_positions_account=50))

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


# -- the rules added with the exit automation ---------------------------------------------------


def test_only_an_active_subscription_takes_entries_and_only_halted_blocks_exits() -> None:
    for state in (TradingState.REDUCING, TradingState.HALTED):
        refused = assess_entry(RiskLimits(), risk_context(state=state))
        assert not refused.approved and refused.failed("trading_state")
    assert assess_exit(TradingState.REDUCING).approved
    assert not assess_exit(TradingState.HALTED).approved


def test_a_blacklisted_pair_is_refused_with_the_reason() -> None:
    refused = assess_entry(RiskLimits(), risk_context(blacklisted="5 consecutive losing trades"))

    assert refused.reason == "rejected by risk: pair_blacklist: 5 consecutive losing trades"


@pytest.mark.parametrize(("notional", "approved"), [(D(500), True), (D("500.01"), False)])
def test_max_position_size_per_trade(notional: D, approved: bool) -> None:
    limits = RiskLimits(max_position_quote=D(500))

    assert assess_entry(limits, risk_context(notional=notional)).approved is approved


@pytest.mark.parametrize(
    ("drawdown", "approved", "warned"),
    [(D("14.9"), True, False), (D(15), True, True), (D("24.9"), True, True), (D(25), False, False)],
)
def test_drawdown_warns_at_15_and_pauses_at_25_percent(drawdown: D, approved: bool, warned: bool) -> None:
    for field in ("drawdown_pct", "strategy_drawdown_pct"):
        assessment = assess_entry(RiskLimits(), risk_context(**{field: drawdown}))

        assert assessment.approved is approved
        assert bool(assessment.warnings) is warned


@pytest.mark.parametrize(("open_correlated", "approved"), [(2, True), (3, False)])
def test_at_most_three_correlated_open_pairs(open_correlated: int, approved: bool) -> None:
    correlated = tuple((f"C{i}/USDT", 0.9) for i in range(open_correlated))

    assessment = assess_entry(RiskLimits(), risk_context(correlated=correlated))

    assert assessment.approved is approved
    if not approved:
        assert "3 open pairs correlate above 0.7 (C0/USDT 0.90" in assessment.reason


@pytest.mark.parametrize(("since", "approved"), [(899.9, False), (900.0, True), (None, True)])
def test_cooldown_after_a_trade_on_the_same_pair(since: float | None, approved: bool) -> None:
    assert assess_entry(RiskLimits(), risk_context(since_last_trade_s=since)).approved is approved
    assert assess_entry(RiskLimits(cooldown_s=0), risk_context(since_last_trade_s=1.0)).approved


@pytest.mark.parametrize(("rr", "approved"), [(D("0.99"), False), (D(1), True), (None, True)])
def test_minimum_risk_reward(rr: D | None, approved: bool) -> None:
    assert assess_entry(RiskLimits(), risk_context(risk_reward=rr)).approved is approved
    assert assess_entry(RiskLimits(min_risk_reward=None), risk_context(risk_reward=D("0.1"))).approved


def test_risk_reward_and_drawdown_arithmetic() -> None:
    assert risk_reward(True, D(100), D(95), D(110)) == D(2)
    assert risk_reward(True, D(100), None, D(110)) is None
    assert risk_reward(True, D(100), D(101), D(110)) is None  # a stop above a long's entry protects nothing
    # results fell from +1,000 to -500 with 8,500 equity left: 1,500 of the 10,000 there was at the peak
    assert drawdown_pct(D(1000), D(-500), D(8500)) == D(15)
    assert drawdown_pct(D(100), D(200), D(5000)) == D(0)
    assert drawdown_pct(D(100), D(50), None) is None


def test_an_approval_keeps_its_numbers_in_a_compact_summary() -> None:
    context = risk_context(open_positions_subscription=3, drawdown_pct=D("2.5"), risk_reward=D(2))

    text = summary(RiskLimits(), context)

    assert text == "risk ok: positions 3/20, account 0/50, day 0, drawdown 2.5%/25%, R/R 2.00"


def test_all_limits_round_trip_through_json() -> None:
    limits = RiskLimits(
        cooldown_s=0, min_risk_reward=None, close_on_daily_loss=True, max_position_quote=D(250)
    )

    assert RiskLimits.from_json(limits.as_json()) == limits
    with pytest.raises(ValueError, match="drawdown_warn_pct"):
        RiskLimits(drawdown_warn_pct=D(30))


# -- every rule is written once: the fast verdict and the explanations agree ---------------------


def _sweep(seed: int, cases: int) -> Iterator[tuple[RiskLimits, RiskContext]]:
    """Random limits and contexts, each value near a boundary and most of them benign, so that one
    rule at a time often decides the verdict (where a fast path and its explanations could differ)."""
    rng = random.Random(seed)

    def pick(benign: object, *others: object) -> Any:
        return benign if rng.random() < 0.8 else rng.choice(others)

    amounts = (D(0), D("-0.01"), D(-50), D(-500), D(-10_000), D("0.01"), D(120))
    percents = (D(0), D("0.1"), D(15), D(25), D(100))
    for _ in range(cases):
        warn, pause = sorted((rng.choice(percents), rng.choice(percents)))
        limits = RiskLimits(
            max_positions_per_strategy=rng.choice((0, 1, 3, 20)),
            max_positions_total=rng.choice((0, 1, 3, 50)),
            daily_loss_pct=rng.choice(percents),  # 0 included: a limit no loss stays under
            daily_loss_quote=rng.choice((None, D(0), D(50), D(500))),
            max_position_quote=rng.choice((None, D(0), D(500), D(1_000))),
            drawdown_warn_pct=warn,
            drawdown_pause_pct=pause,
            max_correlated=rng.choice((0, 1, 3)),
            cooldown_s=rng.choice((0, 1, 900)),
            min_risk_reward=rng.choice((None, D(0), D(1), D(2))),
            max_signal_age_s=rng.choice((None, 0, 1, 300)),
        )
        context = RiskContext(
            open_positions_subscription=pick(0, 1, 2, 3, 20),
            open_positions_account=pick(0, 1, 3, 50),
            realized_today=pick(D(0), *amounts),
            equity=pick(D(10_000), None, D(0), D(-5), D(100)),
            signal_age_s=pick(None, 0.0, 1.0, 300.0, 300.5),
            notional=pick(None, D(0), D(500), D("500.01"), D(1_000)),
            since_last_trade_s=pick(None, 0.0, 1.0, 899.9, 900.0),
            drawdown_pct=pick(None, *percents),
            strategy_drawdown_pct=pick(None, *percents),
            correlated=pick((), (("ETH/USDT", 0.9),), tuple((f"C{i}/USDT", 0.8) for i in range(3))),
            risk_reward=pick(None, D(0), D("0.99"), D(1), D(3)),
            state=pick(TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED),
            blacklisted=pick(None, "3 consecutive losing trades"),
        )
        yield limits, context


@pytest.mark.parametrize("seed", range(2))
def test_the_verdict_is_all_checks_passed(seed: int) -> None:
    for limits, context in _sweep(seed, 1_000):
        explained = checks(limits, context)

        assessment = assess_entry(limits, context)

        assert assessment.approved is all(c.passed for c in explained), (limits, context, explained)
        # An approval builds no explanations; a refusal carries every rule's, the failed among them.
        assert assessment.checks == (() if assessment.approved else explained)
        for rule in RULES:  # a rule with nothing to measure is not listed, so it must not block
            if rule.detail(limits, context) is None:
                assert rule.passes(limits, context), (rule.name, limits, context)


def test_no_loss_today_never_trips_the_daily_loss_rule() -> None:
    # A zero limit (0 % of equity) with nothing lost: the fast path always approved this, and the
    # explanation now says the same instead of reporting "lost 0 today, limit 0" as failed.
    limits = RiskLimits(daily_loss_pct=D(0), max_positions_total=0)

    assessment = assess_entry(limits, risk_context())

    assert assessment.reason == "rejected by risk: positions_total: 0 open, limit 0"
