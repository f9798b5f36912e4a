"""Position sizing: every method, the cap, Kelly and its fallback."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tradewire.domain.sizing import Sizing, SizingError, SizingMode, SizingParams, TradeStats

FIVE_PCT_STOP = SizingParams(stop_loss_pct=D(5))


def test_the_users_example_fixed_fractional_then_capped() -> None:
    # Equity 10,000, risk 2 %, stop 5 % → 4,000, capped at 20 % → 2,000.
    sizing = Sizing(SizingMode.RISK_PCT, D(2), FIVE_PCT_STOP)

    entry = sizing.entry(price=D(100), equity=D(10_000), contracts=None)

    assert entry.amount * 100 == D(2000)
    assert "÷ stop 5 % = 4000" in entry.note and "capped at 20 % of equity = 2000" in entry.note


def test_fixed_fractional_below_the_cap_is_not_capped() -> None:
    sizing = Sizing(SizingMode.RISK_PCT, D("0.5"), SizingParams(stop_loss_pct=D(5), max_position_pct=D(50)))

    entry = sizing.entry(price=D(50), equity=D(10_000), contracts=None)

    assert entry.amount * 50 == D(1000)
    assert "capped" not in entry.note


@pytest.mark.parametrize(
    ("mode", "value", "contracts", "expected_quote"),
    [
        (SizingMode.FIXED_QUOTE, D(5000), None, D(2000)),  # every method is capped
        (SizingMode.EQUITY_PCT, D(50), None, D(2000)),
        (SizingMode.SIGNAL, D(1), D(30), D(2000)),
        (SizingMode.FIXED_QUOTE, D(100), None, D(100)),
    ],
)
def test_every_method_ends_in_the_cap(
    mode: SizingMode, value: D, contracts: D | None, expected_quote: D
) -> None:
    entry = Sizing(mode, value).entry(price=D(100), equity=D(10_000), contracts=contracts)

    assert entry.amount * 100 == expected_quote


def test_kelly_with_enough_history_uses_a_fraction_of_full_kelly() -> None:
    # 60 % wins, payoff 2 → f* = 0.6 − 0.4 ÷ 2 = 0.4; a quarter Kelly → 10 % of equity.
    stats = TradeStats(wins=30, losses=20, average_win=D(200), average_loss=D(100))
    sizing = Sizing(SizingMode.KELLY, D("0.25"), FIVE_PCT_STOP)

    entry = sizing.entry(price=D(10), equity=D(10_000), contracts=None, stats=stats)

    assert stats.kelly() == D("0.4")
    assert entry.amount * 10 == D(1000)
    assert "Kelly 0.4000" in entry.note


def test_kelly_with_too_little_history_falls_back_to_fixed_fractional() -> None:
    stats = TradeStats(wins=3, losses=1, average_win=D(200), average_loss=D(100))
    sizing = Sizing(SizingMode.KELLY, D("0.25"), SizingParams(stop_loss_pct=D(5), risk_pct=D(1)))

    entry = sizing.entry(price=D(10), equity=D(10_000), contracts=None, stats=stats)

    assert entry.amount * 10 == D(2000)  # 10,000 × 1 % ÷ 5 % = 2,000, at the 20 % cap
    assert "Kelly needs 20 trades, has 4" in entry.note


def test_kelly_without_an_edge_refuses_to_size() -> None:
    stats = TradeStats(wins=10, losses=30, average_win=D(100), average_loss=D(100))
    sizing = Sizing(SizingMode.KELLY, D("0.25"), FIVE_PCT_STOP)

    with pytest.raises(SizingError, match="no edge"):
        sizing.entry(price=D(10), equity=D(10_000), contracts=None, stats=stats)


@pytest.mark.parametrize(
    ("mode", "value", "params", "message"),
    [
        (SizingMode.RISK_PCT, D(2), SizingParams(), "stop_loss_pct"),
        (SizingMode.KELLY, D("1.5"), FIVE_PCT_STOP, "at most 1"),
        (SizingMode.RISK_PCT, D(101), FIVE_PCT_STOP, "at most 100"),
        (SizingMode.FIXED_QUOTE, D(0), SizingParams(), "positive"),
    ],
)
def test_invalid_sizing_is_refused(mode: SizingMode, value: D, params: SizingParams, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Sizing(mode, value, params)


@pytest.mark.parametrize("field", ["max_position_pct", "stop_loss_pct", "risk_pct"])
def test_out_of_range_parameters_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SizingParams(**{field: D(0)})


def test_parameters_round_trip_through_json() -> None:
    params = SizingParams(
        max_position_pct=D("12.5"), stop_loss_pct=D(3), risk_pct=D("0.75"), min_trades_for_kelly=30
    )

    assert SizingParams.from_json(params.to_json()) == params
    assert SizingParams.from_json(None) == SizingParams()


def test_an_entry_needs_equity_for_its_cap() -> None:
    with pytest.raises(SizingError, match="equity"):
        Sizing(SizingMode.FIXED_QUOTE, D(100)).entry(price=D(10), equity=None, contracts=None)


def test_trade_stats_of_net_results_counts_a_flat_result_as_a_loss_of_zero() -> None:
    stats = TradeStats.of([D(30), D(-10), D(0), D(10)])

    assert (stats.wins, stats.losses) == (2, 2)
    assert stats.average_win == D(20) and stats.average_loss == D(5)
    assert TradeStats.of([]) == TradeStats()
