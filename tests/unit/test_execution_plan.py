"""Sizing rules, signal exit fractions, and how one signal becomes one spot order or a reasoned skip."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.unit.test_markets import BINANCE_BTC_USDT  # the market ccxt returns for Binance spot BTC/USDT
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


BUY, SELL, EXIT = SignalAction.BUY, SignalAction.SELL, SignalAction.EXIT
LONG, FLAT, SHORT = MarketPosition.LONG, MarketPosition.FLAT, MarketPosition.SHORT
FIXED_100 = Sizing(SizingMode.FIXED_QUOTE, D("100"))
HALF = (D(1), D(2))
# The exit ratio of a SELL that leaves a long of 0.0052 out of 0.0152, as the strategy reported it.
MIRRORED = _intent(
    SELL, market_position=LONG, prev_market_position_size=D("0.0152"), market_position_size=D("0.0052")
).exit_ratio


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


@pytest.mark.parametrize(
    ("mode", "value", "equity", "contracts", "amount"),
    [
        pytest.param(
            SizingMode.FIXED_QUOTE, "100", "10000", None, "0.002", id="fixed-quote-divides-by-price"
        ),
        pytest.param(
            SizingMode.FIXED_QUOTE, "100", "1000", "7", "0.002", id="fixed-quote-ignores-equity-contracts"
        ),
        pytest.param(
            SizingMode.EQUITY_PCT, "2", "10000", None, "0.004", id="equity-pct-takes-a-share-of-equity"
        ),
        pytest.param(
            SizingMode.SIGNAL, "1.5", "10000", "0.004", "0.006", id="signal-multiplies-the-contracts"
        ),
    ],
)
def test_sizing_entry_amount(
    mode: SizingMode, value: str, equity: str, contracts: str | None, amount: str
) -> None:
    sizing = Sizing(mode, D(value))

    entry = sizing.entry(D("50000"), equity=D(equity), contracts=None if contracts is None else D(contracts))

    assert entry.amount == D(amount)


@pytest.mark.parametrize(
    ("mode", "equity", "contracts", "reason"),
    [
        *[
            pytest.param(SizingMode.EQUITY_PCT, equity, None, "equity", id=f"equity-pct-with-equity-{equity}")
            for equity in (None, D("0"), D("-5"))
        ],
        pytest.param(SizingMode.SIGNAL, D("10000"), None, "no contracts", id="signal-without-contracts"),
    ],
)
def test_sizing_entry_raises_without_what_the_rule_needs(
    mode: SizingMode, equity: Decimal | None, contracts: Decimal | None, reason: str
) -> None:
    sizing = Sizing(mode, D("2") if mode is SizingMode.EQUITY_PCT else D("1"))

    with pytest.raises(SizingError, match=reason):
        sizing.entry(D("50000"), equity=equity, contracts=contracts)


# --- pair_matches ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pairs", "symbol", "matches"),
    [
        pytest.param(None, "BTC/USDT", True, id="no-pair-list-takes-every-symbol"),
        pytest.param(["ETH/USDT", "BTC/USDT"], "BTC/USDT", True, id="a-listed-symbol"),
        pytest.param(["ETH/USDT"], "BTC/USDT", False, id="an-unlisted-symbol"),
        pytest.param([], "BTC/USDT", False, id="an-empty-list-takes-nothing"),
        pytest.param(["BTC/USDT"], "BTC/USDT:USDT", False, id="exact-unified-symbols-only"),
    ],
)
def test_pair_matches(pairs: list[str] | None, symbol: str, matches: bool) -> None:
    assert pair_matches(pairs, symbol) is matches


# --- plan_spot_order -------------------------------------------------------------------------------


def _market_order(side: OrderSide, amount: str, note: str) -> OrderPlan:
    return OrderPlan(
        side=side, type=OrderType.MARKET, amount=D(amount), reference_price=PRICE, sizing_note=note
    )


@pytest.mark.parametrize(
    ("signal", "position", "equity", "expected"),
    [
        pytest.param(
            _signal(BUY),
            "0",
            "10000",
            _market_order(OrderSide.BUY, "0.00103", "fixed 100 USDT"),
            id="buy-opens-a-long-with-a-rounded-market-order",
        ),
        *[
            pytest.param(
                _signal(action),
                "0.01523",
                None,
                _market_order(OrderSide.SELL, "0.01523", "the whole position 0.01523"),
                id=f"{action.value}-closes-the-full-position",
            )
            for action in (SELL, EXIT)
        ],
    ],
)
def test_plan_spot_order_builds_the_market_order(
    market: Market, signal: SpotSignal, position: str, equity: str | None, expected: OrderPlan
) -> None:
    plan = plan_spot_order(
        signal, FIXED_100, market, PRICE, D(position), None if equity is None else D(equity)
    )

    assert plan == expected
    assert plan.limit_price is None


# id, signal, sizing, price, position, equity -> side, amount
PLACED: list[tuple[str, SpotSignal, Sizing, str, str, str | None, OrderSide, str]] = [
    ("buy-long-adds-to-the-long", _signal(BUY, LONG), Sizing(SizingMode.EQUITY_PCT, D("2")), "50000", "0.01",
     "10000", OrderSide.BUY, "0.004"),
    ("buy-in-signal-mode-copies-the-contracts", _signal(BUY, contracts=D("0.0012345")),
     Sizing(SizingMode.SIGNAL, D("2")), str(PRICE), "0", "10000", OrderSide.BUY, "0.00246"),
    # No contracts: the signal sizing would fail for a BUY.
    ("sell-ignores-the-sizing-rule", _signal(SELL), Sizing(SizingMode.SIGNAL, D("1")), str(PRICE), "0.002",
     None, OrderSide.SELL, "0.002"),
    ("short-entry-sell-closes-the-long", _signal(SELL, SHORT), FIXED_100, str(PRICE), "0.002", None,
     OrderSide.SELL, "0.002"),
    # 0.007615 truncated to the step.
    ("sell-half-rounds-down-to-the-step", _signal(SELL, LONG, exit_ratio=HALF), FIXED_100, str(PRICE),
     "0.01523", None, OrderSide.SELL, "0.00761"),
    ("partial-exit-mirroring-the-strategy", _signal(SELL, LONG, exit_ratio=MIRRORED),
     FIXED_100, str(PRICE), "0.0152", None, OrderSide.SELL, "0.01"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("signal", "sizing", "price", "position", "equity", "side", "amount"),
    [pytest.param(*row[1:], id=row[0]) for row in PLACED],
)
def test_plan_spot_order_places(
    market: Market,
    signal: SpotSignal,
    sizing: Sizing,
    price: str,
    position: str,
    equity: str | None,
    side: OrderSide,
    amount: str,
) -> None:
    plan = plan_spot_order(
        signal, sizing, market, D(price), D(position), None if equity is None else D(equity)
    )

    assert isinstance(plan, OrderPlan)
    assert plan.side is side
    assert plan.amount == D(amount)


# id, signal, sizing, position, equity -> what the reason names
SKIPPED: list[tuple[str, SpotSignal, Sizing, str, str | None, list[str]]] = [
    ("buy-that-closes-a-short", _signal(BUY, FLAT), FIXED_100, "0", "10000", ["short"]),
    ("buy-that-only-reduces-a-short", _signal(BUY, SHORT), FIXED_100, "0", "10000", []),
    ("buy-in-equity-mode-with-unknown-equity", _signal(BUY), Sizing(SizingMode.EQUITY_PCT, D("2")), "0", None,
     ["equity"]),
    ("buy-in-signal-mode-without-contracts", _signal(BUY), Sizing(SizingMode.SIGNAL, D("1")), "0", "10000",
     ["contracts"]),
    ("buy-below-the-minimum-notional", _signal(BUY), Sizing(SizingMode.FIXED_QUOTE, D("4.9")), "0", "10000",
     ["minimum notional"]),
    ("buy-too-small-for-one-step", _signal(BUY), Sizing(SizingMode.FIXED_QUOTE, D("0.5")), "0", "10000",
     ["step"]),
    *[
        (f"{action.value}-without-a-position-{position}", _signal(action), FIXED_100, position, None,
         ["no open long position", "BTC/USDT"])
        for action in (SELL, EXIT)
        for position in ("0", "-0.001")
    ],
    ("sell-of-a-dust-position", _signal(EXIT), FIXED_100, "0.00005", None, ["minimum notional"]),
    ("partial-sell-that-falls-below-the-minimum-notional", _signal(SELL, LONG, exit_ratio=HALF), FIXED_100,
     "0.0001", None, ["minimum notional"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("signal", "sizing", "position", "equity", "reasons"),
    [pytest.param(*row[1:], id=row[0]) for row in SKIPPED],
)
def test_plan_spot_order_skips_with_the_reason(
    market: Market, signal: SpotSignal, sizing: Sizing, position: str, equity: str | None, reasons: list[str]
) -> None:
    plan = plan_spot_order(signal, sizing, market, PRICE, D(position), None if equity is None else D(equity))

    assert isinstance(plan, Skip)
    for reason in reasons:
        assert reason in plan.reason


# --- SignalIntent.exit_fraction --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "market_position", "prev", "size", "fraction"),
    [
        pytest.param(
            SignalAction.SELL,
            MarketPosition.LONG,
            D("0.0152"),
            D("0.0052"),
            D("0.0100") / D("0.0152"),
            id="sell-that-stays-long-is-the-share-sold",
        ),
        pytest.param(SignalAction.SELL, MarketPosition.LONG, D("2"), D("1"), D("0.5"), id="sell-to-half"),
        pytest.param(SignalAction.EXIT, MarketPosition.LONG, D("0.0152"), D("0.0052"), D(1), id="an-exit"),
        pytest.param(SignalAction.SELL, MarketPosition.FLAT, D("0.0152"), D("0"), D(1), id="sell-to-flat"),
        pytest.param(
            SignalAction.SELL, MarketPosition.SHORT, D("0.0152"), D("0.01"), D(1), id="sell-into-a-short"
        ),
        pytest.param(SignalAction.BUY, MarketPosition.LONG, D("0.0052"), D("0.0152"), D(1), id="a-buy"),
        # Without usable sizes.
        pytest.param(SignalAction.SELL, MarketPosition.LONG, None, D("0.0052"), D(1), id="no-previous-size"),
        pytest.param(SignalAction.SELL, MarketPosition.LONG, D("0.0152"), None, D(1), id="no-size"),
        pytest.param(
            SignalAction.SELL, MarketPosition.LONG, D("0"), D("0.0052"), D(1), id="previous-size-zero"
        ),
        pytest.param(
            SignalAction.SELL, MarketPosition.LONG, D("-1"), D("0.5"), D(1), id="previous-size-negative"
        ),
        # The remaining share is not strictly between zero and one.
        *[
            pytest.param(
                SignalAction.SELL, MarketPosition.LONG, D("0.0152"), size, D(1), id=f"remaining-{size}"
            )
            for size in (D("0.0152"), D("0.02"), D("0"))
        ],
    ],
)
def test_exit_fraction(
    action: SignalAction,
    market_position: MarketPosition,
    prev: Decimal | None,
    size: Decimal | None,
    fraction: Decimal,
) -> None:
    intent = _intent(
        action, market_position=market_position, prev_market_position_size=prev, market_position_size=size
    )

    assert intent.exit_fraction == fraction
