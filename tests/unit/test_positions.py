"""Position accounting: average entry, realised and unrealised PnL, fees, closing, exactness."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradewire.domain.orders import OrderSide
from tradewire.domain.positions import CloseReason, Position, PositionStatus, position_change

BUY = OrderSide.BUY
SELL = OrderSide.SELL
D = Decimal


def _bought(*fills: tuple[str, str], fee: str = "0") -> Position:
    position = Position("BTC/USDT")
    for amount, price in fills:
        position = position.apply_fill(BUY, D(amount), D(price), D(fee))
    return position


def test_a_new_position_is_empty_and_open() -> None:
    position = Position("BTC/USDT")

    assert position.amount == 0
    assert position.avg_entry == 0
    assert position.realized_pnl == 0
    assert position.fees == 0
    assert position.status is PositionStatus.OPEN
    assert position.close_reason is None


def test_a_first_buy_sets_amount_entry_and_cost_basis() -> None:
    position = Position("BTC/USDT").apply_fill(BUY, D("0.01"), D("50000"), D("0"))

    assert position.amount == D("0.01")
    assert position.avg_entry == D("50000")
    assert position.cost_basis == D("500")


def test_average_entry_is_weighted_over_several_buys() -> None:
    position = _bought(("1", "100"), ("3", "200"), ("1", "50"))

    assert position.amount == D("5")
    assert position.cost_basis == D("750")
    assert position.avg_entry == D("150")


def test_apply_fill_returns_a_new_position_and_leaves_the_original_unchanged() -> None:
    original = _bought(("1", "100"))

    updated = original.apply_fill(BUY, D("1"), D("200"), D("0"))

    assert original.amount == D("1")
    assert original.avg_entry == D("100")
    assert updated is not original


def test_a_partial_sell_realises_price_minus_average_times_amount_and_keeps_the_average() -> None:
    position = _bought(("1", "100"), ("1", "200"))  # avg 150

    after = position.apply_fill(SELL, D("0.5"), D("180"), D("0"))

    assert after.realized_pnl == D("15")  # (180 - 150) * 0.5
    assert after.avg_entry == D("150")
    assert after.amount == D("1.5")
    assert after.cost_basis == D("225")
    assert after.status is PositionStatus.OPEN
    assert after.close_reason is None


def test_a_partial_sell_below_the_average_realises_a_loss() -> None:
    position = _bought(("2", "100"))

    after = position.apply_fill(SELL, D("1"), D("90"), D("0"))

    assert after.realized_pnl == D("-10")


def test_realised_pnl_accumulates_over_several_sells() -> None:
    position = _bought(("3", "100"))

    after = position.apply_fill(SELL, D("1"), D("110"), D("0")).apply_fill(SELL, D("1"), D("95"), D("0"))

    assert after.realized_pnl == D("5")  # +10 - 5
    assert after.amount == D("1")


def test_a_full_sell_closes_the_position_with_reason_signal() -> None:
    position = _bought(("0.5", "100"), ("0.5", "300"))

    closed = position.apply_fill(SELL, D("1"), D("250"), D("0"))

    assert closed.amount == 0
    assert closed.status is PositionStatus.CLOSED
    assert closed.close_reason is CloseReason.SIGNAL
    assert closed.realized_pnl == D("50")
    assert closed.cost_basis == 0


def test_a_full_sell_records_the_given_close_reason() -> None:
    position = _bought(("1", "100"))

    closed = position.apply_fill(SELL, D("1"), D("90"), D("0"), reason=CloseReason.SL)

    assert closed.close_reason is CloseReason.SL


def test_a_partial_sell_ignores_the_close_reason() -> None:
    position = _bought(("2", "100"))

    after = position.apply_fill(SELL, D("1"), D("90"), D("0"), reason=CloseReason.SL)

    assert after.close_reason is None
    assert after.status is PositionStatus.OPEN


def test_a_buy_after_closing_reopens_at_the_new_price() -> None:
    closed = _bought(("1", "100")).apply_fill(SELL, D("1"), D("120"), D("0"))

    reopened = closed.apply_fill(BUY, D("2"), D("130"), D("0"))

    assert reopened.status is PositionStatus.OPEN
    assert reopened.close_reason is None
    assert reopened.amount == D("2")
    assert reopened.avg_entry == D("130")
    assert reopened.realized_pnl == D("20")


def test_fees_accumulate_and_net_realised_pnl_subtracts_them() -> None:
    position = (
        Position("BTC/USDT")
        .apply_fill(BUY, D("1"), D("100"), D("0.1"))
        .apply_fill(BUY, D("1"), D("200"), D("0.2"))
        .apply_fill(SELL, D("2"), D("160"), D("0.32"))
    )

    assert position.fees == D("0.62")
    assert position.realized_pnl == D("20")
    assert position.net_realized_pnl == D("19.38")


def test_fees_do_not_change_the_average_entry() -> None:
    position = Position("BTC/USDT").apply_fill(BUY, D("1"), D("100"), D("5"))

    assert position.avg_entry == D("100")
    assert position.net_realized_pnl == D("-5")


def test_selling_more_than_is_held_raises() -> None:
    position = _bought(("1", "100"))

    with pytest.raises(ValueError, match="cannot sell"):
        position.apply_fill(SELL, D("1.00000001"), D("100"), D("0"))


def test_selling_from_an_empty_position_raises() -> None:
    with pytest.raises(ValueError, match="cannot sell"):
        Position("BTC/USDT").apply_fill(SELL, D("0.1"), D("100"), D("0"))


@pytest.mark.parametrize("side", [BUY, SELL])
@pytest.mark.parametrize("amount", ["0", "-1"])
def test_a_fill_of_zero_or_negative_amount_raises(side: OrderSide, amount: str) -> None:
    position = _bought(("1", "100"))

    with pytest.raises(ValueError, match="must be positive"):
        position.apply_fill(side, D(amount), D("100"), D("0"))


@pytest.mark.parametrize(
    ("mark", "expected"),
    [("200", "50"), ("150", "0"), ("100", "-50")],
)
def test_unrealized_pnl_is_mark_minus_average_times_amount(mark: str, expected: str) -> None:
    position = _bought(("0.5", "100"), ("0.5", "200"))  # avg 150, amount 1

    assert position.unrealized_pnl(D(mark)) == D(expected)


def test_unrealized_pnl_of_a_closed_position_is_zero() -> None:
    closed = _bought(("1", "100")).apply_fill(SELL, D("1"), D("120"), D("0"))

    assert closed.unrealized_pnl(D("1000")) == 0


def test_three_small_buys_give_exact_decimals_without_float_drift() -> None:
    position = _bought(("0.1", "0.1"), ("0.1", "0.2"), ("0.1", "0.3"))

    assert position.amount == D("0.3")
    assert position.cost_basis == D("0.06")
    assert position.avg_entry == D("0.2")
    assert position.unrealized_pnl(D("0.3")) == D("0.03")


def test_selling_in_small_pieces_closes_exactly_at_zero() -> None:
    position = _bought(("0.3", "100"))
    for _ in range(3):
        position = position.apply_fill(SELL, D("0.1"), D("110"), D("0.001"))

    assert position.amount == 0
    assert position.status is PositionStatus.CLOSED
    assert position.realized_pnl == D("3")
    assert position.fees == D("0.003")
    assert position.net_realized_pnl == D("2.997")


def test_a_buy_fee_taken_in_the_base_asset_leaves_less_to_hold() -> None:
    held, fee_in_quote = position_change(
        OrderSide.BUY, D("0.002"), D("60000"), D("0.000002"), "BTC", "BTC/USDT"
    )

    assert held == D("0.001998")
    assert fee_in_quote == D("0.12")


def test_a_fee_in_the_quote_asset_changes_nothing_held() -> None:
    assert position_change(OrderSide.SELL, D("0.5"), D("100"), D("0.05"), "USDT", "ETH/USDT") == (
        D("0.5"),
        D("0.05"),
    )


def test_a_fee_in_a_third_asset_is_not_converted() -> None:
    assert position_change(OrderSide.BUY, D("1"), D("100"), D("0.01"), "BNB", "ETH/USDT") == (D("1"), D(0))


def test_a_remainder_below_the_smallest_order_closes_the_position_as_dust() -> None:
    position = Position("BTC/USDT").apply_fill(OrderSide.BUY, D("0.001998"), D("60000"), D("0.12"))

    sold = position.apply_fill(OrderSide.SELL, D("0.00199"), D("61000"), D("0.12"))
    after = sold.settle_dust(D("0.00001"), CloseReason.SIGNAL)

    assert after.status is PositionStatus.CLOSED
    assert after.amount == D("0.000008")
    assert after.close_reason is CloseReason.SIGNAL


@pytest.mark.parametrize("reason", list(CloseReason))
def test_dust_left_by_a_sale_closes_the_position_with_that_sale_s_reason(reason: CloseReason) -> None:
    position = Position("BTC/USDT").apply_fill(OrderSide.BUY, D("0.001998"), D("60000"), D("0.12"))

    sold = position.apply_fill(OrderSide.SELL, D("0.00199"), D("58000"), D("0.12"), reason)
    after = sold.settle_dust(D("0.00001"), reason)

    assert sold.status is PositionStatus.OPEN  # the sale alone leaves 0.000008 behind
    assert after.status is PositionStatus.CLOSED and after.close_reason is reason


def test_a_sellable_remainder_stays_open() -> None:
    position = Position("BTC/USDT", amount=D("0.5"), avg_entry=D("1"), cost_basis=D("0.5"))

    assert position.settle_dust(D("0.00001"), CloseReason.SL) is position
