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


@pytest.mark.parametrize(
    ("places", "steps"),
    [
        ({"amount": 5, "price": 2}, ("0.00001", "0.01")),
        ({"amount": 0, "price": 0}, ("1", "1")),  # a whole unit
    ],
)
def test_from_ccxt_reads_decimal_places_precision_as_a_power_of_ten_step(
    places: dict[str, int], steps: tuple[str, str]
) -> None:
    market_dict = copy.deepcopy(BINANCE_BTC_USDT)
    market_dict["precision"] = places

    market = Market.from_ccxt(market_dict, DECIMAL_PLACES)

    assert (market.amount_step, market.price_step) == (Decimal(steps[0]), Decimal(steps[1]))


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


# The minimum amount raised to 0.001 BTC (BINANCE_BTC_USDT's is one step).
RAISED_MIN_AMOUNT: dict[str, Any] = {
    "limits": {"amount": {"min": 0.001, "max": 9000.0}, "cost": {"min": 5.0}}
}


@pytest.mark.parametrize(
    ("overrides", "amount", "price", "message"),
    [
        (RAISED_MIN_AMOUNT, "0.0009", "96388.12", "below the minimum"),
        ({}, "9000.00001", "96388.12", "above the maximum"),
        # 0.0000519 BTC is worth 5.0025 USDT, but it truncates to 0.00005 BTC = 4.82 USDT.
        ({}, "0.0000519", "96388.12", "minimum notional"),
        ({"active": False}, "0.01", "96388.12", "not active"),
        # No limits at all: the step alone must stop an amount that rounds to zero.
        ({"limits": {}}, "0.000009", "96388.12", "step"),
        ({}, "0.01", "0", "price must be positive"),
        ({}, "0.01", "-1", "price must be positive"),
    ],
)
def test_prepare_rejects_an_order_the_market_does_not_take(
    overrides: dict[str, Any], amount: str, price: str, message: str
) -> None:
    market = _btc_usdt(**overrides)

    with pytest.raises(OrderRejected, match=message):
        market.prepare(Decimal(amount), Decimal(price))


def test_prepare_names_the_notional_its_asset_and_the_market_when_below_the_minimum() -> None:
    market = _btc_usdt()

    with pytest.raises(OrderRejected) as excinfo:
        market.prepare(Decimal("0.00005"), Decimal("96388.12"))  # 4.819406 USDT < 5 USDT

    message = str(excinfo.value)
    assert "minimum notional" in message
    assert "4.819406" in message
    assert "USDT" in message
    assert "BTC/USDT" in message


@pytest.mark.parametrize(
    ("overrides", "amount", "price"),
    [
        (RAISED_MIN_AMOUNT, "0.001", "96388.12"),  # exactly at the minimum amount
        ({}, "9000", "96388.12"),  # exactly at the maximum amount
        ({}, "0.0001", "50000"),  # exactly at the minimum notional: 5 USDT
        ({"limits": {}}, "0.00001", "1"),  # without limits: any amount on the step
    ],
)
def test_prepare_accepts_an_order_at_the_limits_unchanged(
    overrides: dict[str, Any], amount: str, price: str
) -> None:
    market = _btc_usdt(**overrides)

    prepared = market.prepare(Decimal(amount), Decimal(price))

    assert prepared == (Decimal(amount), Decimal(price))


def test_order_rejected_is_a_value_error() -> None:
    assert issubclass(OrderRejected, ValueError)
