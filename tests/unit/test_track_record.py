"""A strategy's track record per pair and the losing-pair blacklist it drives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from tradewire.domain.track_record import PairRecord, PairStatus, StrategyCurve

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _trade(record: PairRecord, entry: str, exit_: str, at: datetime = T0) -> PairRecord:
    return record.after_entry(D(entry)).after_exit(D(exit_), at)


def test_five_consecutive_losses_blacklist_the_pair_but_four_do_not() -> None:
    record = PairRecord("ETH/USDT")
    for _ in range(4):
        record = _trade(record, "100", "99.9")
    assert record.status is PairStatus.NORMAL and record.consecutive_losses == 4
    assert record.blocking(T0) is None

    record = _trade(record, "100", "99.9")

    assert record.status is PairStatus.BLACKLISTED
    assert record.status_reason == "5 consecutive losing trades"
    assert record.blocking(T0) == "pair blacklisted for the strategy: 5 consecutive losing trades"


def test_a_win_resets_the_losing_streak() -> None:
    record = PairRecord("ETH/USDT")
    for exit_ in ("99", "99", "99", "99", "101", "99"):
        record = _trade(record, "100", exit_)

    assert record.status is PairStatus.NORMAL and record.consecutive_losses == 1


def test_total_return_below_minus_ten_percent_needs_three_trades() -> None:
    two = _trade(_trade(PairRecord("SOL/USDT"), "100", "60"), "100", "101")
    assert two.status is PairStatus.NORMAL  # -39.4 % but only two trades

    three = _trade(two, "100", "101")

    assert three.status is PairStatus.BLACKLISTED
    assert three.status_reason is not None and "over 3 trades" in three.status_reason


def test_minus_ten_percent_exactly_is_not_below_the_floor() -> None:
    record = PairRecord("SOL/USDT")
    # 0.9 × 1 × 1 = -10 % exactly over three trades
    for entry, exit_ in (("100", "90"), ("100", "100"), ("100", "100")):
        record = _trade(record, entry, exit_)

    assert record.window_return_pct == D(-10) and record.status is PairStatus.NORMAL


def test_weekly_review_re_enables_a_pair_that_recovered_with_a_30_day_whitelist() -> None:
    record = PairRecord("ETH/USDT")
    for _ in range(5):
        record = _trade(record, "100", "99")
    assert record.status_until == T0 + timedelta(days=7)
    # while blacklisted the strategy's signals keep being measured
    record = _trade(record, "100", "104", T0 + timedelta(days=2))
    assert record.reviewed(T0 + timedelta(days=6, hours=23)).status is PairStatus.BLACKLISTED

    reviewed = record.reviewed(T0 + timedelta(days=7))

    assert reviewed.status is PairStatus.WHITELISTED
    assert reviewed.status_until == T0 + timedelta(days=37)
    # a whitelisted pair is not blacklisted again by losses until the whitelist ends
    for _ in range(5):
        reviewed = _trade(reviewed, "100", "99", T0 + timedelta(days=8))
    assert reviewed.status is PairStatus.WHITELISTED
    assert reviewed.reviewed(T0 + timedelta(days=37)).status is PairStatus.NORMAL


def test_a_pair_still_losing_at_review_stays_blacklisted_another_week() -> None:
    record = PairRecord("ETH/USDT")
    for _ in range(5):
        record = _trade(record, "100", "99")

    reviewed = record.reviewed(T0 + timedelta(days=7))

    assert reviewed.status is PairStatus.BLACKLISTED
    assert reviewed.status_until == T0 + timedelta(days=14)


def test_manual_overrides_are_left_alone_by_reviews() -> None:
    record = PairRecord("ETH/USDT").overridden(PairStatus.BLACKLISTED, T0, "alice")
    assert record.manual and record.reviewed(T0 + timedelta(days=300)).status is PairStatus.BLACKLISTED
    assert record.blocking(T0) == "pair blacklisted for the strategy: blacklisted by alice"

    enabled = record.overridden(PairStatus.WHITELISTED, T0, "alice")

    assert enabled.status is PairStatus.WHITELISTED and enabled.status_until == T0 + timedelta(days=30)
    assert enabled.blocking(T0) is None


def test_a_repeat_entry_or_an_exit_without_entry_changes_nothing() -> None:
    opened = PairRecord("ETH/USDT").after_entry(D(100))

    assert opened.after_entry(D(120)).open_entry == D(100)
    assert PairRecord("ETH/USDT").after_exit(D(100), T0) == PairRecord("ETH/USDT")


def test_strategy_curve_compounds_and_measures_drawdown() -> None:
    curve = StrategyCurve().after_trade(D(10)).after_trade(D(-20))

    assert curve.index == D("0.88") and curve.peak == D("1.1")
    assert curve.drawdown_pct == D(20)


def test_a_flat_trade_neither_extends_nor_ends_a_losing_streak() -> None:
    record = PairRecord("ETH/USDT")
    for exit_ in ("99", "99", "100", "100", "100", "99"):
        record = _trade(record, "100", exit_)

    assert record.consecutive_losses == 3 and record.status is PairStatus.NORMAL
