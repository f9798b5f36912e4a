"""Sizing rules, signal exit fractions, and how one signal becomes one spot order or a reasoned skip."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tradewire.domain.execution import (
    OrderPlan,
    Sizing,
    SizingError,
    SizingMode,
    Skip,
    SpotSignal,
    pair_matches,
    plan_spot_order,
)
from tradewire.domain.markets import Market
from tradewire.domain.orders import OrderSide, OrderType
from tradewire.domain.signals import MarketPosition, SignalAction, SignalIntent

D = Decimal
PRICE = D("96388.12")

BINANCE_BTC_USDT: dict[str, Any] = {
    "id": "BTCUSDT",
    "symbol": "BTC/USDT",
    "base": "BTC",
    "quote": "USDT",
    "type": "spot",
    "spot": True,
    "active": True,
    "precision": {"amount": 1e-05, "price": 0.01, "base": 1e-08, "quote": 1e-08},
    "limits": {
        "leverage": {"min": None, "max": None},
        "amount": {"min": 1e-05, "max": 9000.0},
        "price": {"min": 0.01, "max": 1000000.0},
        "cost": {"min": 5.0, "max": 9000000.0},
    },
}


@pytest.fixture
def market() -> Market:
    return Market.from_ccxt(BINANCE_BTC_USDT)


def _signal(
    action: SignalAction,
    market_position: MarketPosition | None = None,
    contracts: Decimal | None = None,
    exit_ratio: tuple[Decimal, Decimal] = (D(1), D(1)),
) -> SpotSignal:
    return SpotSignal(
        action=action, contracts=contracts, market_position=market_position, exit_ratio=exit_ratio
    )


def _intent(action: SignalAction, **fields: Any) -> SignalIntent:
    return SignalIntent(action=action, ticker="BINANCE:BTCUSDT", **fields)


# --- Sizing validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(SizingMode))
@pytest.mark.parametrize("value", ["0", "-1", "-0.0001"])
def test_sizing_rejects_a_non_positive_value(mode: SizingMode, value: str) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Sizing(mode, D(value))


def test_sizing_rejects_an_equity_percentage_above_100() -> None:
    with pytest.raises(ValueError, match="at most 100"):
        Sizing(SizingMode.EQUITY_PCT, D("100.01"))


def test_sizing_accepts_an_equity_percentage_of_exactly_100() -> None:
    assert Sizing(SizingMode.EQUITY_PCT, D("100")).value == D("100")


@pytest.mark.parametrize("mode", [SizingMode.FIXED_QUOTE, SizingMode.SIGNAL])
def test_sizing_allows_values_above_100_outside_equity_mode(mode: SizingMode) -> None:
    assert Sizing(mode, D("250")).value == D("250")


# --- Sizing.entry -----------------------------------------------------------------------------------


def test_fixed_quote_sizing_divides_the_quote_amount_by_the_price() -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    assert sizing.entry(D("50000"), equity=D("10000"), contracts=None).amount == D("0.002")


def test_fixed_quote_sizing_ignores_equity_and_contracts() -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    assert sizing.entry(D("50000"), equity=D("1000"), contracts=D("7")).amount == D("0.002")


def test_equity_pct_sizing_takes_a_share_of_equity_at_the_price() -> None:
    sizing = Sizing(SizingMode.EQUITY_PCT, D("2"))

    assert sizing.entry(D("50000"), equity=D("10000"), contracts=None).amount == D("0.004")


@pytest.mark.parametrize("equity", [None, D("0"), D("-5")])
def test_equity_pct_sizing_raises_when_equity_is_unknown_or_not_positive(equity: Decimal | None) -> None:
    sizing = Sizing(SizingMode.EQUITY_PCT, D("2"))

    with pytest.raises(SizingError, match="equity"):
        sizing.entry(D("50000"), equity=equity, contracts=None)


def test_signal_sizing_multiplies_the_contracts() -> None:
    sizing = Sizing(SizingMode.SIGNAL, D("1.5"))

    assert sizing.entry(D("50000"), equity=D("10000"), contracts=D("0.004")).amount == D("0.006")


def test_signal_sizing_raises_when_the_signal_has_no_contracts() -> None:
    sizing = Sizing(SizingMode.SIGNAL, D("1"))

    with pytest.raises(SizingError, match="no contracts"):
        sizing.entry(D("50000"), equity=D("10000"), contracts=None)


# --- pair_matches ----------------------------------------------------------------------------------


def test_pair_matches_every_symbol_when_there_is_no_pair_list() -> None:
    assert pair_matches(None, "BTC/USDT")


def test_pair_matches_a_listed_symbol() -> None:
    assert pair_matches(["ETH/USDT", "BTC/USDT"], "BTC/USDT")


def test_pair_matches_rejects_an_unlisted_symbol() -> None:
    assert not pair_matches(["ETH/USDT"], "BTC/USDT")


def test_pair_matches_with_an_empty_list_takes_nothing() -> None:
    assert not pair_matches([], "BTC/USDT")


def test_pair_matches_compares_exact_unified_symbols() -> None:
    assert not pair_matches(["BTC/USDT"], "BTC/USDT:USDT")


# --- plan_spot_order: BUY --------------------------------------------------------------------------


def test_buy_opens_a_long_with_a_rounded_market_order(market: Market) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    plan = plan_spot_order(_signal(SignalAction.BUY), sizing, market, PRICE, D(0), equity=D("10000"))

    assert plan == OrderPlan(
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        amount=D("0.00103"),
        reference_price=PRICE,
        sizing_note="fixed 100 USDT",
    )
    assert plan.limit_price is None


def test_buy_with_market_position_long_adds_to_the_long(market: Market) -> None:
    sizing = Sizing(SizingMode.EQUITY_PCT, D("2"))

    plan = plan_spot_order(
        _signal(SignalAction.BUY, MarketPosition.LONG), sizing, market, D("50000"), D("0.01"), D("10000")
    )

    assert isinstance(plan, OrderPlan)
    assert plan.side is OrderSide.BUY
    assert plan.amount == D("0.004")


def test_buy_in_signal_mode_copies_the_contracts(market: Market) -> None:
    sizing = Sizing(SizingMode.SIGNAL, D("2"))

    plan = plan_spot_order(
        _signal(SignalAction.BUY, contracts=D("0.0012345")), sizing, market, PRICE, D(0), D("10000")
    )

    assert isinstance(plan, OrderPlan)
    assert plan.amount == D("0.00246")


def test_buy_that_closes_a_short_is_skipped(market: Market) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    plan = plan_spot_order(
        _signal(SignalAction.BUY, MarketPosition.FLAT), sizing, market, PRICE, D(0), equity=D("10000")
    )

    assert isinstance(plan, Skip)
    assert "short" in plan.reason


def test_buy_that_only_reduces_a_short_is_skipped(market: Market) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    plan = plan_spot_order(
        _signal(SignalAction.BUY, MarketPosition.SHORT), sizing, market, PRICE, D(0), equity=D("10000")
    )

    assert isinstance(plan, Skip)


def test_buy_in_equity_mode_with_unknown_equity_is_skipped(market: Market) -> None:
    sizing = Sizing(SizingMode.EQUITY_PCT, D("2"))

    plan = plan_spot_order(_signal(SignalAction.BUY), sizing, market, PRICE, D(0), equity=None)

    assert isinstance(plan, Skip)
    assert "equity" in plan.reason


def test_buy_in_signal_mode_without_contracts_is_skipped(market: Market) -> None:
    sizing = Sizing(SizingMode.SIGNAL, D("1"))

    plan = plan_spot_order(_signal(SignalAction.BUY), sizing, market, PRICE, D(0), equity=D("10000"))

    assert isinstance(plan, Skip)
    assert "contracts" in plan.reason


def test_buy_below_the_minimum_notional_is_skipped_with_the_market_reason(market: Market) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("4.9"))

    plan = plan_spot_order(_signal(SignalAction.BUY), sizing, market, PRICE, D(0), equity=D("10000"))

    assert isinstance(plan, Skip)
    assert "minimum notional" in plan.reason


def test_buy_too_small_for_one_step_is_skipped(market: Market) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("0.5"))

    plan = plan_spot_order(_signal(SignalAction.BUY), sizing, market, PRICE, D(0), equity=D("10000"))

    assert isinstance(plan, Skip)
    assert "step" in plan.reason


# --- plan_spot_order: SELL / EXIT ------------------------------------------------------------------


@pytest.mark.parametrize("action", [SignalAction.SELL, SignalAction.EXIT])
@pytest.mark.parametrize("position_amount", [D(0), D("-0.001")])
def test_sell_or_exit_without_a_position_is_skipped(
    market: Market, action: SignalAction, position_amount: Decimal
) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    plan = plan_spot_order(_signal(action), sizing, market, PRICE, position_amount, equity=None)

    assert isinstance(plan, Skip)
    assert "no open long position" in plan.reason
    assert "BTC/USDT" in plan.reason


@pytest.mark.parametrize("action", [SignalAction.SELL, SignalAction.EXIT])
def test_sell_or_exit_closes_the_full_position(market: Market, action: SignalAction) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    plan = plan_spot_order(_signal(action), sizing, market, PRICE, D("0.01523"), equity=None)

    assert plan == OrderPlan(
        side=OrderSide.SELL,
        type=OrderType.MARKET,
        amount=D("0.01523"),
        reference_price=PRICE,
        sizing_note="the whole position 0.01523",
    )


def test_sell_ignores_the_sizing_rule(market: Market) -> None:
    sizing = Sizing(SizingMode.SIGNAL, D("1"))  # no contracts: would fail for a BUY

    plan = plan_spot_order(_signal(SignalAction.SELL), sizing, market, PRICE, D("0.002"), equity=None)

    assert isinstance(plan, OrderPlan)
    assert plan.amount == D("0.002")


def test_short_entry_sell_closes_the_long(market: Market) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    plan = plan_spot_order(
        _signal(SignalAction.SELL, MarketPosition.SHORT), sizing, market, PRICE, D("0.002"), None
    )

    assert isinstance(plan, OrderPlan)
    assert plan.side is OrderSide.SELL
    assert plan.amount == D("0.002")


def test_sell_with_exit_ratio_one_half_sells_half_rounded_down_to_the_step(market: Market) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    plan = plan_spot_order(
        _signal(SignalAction.SELL, MarketPosition.LONG, exit_ratio=(D(1), D(2))),
        sizing,
        market,
        PRICE,
        D("0.01523"),
        equity=None,
    )

    assert isinstance(plan, OrderPlan)
    assert plan.amount == D("0.00761")  # 0.007615 truncated


def test_sell_of_a_dust_position_is_skipped_with_the_minimum_notional_reason(market: Market) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    plan = plan_spot_order(_signal(SignalAction.EXIT), sizing, market, PRICE, D("0.00005"), equity=None)

    assert isinstance(plan, Skip)
    assert "minimum notional" in plan.reason


def test_partial_sell_that_falls_below_the_minimum_notional_is_skipped(market: Market) -> None:
    sizing = Sizing(SizingMode.FIXED_QUOTE, D("100"))

    plan = plan_spot_order(
        _signal(SignalAction.SELL, MarketPosition.LONG, exit_ratio=(D(1), D(2))),
        sizing,
        market,
        PRICE,
        D("0.0001"),
        equity=None,
    )

    assert isinstance(plan, Skip)
    assert "minimum notional" in plan.reason


def test_partial_exit_mirroring_the_strategy_sells_the_exact_reduction(market: Market) -> None:
    intent = _intent(
        SignalAction.SELL,
        market_position=MarketPosition.LONG,
        prev_market_position_size=D("0.0152"),
        market_position_size=D("0.0052"),
    )
    signal = _signal(SignalAction.SELL, MarketPosition.LONG, exit_ratio=intent.exit_ratio)

    plan = plan_spot_order(
        signal, Sizing(SizingMode.FIXED_QUOTE, D("100")), market, PRICE, D("0.0152"), equity=None
    )

    assert isinstance(plan, OrderPlan)
    assert plan.amount == D("0.01")


# --- SignalIntent.exit_fraction --------------------------------------------------------------------


def test_exit_fraction_of_an_exit_is_one() -> None:
    intent = _intent(
        SignalAction.EXIT,
        market_position=MarketPosition.LONG,
        prev_market_position_size=D("0.0152"),
        market_position_size=D("0.0052"),
    )

    assert intent.exit_fraction == D(1)


def test_exit_fraction_of_a_sell_that_stays_long_is_the_share_sold() -> None:
    intent = _intent(
        SignalAction.SELL,
        market_position=MarketPosition.LONG,
        prev_market_position_size=D("0.0152"),
        market_position_size=D("0.0052"),
    )

    assert intent.exit_fraction == D("0.0100") / D("0.0152")


def test_exit_fraction_of_a_sell_to_half_is_one_half() -> None:
    intent = _intent(
        SignalAction.SELL,
        market_position=MarketPosition.LONG,
        prev_market_position_size=D("2"),
        market_position_size=D("1"),
    )

    assert intent.exit_fraction == D("0.5")


def test_exit_fraction_of_a_sell_to_flat_is_one() -> None:
    intent = _intent(
        SignalAction.SELL,
        market_position=MarketPosition.FLAT,
        prev_market_position_size=D("0.0152"),
        market_position_size=D("0"),
    )

    assert intent.exit_fraction == D(1)


def test_exit_fraction_of_a_sell_into_a_short_is_one() -> None:
    intent = _intent(
        SignalAction.SELL,
        market_position=MarketPosition.SHORT,
        prev_market_position_size=D("0.0152"),
        market_position_size=D("0.01"),
    )

    assert intent.exit_fraction == D(1)


@pytest.mark.parametrize(
    ("prev", "size"),
    [(None, D("0.0052")), (D("0.0152"), None), (D("0"), D("0.0052")), (D("-1"), D("0.5"))],
)
def test_exit_fraction_without_usable_sizes_is_one(prev: Decimal | None, size: Decimal | None) -> None:
    intent = _intent(
        SignalAction.SELL,
        market_position=MarketPosition.LONG,
        prev_market_position_size=prev,
        market_position_size=size,
    )

    assert intent.exit_fraction == D(1)


@pytest.mark.parametrize("size", [D("0.0152"), D("0.02"), D("0")])
def test_exit_fraction_is_one_when_the_remaining_share_is_not_strictly_between_zero_and_one(
    size: Decimal,
) -> None:
    intent = _intent(
        SignalAction.SELL,
        market_position=MarketPosition.LONG,
        prev_market_position_size=D("0.0152"),
        market_position_size=size,
    )

    assert intent.exit_fraction == D(1)


def test_exit_fraction_of_a_buy_is_one() -> None:
    intent = _intent(
        SignalAction.BUY,
        market_position=MarketPosition.LONG,
        prev_market_position_size=D("0.0052"),
        market_position_size=D("0.0152"),
    )

    assert intent.exit_fraction == D(1)
