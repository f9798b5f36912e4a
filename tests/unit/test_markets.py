"""Markets read from ccxt structures, and rounding/validating an order against precision and limits."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from tradewire.domain.markets import DECIMAL_PLACES, TICK_SIZE, Market, OrderRejected
from tradewire.domain.money import MoneyError

# The shape ccxt 4 (precisionMode TICK_SIZE) returns for Binance spot BTC/USDT.
BINANCE_BTC_USDT: dict[str, Any] = {
    "id": "BTCUSDT",
    "lowercaseId": "btcusdt",
    "symbol": "BTC/USDT",
    "base": "BTC",
    "quote": "USDT",
    "settle": None,
    "baseId": "BTC",
    "quoteId": "USDT",
    "settleId": None,
    "type": "spot",
    "spot": True,
    "margin": True,
    "swap": False,
    "future": False,
    "option": False,
    "active": True,
    "contract": False,
    "linear": None,
    "inverse": None,
    "taker": 0.001,
    "maker": 0.001,
    "contractSize": None,
    "expiry": None,
    "expiryDatetime": None,
    "strike": None,
    "optionType": None,
    "precision": {"amount": 1e-05, "price": 0.01, "base": 1e-08, "quote": 1e-08},
    "limits": {
        "leverage": {"min": None, "max": None},
        "amount": {"min": 1e-05, "max": 9000.0},
        "price": {"min": 0.01, "max": 1000000.0},
        "cost": {"min": 5.0, "max": 9000000.0},
        "market": {"min": 0.0, "max": 107.0},
    },
    "created": None,
    "info": {"symbol": "BTCUSDT", "status": "TRADING"},
}


def _btc_usdt(**overrides: Any) -> Market:
    market = copy.deepcopy(BINANCE_BTC_USDT)
    market.update(overrides)
    return Market.from_ccxt(market)


# --- from_ccxt -------------------------------------------------------------------------------------


def test_from_ccxt_reads_the_binance_btc_usdt_market_with_tick_size_precision() -> None:
    market = Market.from_ccxt(BINANCE_BTC_USDT, TICK_SIZE)

    assert market.symbol == "BTC/USDT"
    assert market.id == "BTCUSDT"
    assert market.base == "BTC"
    assert market.quote == "USDT"
    assert market.amount_step == Decimal("0.00001")
    assert market.price_step == Decimal("0.01")
    assert market.min_amount == Decimal("0.00001")
    assert market.max_amount == Decimal("9000")
    assert market.min_cost == Decimal("5")
    assert market.spot is True
    assert market.active is True


def test_from_ccxt_defaults_to_tick_size_precision() -> None:
    assert Market.from_ccxt(BINANCE_BTC_USDT) == Market.from_ccxt(BINANCE_BTC_USDT, TICK_SIZE)


def test_from_ccxt_reads_decimal_places_precision_as_a_power_of_ten_step() -> None:
    market_dict = copy.deepcopy(BINANCE_BTC_USDT)
    market_dict["precision"] = {"amount": 5, "price": 2}

    market = Market.from_ccxt(market_dict, DECIMAL_PLACES)

    assert market.amount_step == Decimal("0.00001")
    assert market.price_step == Decimal("0.01")


def test_from_ccxt_decimal_places_of_zero_is_a_whole_unit_step() -> None:
    market_dict = copy.deepcopy(BINANCE_BTC_USDT)
    market_dict["precision"] = {"amount": 0, "price": 0}

    market = Market.from_ccxt(market_dict, DECIMAL_PLACES)

    assert market.amount_step == Decimal(1)
    assert market.price_step == Decimal(1)


def test_from_ccxt_falls_back_to_a_hundred_millionth_step_when_precision_is_missing() -> None:
    market = Market.from_ccxt({"symbol": "BTC/USDT", "base": "BTC", "quote": "USDT"})

    assert market.amount_step == Decimal("1e-8")
    assert market.price_step == Decimal("1e-8")
    assert market.min_amount is None
    assert market.max_amount is None
    assert market.min_cost is None


def test_from_ccxt_uses_the_symbol_when_the_id_is_missing() -> None:
    market = Market.from_ccxt({"symbol": "BTC/USDT", "base": "BTC", "quote": "USDT"})

    assert market.id == "BTC/USDT"


def test_from_ccxt_treats_an_unknown_active_flag_as_active() -> None:
    assert _btc_usdt(active=None).active is True


def test_from_ccxt_reads_an_explicitly_inactive_market() -> None:
    assert _btc_usdt(active=False).active is False


@pytest.mark.parametrize("step", [0, -0.01])
def test_from_ccxt_rejects_a_non_positive_tick_size(step: float) -> None:
    market_dict = copy.deepcopy(BINANCE_BTC_USDT)
    market_dict["precision"]["price"] = step

    with pytest.raises(MoneyError, match="precision must be positive"):
        Market.from_ccxt(market_dict)


# --- prepare: rounding -----------------------------------------------------------------------------


def test_prepare_truncates_the_amount_to_the_step() -> None:
    market = _btc_usdt()

    amount, _price = market.prepare(Decimal("0.001234567"), Decimal("96388.12"))

    assert amount == Decimal("0.00123")


def test_prepare_never_rounds_the_amount_up() -> None:
    market = _btc_usdt()

    amount, _price = market.prepare(Decimal("0.0012399999"), Decimal("96388.12"))

    assert amount == Decimal("0.00123")


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        ("96388.123", "96388.12"),
        ("96388.125", "96388.12"),
        ("96388.1251", "96388.13"),
        ("96388.129", "96388.13"),
        ("96388.12", "96388.12"),
    ],
)
def test_prepare_rounds_the_price_to_the_tick(price: str, expected: str) -> None:
    market = _btc_usdt()

    _amount, rounded_price = market.prepare(Decimal("0.001"), Decimal(price))

    assert rounded_price == Decimal(expected)


# --- prepare: limits -------------------------------------------------------------------------------


def test_prepare_rejects_an_amount_below_the_minimum_amount() -> None:
    market = _btc_usdt(limits={"amount": {"min": 0.001, "max": 9000.0}, "cost": {"min": 5.0}})

    with pytest.raises(OrderRejected, match="below the minimum"):
        market.prepare(Decimal("0.0009"), Decimal("96388.12"))


def test_prepare_accepts_an_amount_exactly_at_the_minimum_amount() -> None:
    market = _btc_usdt(limits={"amount": {"min": 0.001, "max": 9000.0}, "cost": {"min": 5.0}})

    amount, _price = market.prepare(Decimal("0.001"), Decimal("96388.12"))

    assert amount == Decimal("0.001")


def test_prepare_rejects_an_amount_above_the_maximum_amount() -> None:
    market = _btc_usdt()

    with pytest.raises(OrderRejected, match="above the maximum"):
        market.prepare(Decimal("9000.00001"), Decimal("96388.12"))


def test_prepare_accepts_an_amount_exactly_at_the_maximum_amount() -> None:
    market = _btc_usdt()

    amount, _price = market.prepare(Decimal("9000"), Decimal("96388.12"))

    assert amount == Decimal("9000")


def test_prepare_rejects_an_order_below_the_minimum_notional() -> None:
    market = _btc_usdt()

    with pytest.raises(OrderRejected) as excinfo:
        market.prepare(Decimal("0.00005"), Decimal("96388.12"))  # 4.819406 USDT < 5 USDT

    message = str(excinfo.value)
    assert "minimum notional" in message
    assert "4.819406" in message
    assert "USDT" in message
    assert "BTC/USDT" in message


def test_prepare_checks_the_notional_after_rounding_the_amount_down() -> None:
    market = _btc_usdt()

    # 0.0000519 BTC is worth 5.0025 USDT, but it truncates to 0.00005 BTC = 4.82 USDT.
    with pytest.raises(OrderRejected, match="minimum notional"):
        market.prepare(Decimal("0.0000519"), Decimal("96388.12"))


def test_prepare_accepts_an_order_exactly_at_the_minimum_notional() -> None:
    market = _btc_usdt()

    amount, price = market.prepare(Decimal("0.0001"), Decimal("50000"))

    assert amount * price == Decimal("5")
    assert (amount, price) == (Decimal("0.0001"), Decimal("50000"))


def test_prepare_rejects_an_inactive_market() -> None:
    market = _btc_usdt(active=False)

    with pytest.raises(OrderRejected, match="not active"):
        market.prepare(Decimal("0.01"), Decimal("96388.12"))


def test_prepare_rejects_an_amount_that_rounds_to_zero() -> None:
    market = _btc_usdt(limits={})  # no limits at all: the step alone must stop it

    with pytest.raises(OrderRejected, match="step"):
        market.prepare(Decimal("0.000009"), Decimal("96388.12"))


@pytest.mark.parametrize("price", ["0", "-1"])
def test_prepare_rejects_a_non_positive_price(price: str) -> None:
    market = _btc_usdt()

    with pytest.raises(OrderRejected, match="price must be positive"):
        market.prepare(Decimal("0.01"), Decimal(price))


def test_prepare_without_limits_accepts_any_amount_on_the_step() -> None:
    market = _btc_usdt(limits={})

    amount, price = market.prepare(Decimal("0.00001"), Decimal("1"))

    assert (amount, price) == (Decimal("0.00001"), Decimal("1"))


def test_order_rejected_is_a_value_error() -> None:
    assert issubclass(OrderRejected, ValueError)
