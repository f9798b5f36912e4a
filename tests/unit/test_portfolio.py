"""The portfolio's results: PnL today / 7 days / total, win rate and the cumulative curve, per mode and
quote currency, never added across them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tradewire.domain.portfolio import CurvePoint, PositionResult, quote_of, summarize

TODAY = date(2026, 3, 10)


def closed(
    day: int, pnl: str, fees: str = "0", mode: str = "paper", symbol: str = "BTC/USDT"
) -> PositionResult:
    at = datetime(2026, 3, day, 23, 59, tzinfo=UTC)
    return PositionResult(mode, symbol, "closed", Decimal(pnl), Decimal(fees), at)


def still_open(mode: str = "paper", symbol: str = "BTC/USDT") -> PositionResult:
    return PositionResult(mode, symbol, "open", Decimal("-3"), Decimal("1"), None)


def test_results_are_net_of_fees_by_the_day_a_position_closed() -> None:
    [paper] = summarize(
        [closed(10, "5", "0.5"), closed(10, "-2"), closed(4, "10", "1"), closed(3, "100"), still_open()],
        TODAY,
    )

    assert (paper.mode, paper.quote) == ("paper", "USDT")
    assert paper.pnl_today == Decimal("2.5")
    assert paper.pnl_7d == Decimal("11.5")  # the 4th is the 7th day back; the 3rd is not
    assert paper.pnl_total == Decimal("111.5")
    assert (paper.closed_positions, paper.winning_positions, paper.open_positions) == (4, 3, 1)
    assert paper.win_rate_pct == Decimal("75.00")
    assert paper.curve == (
        CurvePoint(date(2026, 3, 3), Decimal(100), Decimal(100)),
        CurvePoint(date(2026, 3, 4), Decimal(9), Decimal(109)),
        CurvePoint(date(2026, 3, 10), Decimal("2.5"), Decimal("111.5")),
    )


def test_paper_live_and_quote_currencies_are_never_added_together() -> None:
    summaries = summarize(
        [
            closed(10, "1", mode="live"),
            closed(10, "2"),
            closed(10, "0.001", symbol="ETH/BTC"),
            closed(10, "4", symbol="BTC/USDT:USDT"),
        ],
        TODAY,
    )

    assert [(s.mode, s.quote, s.pnl_total) for s in summaries] == [
        ("paper", "BTC", Decimal("0.001")),
        ("paper", "USDT", Decimal(6)),
        ("live", "USDT", Decimal(1)),
    ]


def test_a_break_even_close_is_not_a_win_and_no_close_has_no_win_rate() -> None:
    [only_open] = summarize([still_open()], TODAY)
    [even] = summarize([closed(9, "1", "1")], TODAY)

    assert only_open.win_rate_pct is None
    assert (only_open.pnl_total, only_open.curve, only_open.open_positions) == (Decimal(0), (), 1)
    assert even.win_rate_pct == Decimal("0.00")
    assert summarize([], TODAY) == []


def test_the_quote_of_a_symbol() -> None:
    assert [quote_of(s) for s in ("BTC/USDT", "ETH/BTC", "BTC/USDT:USDT", "ODD")] == [
        "USDT",
        "BTC",
        "USDT",
        "ODD",
    ]
