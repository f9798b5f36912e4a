"""A subscription's entry order: market, or a limit at the alert's price or an offset from the market."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradewire.domain.entry_order import EntryKind, EntryOrder, LimitPrice
from tradewire.domain.markets import Market
from tradewire.domain.orders import OrderSide, OrderType

BTC = Market("BTC/USDT", "BTCUSDT", "BTC", "USDT", Decimal("0.00001"), Decimal("0.01"))
MARKET = Decimal("60000")


def _price(entry: EntryOrder, side: OrderSide = OrderSide.BUY, **signal: object) -> LimitPrice | str | None:
    signal_type = signal.get("type")
    signal_price = signal.get("price")
    assert signal_type is None or isinstance(signal_type, OrderType)
    assert signal_price is None or isinstance(signal_price, Decimal)
    return entry.limit_price(side, MARKET, signal_type, signal_price, BTC)


def test_by_default_an_entry_follows_the_alert() -> None:
    follow = EntryOrder()

    assert _price(follow) is None
    assert _price(follow, type=OrderType.MARKET, price=Decimal("59000")) is None
    limit = _price(follow, type=OrderType.LIMIT, price=Decimal("59000"))
    assert isinstance(limit, LimitPrice) and limit.price == Decimal("59000")


def test_a_market_subscription_ignores_the_alerts_limit() -> None:
    assert _price(EntryOrder(EntryKind.MARKET), type=OrderType.LIMIT, price=Decimal("59000")) is None


def test_a_limit_at_the_alerts_price_needs_one() -> None:
    entry = EntryOrder(EntryKind.LIMIT_SIGNAL)

    assert _price(entry) == "a limit order at the alert's price needs a price in the alert"
    limit = _price(entry, price=Decimal("59000.123"))
    assert isinstance(limit, LimitPrice) and limit.price == Decimal("59000.12")  # a buy never bids up


@pytest.mark.parametrize(
    ("side", "expected"), [(OrderSide.BUY, Decimal("59700")), (OrderSide.SELL, Decimal("60300"))]
)
def test_an_offset_limit_buys_below_and_sells_above_the_market(side: OrderSide, expected: Decimal) -> None:
    limit = _price(EntryOrder(EntryKind.LIMIT_OFFSET, Decimal("0.5")), side)

    assert isinstance(limit, LimitPrice) and limit.price == expected
    assert "0.5%" in limit.note


def test_an_offset_rounds_to_the_tick_on_the_safe_side() -> None:
    buy = EntryOrder(EntryKind.LIMIT_OFFSET, Decimal("0.00001")).limit_price(
        OrderSide.BUY, Decimal("100.005"), None, None, BTC
    )
    sell = EntryOrder(EntryKind.LIMIT_OFFSET, Decimal("0.00001")).limit_price(
        OrderSide.SELL, Decimal("100.005"), None, None, BTC
    )

    assert isinstance(buy, LimitPrice) and buy.price == Decimal("100.00")
    assert isinstance(sell, LimitPrice) and sell.price == Decimal("100.01")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": EntryKind.LIMIT_OFFSET}, "needs offset_pct"),
        ({"kind": EntryKind.MARKET, "offset_pct": Decimal(1)}, "only for limit_offset"),
        ({"kind": EntryKind.LIMIT_OFFSET, "offset_pct": Decimal(50)}, "below 50"),
        ({"limit_order_timeout_s": -1}, "between 0 and"),
    ],
)
def test_inconsistent_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EntryOrder(**kwargs)  # type: ignore[arg-type]


def test_settings_round_trip_through_json() -> None:
    entry = EntryOrder(EntryKind.LIMIT_OFFSET, Decimal("0.25"), 300)

    assert entry.as_json() == {"type": "limit_offset", "offset_pct": "0.25", "limit_order_timeout_s": 300}
    assert EntryOrder.from_json(entry.as_json()) == entry
    assert EntryOrder.from_json(None) == EntryOrder()
    with pytest.raises(ValueError, match="unknown entry order setting"):
        EntryOrder.from_json({"type": "market", "offset": "1"})


def test_a_price_beyond_exact_arithmetic_is_a_reason_not_a_crash() -> None:
    found = _price(EntryOrder(EntryKind.LIMIT_SIGNAL), price=Decimal("1e400"))

    assert found == "limit price 1e+400 is out of range for BTC/USDT"
