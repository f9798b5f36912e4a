"""Backtest metrics: hand-computed examples, edge cases, JSON safety, and the PNG chart."""

from __future__ import annotations

import itertools
import json
import math
import statistics

import numpy as np
import numpy.typing as npt
import pytest

from tradewire.domain.metrics import (
    DAY_MS,
    ClosedTrade,
    ExitReasonRow,
    PairRow,
    Report,
    build_report,
)

HOUR_MS = 3_600_000
T0 = 1_700_006_400_000  # a UTC midnight
SQRT_365 = math.sqrt(365)


def trade(
    symbol: str = "BTC/USDT",
    *,
    side: str = "long",
    entry: float = 100.0,
    exit: float = 110.0,
    amount: float = 1.0,
    fees: float = 0.0,
    pnl: float = 10.0,
    reason: str = "TP",
    entry_ms: int = T0,
    exit_ms: int = T0 + HOUR_MS,
) -> ClosedTrade:
    return ClosedTrade(
        symbol=symbol,
        side=side,
        entry_time_ms=entry_ms,
        exit_time_ms=exit_ms,
        entry_price=entry,
        exit_price=exit,
        amount=amount,
        fees=fees,
        pnl=pnl,
        exit_reason=reason,
    )


def daily(n: int) -> npt.NDArray[np.int64]:
    return T0 + np.arange(n, dtype=np.int64) * DAY_MS


# Four trades, computed by hand:
#   BTC long  100 → 110 × 1, fees 0.2, pnl  +9.8  on notional 100 → +9.8 %, held 2 h, TP
#   BTC short 100 → 105 × 2, fees 0.4, pnl −10.4  on notional 200 → −5.2 %, held 4 h, SL
#   ETH long   50 →  55 × 4, fees 0.4, pnl +19.6  on notional 200 → +9.8 %, held 6 h, TP
#   ETH long   50 →  50 × 1, fees 0.1, pnl   0.0  (breakeven)      →  0 %,   held 0 h, TIMEOUT
FOUR_TRADES = [
    trade("BTC/USDT", exit=110, fees=0.2, pnl=9.8, reason="TP", exit_ms=T0 + 2 * HOUR_MS),
    trade(
        "BTC/USDT",
        side="short",
        exit=105,
        amount=2,
        fees=0.4,
        pnl=-10.4,
        reason="SL",
        exit_ms=T0 + 4 * HOUR_MS,
    ),
    trade("ETH/USDT", entry=50, exit=55, amount=4, fees=0.4, pnl=19.6, reason="TP", exit_ms=T0 + 6 * HOUR_MS),
    trade("ETH/USDT", entry=50, exit=50, fees=0.1, pnl=0.0, reason="TIMEOUT", exit_ms=T0),
]

# Four daily candles from 1000: 1100 (+10 %), 990 (−10 %), 1089 (+10 %), 1197.9 (+10 %).
HAND_EQUITY = [1100.0, 990.0, 1089.0, 1197.9]


def hand_report(trades: list[ClosedTrade] | None = None) -> Report:
    return build_report(trades or [], daily(4), HAND_EQUITY, 1000.0, DAY_MS)


# ---------------------------------------------------------------- trades


def test_return_pct_is_net_pnl_over_entry_notional() -> None:
    # pnl −10.4 on 100 × 2 = 200 → −5.2 %.
    short = FOUR_TRADES[1]

    assert short.return_pct == pytest.approx(-5.2)


def test_trade_counts_split_wins_losses_and_breakeven() -> None:
    report = hand_report(FOUR_TRADES)

    # The breakeven trade is neither a win nor a loss but still counts as a trade: 2 of 4 won.
    assert (report.trades, report.wins, report.losses) == (4, 2, 1)
    assert report.win_rate_pct == pytest.approx(50.0)


def test_profit_factor_is_gross_profit_over_gross_loss() -> None:
    report = hand_report(FOUR_TRADES)

    # (9.8 + 19.6) / 10.4 = 29.4 / 10.4
    assert report.profit_factor == pytest.approx(29.4 / 10.4)


def test_expectancy_averages_pnl_and_return_over_all_trades() -> None:
    report = hand_report(FOUR_TRADES)

    # (9.8 − 10.4 + 19.6 + 0) / 4 = 4.75 quote; (9.8 − 5.2 + 9.8 + 0) / 4 = 3.6 %.
    assert report.expectancy == pytest.approx(4.75)
    assert report.expectancy_pct == pytest.approx(3.6)


def test_average_win_and_loss_best_and_worst_trade() -> None:
    report = hand_report(FOUR_TRADES)

    # Wins (9.8 + 19.6) / 2 = 14.7; the one loss −10.4 (kept negative); returns range −5.2 … +9.8 %.
    assert report.avg_win == pytest.approx(14.7)
    assert report.avg_loss == pytest.approx(-10.4)
    assert report.best_trade_pct == pytest.approx(9.8)
    assert report.worst_trade_pct == pytest.approx(-5.2)


def test_holding_time_and_fees() -> None:
    report = hand_report(FOUR_TRADES)

    # Held 2 h, 4 h, 6 h and 0 h → 3 h on average; fees 0.2 + 0.4 + 0.4 + 0.1 = 1.1.
    assert report.avg_holding_ms == 3 * HOUR_MS
    assert report.fees_paid == pytest.approx(1.1)


def test_per_pair_table_groups_by_symbol_in_alphabetical_order() -> None:
    report = hand_report(FOUR_TRADES)

    # BTC: +9.8 − 10.4 = −0.6, returns (9.8 − 5.2) / 2 = 2.3 %; ETH: 19.6, (9.8 + 0) / 2 = 4.9 %.
    btc, eth = report.per_pair
    assert isinstance(btc, PairRow)
    assert (btc.symbol, btc.trades, btc.win_rate_pct) == ("BTC/USDT", 2, 50.0)
    assert (btc.pnl, btc.avg_return_pct) == pytest.approx((-0.6, 2.3))
    assert (eth.symbol, eth.trades, eth.win_rate_pct) == ("ETH/USDT", 2, 50.0)
    assert (eth.pnl, eth.avg_return_pct) == pytest.approx((19.6, 4.9))


def test_per_exit_reason_table_groups_by_reason_in_alphabetical_order() -> None:
    report = hand_report(FOUR_TRADES)

    rows = report.per_exit_reason
    assert all(isinstance(row, ExitReasonRow) for row in rows)
    assert [(r.reason, r.trades, r.win_rate_pct) for r in rows] == [
        ("SL", 1, 0.0),
        ("TIMEOUT", 1, 0.0),
        ("TP", 2, 100.0),
    ]
    assert [r.pnl for r in rows] == pytest.approx([-10.4, 0.0, 29.4])


def test_profit_factor_is_infinite_without_losses_and_zero_without_profit() -> None:
    only_wins = hand_report([trade(pnl=5.0), trade(pnl=1.0)])
    only_breakeven = hand_report([trade(pnl=0.0)])

    assert only_wins.profit_factor == math.inf
    assert only_breakeven.profit_factor == 0.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"side": "buy"}, "side"),
        ({"amount": 0.0}, "positive"),
        ({"entry": math.nan}, "positive"),
        ({"pnl": math.inf}, "finite"),
        ({"exit_ms": T0 - 1}, "before entry"),
    ],
)
def test_invalid_trades_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trade(**changes)  # type: ignore[arg-type]


# ---------------------------------------------------------------- equity curve


def test_total_return_and_final_equity() -> None:
    report = hand_report()

    # 1197.9 / 1000 − 1 = +19.79 %.
    assert report.final_equity == pytest.approx(1197.9)
    assert report.total_return_pct == pytest.approx(19.79)


def test_sharpe_is_mean_over_sample_std_of_candle_returns_times_sqrt_periods_per_year() -> None:
    report = hand_report()

    # Returns +0.1, −0.1, +0.1, +0.1: mean 0.05; deviations 0.05, −0.15, 0.05, 0.05 → squares sum 0.03,
    # ÷ (4 − 1) = 0.01 → std 0.1. Daily candles → 365 periods a year: 0.05 / 0.1 × √365.
    assert report.sharpe == pytest.approx(0.5 * SQRT_365)


def test_sortino_divides_by_the_downside_deviation_over_all_periods() -> None:
    report = hand_report()

    # Downside: only −0.1 → √(0.01 / 4) = 0.05; 0.05 / 0.05 × √365.
    assert report.sortino == pytest.approx(SQRT_365)


def test_max_drawdown_depth_and_duration_from_peak_to_recovery() -> None:
    report = hand_report()

    # Peak 1100 (close of day 1) → trough 990: 10 %. Back above 1100 only at the close of day 4: 3 days.
    assert report.max_drawdown_pct == pytest.approx(10.0)
    assert report.max_drawdown_duration_ms == 3 * DAY_MS


def test_annualized_return_compounds_over_the_curve_span() -> None:
    report = hand_report()

    # Span: open of day 1 → close of day 4 = 4 days; (1.1979)^(365/4) − 1. Calmar divides by the 10 % DD.
    expected = (1.1979 ** (365 / 4) - 1) * 100
    assert report.span_ms == 4 * DAY_MS
    assert report.annualized_return_pct == pytest.approx(expected)
    assert report.calmar == pytest.approx(expected / 10.0)


def test_doubling_over_two_years_is_a_cagr_of_root_two() -> None:
    equity = 1000.0 * 2.0 ** (np.arange(1, 731) / 730)

    report = build_report([], daily(730), equity, 1000.0, DAY_MS)

    # 730 daily candles = 2 years of 365 days: 2^(1/2) − 1 ≈ 41.42 %.
    assert report.annualized_return_pct == pytest.approx((math.sqrt(2) - 1) * 100)


def test_sharpe_scales_with_the_square_root_of_periods_per_year() -> None:
    hourly_ts = T0 + np.arange(4, dtype=np.int64) * HOUR_MS

    daily_report = hand_report()
    hourly_report = build_report([], hourly_ts, HAND_EQUITY, 1000.0, HOUR_MS)

    # 8760 hourly periods against 365 daily ones: a factor √24.
    assert hourly_report.sharpe == pytest.approx(daily_report.sharpe * math.sqrt(24))


def test_exposure_counts_candles_with_any_open_trade_once() -> None:
    ts = np.arange(10, dtype=np.int64) * 1000  # ten 1-second candles: [0, 1000) … [9000, 10000)
    trades = [
        trade(entry_ms=1000, exit_ms=3000),  # candles 1 and 2 (exits at the open of 3)
        trade(entry_ms=2500, exit_ms=2600),  # inside candle 2: overlaps the first trade
        trade(entry_ms=6000, exit_ms=6000),  # instantaneous, still candle 6
        trade(entry_ms=8000, exit_ms=20_000),  # candles 8 and 9, then past the end
    ]

    report = build_report(trades, ts, np.full(10, 1000.0), 1000.0, 1000)

    # Candles 1, 2, 6, 8, 9 → 5 of 10.
    assert report.exposure_pct == pytest.approx(50.0)


def test_drawdown_still_open_at_the_end_lasts_until_the_end() -> None:
    report = build_report([], daily(3), [1200.0, 1100.0, 1150.0], 1000.0, DAY_MS)

    # Peak 1200 at the close of day 1, never regained; the curve ends at the close of day 3: 2 days.
    assert report.max_drawdown_pct == pytest.approx(100 / 12)
    assert report.max_drawdown_duration_ms == 2 * DAY_MS


def test_drawdown_is_measured_from_the_initial_capital() -> None:
    report = build_report([], daily(2), [900.0, 950.0], 1000.0, DAY_MS)

    assert report.max_drawdown_pct == pytest.approx(10.0)


# ---------------------------------------------------------------- edge cases


def test_zero_trades_and_flat_equity_report_zeros_not_nan() -> None:
    report = build_report([], daily(5), np.full(5, 1000.0), 1000.0, DAY_MS)

    assert (report.trades, report.wins, report.losses) == (0, 0, 0)
    assert report.sharpe == 0.0 and report.sortino == 0.0 and report.calmar == 0.0
    assert report.win_rate_pct == 0.0 and report.profit_factor == 0.0 and report.expectancy == 0.0
    assert report.total_return_pct == 0.0 and report.annualized_return_pct == 0.0
    assert report.max_drawdown_pct == 0.0 and report.max_drawdown_duration_ms == 0
    assert report.exposure_pct == 0.0 and report.avg_holding_ms == 0
    assert report.per_pair == () and report.per_exit_reason == ()


def test_a_single_candle_is_one_period_and_is_not_annualised_below_a_day() -> None:
    report = build_report([], [T0], [1010.0], 1000.0, HOUR_MS)

    # One return (+1 %) has no standard deviation; compounding one hour into a year would be absurd.
    assert report.span_ms == HOUR_MS
    assert report.total_return_pct == pytest.approx(1.0)
    assert report.annualized_return_pct == pytest.approx(1.0)
    assert report.sharpe == 0.0 and report.sortino == 0.0


def test_an_empty_curve_keeps_the_initial_capital() -> None:
    report = build_report([], [], [], 1000.0, DAY_MS)

    assert report.final_equity == 1000.0
    assert report.total_return_pct == 0.0 and report.span_ms == 0 and report.sharpe == 0.0


def test_equity_touching_zero_is_a_total_loss_with_finite_ratios() -> None:
    report = build_report([], daily(3), [500.0, 0.0, 0.0], 1000.0, DAY_MS)

    # Returns −0.5, −1, then 0 (nothing left to return on): mean −0.5, sample std 0.5 → −1 × √365.
    assert report.total_return_pct == pytest.approx(-100.0)
    assert report.annualized_return_pct == -100.0
    assert report.max_drawdown_pct == pytest.approx(100.0)
    assert report.max_drawdown_duration_ms == 3 * DAY_MS
    assert report.calmar == pytest.approx(-1.0)
    assert report.sharpe == pytest.approx(-SQRT_365)
    assert math.isfinite(report.sortino) and report.sortino < 0


def test_a_gain_without_a_losing_period_has_infinite_sortino() -> None:
    report = build_report([], daily(3), [1010.0, 1030.0, 1035.0], 1000.0, DAY_MS)

    assert report.sortino == math.inf
    assert math.isfinite(report.sharpe) and report.sharpe > 0
    assert report.calmar == math.inf  # no drawdown at all


@pytest.mark.parametrize(
    ("ts", "equity", "capital", "timeframe", "message"),
    [
        ([T0, T0 + DAY_MS], [1000.0], 1000.0, DAY_MS, "same length"),
        ([T0, T0], [1000.0, 1000.0], 1000.0, DAY_MS, "strictly increasing"),
        ([T0], [math.nan], 1000.0, DAY_MS, "finite"),
        ([T0], [1000.0], 0.0, DAY_MS, "initial capital"),
        ([T0], [1000.0], 1000.0, 0, "timeframe"),
    ],
)
def test_inconsistent_inputs_are_refused(
    ts: list[int], equity: list[float], capital: float, timeframe: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_report([], ts, equity, capital, timeframe)


# ---------------------------------------------------------------- cross-check against plain loops


def reference_drawdown(points: list[float], times: list[int]) -> tuple[float, int]:
    peak, peak_time, underwater, worst, longest = points[0], times[0], False, 0.0, 0
    for value, time in zip(points, times, strict=True):
        if value >= peak:
            if underwater:
                longest = max(longest, time - peak_time)
            peak, peak_time, underwater = value, time, False
        else:
            underwater = True
            worst = max(worst, (peak - value) / peak)
    if underwater:
        longest = max(longest, times[-1] - peak_time)
    return worst * 100, longest


def test_max_drawdown_and_sharpe_match_plain_python_loops_on_a_random_curve() -> None:
    rng = np.random.default_rng(20240611)
    equity = 1000.0 * np.cumprod(1 + rng.normal(0.0002, 0.01, 1500))
    ts = T0 + np.arange(1500, dtype=np.int64) * HOUR_MS
    points = [1000.0, *equity.tolist()]
    times = [T0, *(ts + HOUR_MS).tolist()]
    returns = [b / a - 1 for a, b in itertools.pairwise(points)]
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))

    report = build_report([], ts, equity, 1000.0, HOUR_MS)

    depth, duration = reference_drawdown(points, times)
    assert duration > 0  # the seed gives real drawdowns to compare
    assert report.max_drawdown_pct == pytest.approx(depth)
    assert report.max_drawdown_duration_ms == duration
    assert report.sharpe == pytest.approx(
        statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(8760)
    )
    assert report.sortino == pytest.approx(statistics.mean(returns) / downside * math.sqrt(8760))


# ---------------------------------------------------------------- JSON and CLI rows


def test_as_json_has_no_nan_or_infinity_and_keeps_full_precision() -> None:
    unbounded = build_report([trade(pnl=5.0)], daily(3), [1010.0, 1030.0, 1035.0], 1000.0, DAY_MS)
    reports = [unbounded, hand_report(FOUR_TRADES), build_report([], [], [], 1000.0, DAY_MS)]

    payloads = [report.as_json() for report in reports]

    for payload in payloads:
        json.dumps(payload, allow_nan=False)  # raises on NaN or ±inf
    assert payloads[0]["profit_factor"] is None and payloads[0]["sortino"] is None
    assert payloads[1]["sharpe"] == hand_report(FOUR_TRADES).sharpe == pytest.approx(0.5 * SQRT_365)
    assert payloads[1]["sharpe"] != round(payloads[1]["sharpe"], 4)  # programs get every digit
    assert payloads[1]["per_pair"][0] == {
        "symbol": "BTC/USDT",
        "trades": 2,
        "win_rate_pct": 50.0,
        "pnl": pytest.approx(-0.6, abs=1e-12),
        "avg_return_pct": pytest.approx(2.3, abs=1e-12),
    }
    assert payloads[1]["per_exit_reason"][0] == {
        "reason": "SL",
        "trades": 1,
        "win_rate_pct": 0.0,
        "pnl": pytest.approx(-10.4, abs=1e-12),
    }


def test_summary_rows_are_labelled_strings_for_a_cli_table() -> None:
    report = build_report([trade(pnl=5.0)], daily(4), HAND_EQUITY, 1000.0, DAY_MS)

    rows = dict(report.summary_rows())

    assert all(isinstance(value, str) for value in rows.values())
    assert rows["Total return"] == "+19.79 %"
    assert rows["Max drawdown"] == "10.00 %"
    assert rows["Max drawdown duration"] == "3d"
    assert rows["Profit factor"] == "∞"
    assert rows["Trades"] == "1"
