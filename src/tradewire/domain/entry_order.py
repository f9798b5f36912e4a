"""How a subscription enters a position: a market order, or a limit order at the alert's price or at
an offset from the market, withdrawn after a timeout if it has not filled."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewire.domain.markets import Market
from tradewire.domain.money import MoneyError, fmt, quantize_down, to_decimal
from tradewire.domain.orders import OrderSide, OrderType

# Offsets beyond this put a limit order so far from the market that it is a mistake, not a plan.
MAX_OFFSET_PCT = Decimal(50)
MAX_TIMEOUT_S = 30 * 86_400


class EntryKind(StrEnum):
    """Which order an entry becomes."""

    SIGNAL = "signal"  # as the alert says: a limit at its price when it asks for one, else market
    MARKET = "market"  # always a market order
    LIMIT_SIGNAL = "limit_signal"  # a limit order at the alert's price
    LIMIT_OFFSET = "limit_offset"  # a limit order offset_pct below (buy) or above (sell) the market


@dataclass(frozen=True, slots=True)
class LimitPrice:
    """The limit price an entry asks for, and how it was reached (for the execution log)."""

    price: Decimal
    note: str


@dataclass(frozen=True, slots=True)
class EntryOrder:
    """A subscription's entry order; `limit_order_timeout_s` None takes the platform's default."""

    kind: EntryKind = EntryKind.SIGNAL
    offset_pct: Decimal | None = None
    limit_order_timeout_s: int | None = None

    def __post_init__(self) -> None:
        if self.kind is EntryKind.LIMIT_OFFSET:
            if self.offset_pct is None:
                raise ValueError("limit_offset needs offset_pct")
        elif self.offset_pct is not None:
            raise ValueError(f"offset_pct is only for limit_offset, not {self.kind.value}")
        if self.offset_pct is not None and not 0 <= self.offset_pct < MAX_OFFSET_PCT:
            raise ValueError(f"offset_pct must be at least 0 and below {MAX_OFFSET_PCT}")
        timeout = self.limit_order_timeout_s
        if timeout is not None and not 0 <= timeout <= MAX_TIMEOUT_S:
            raise ValueError(f"limit_order_timeout_s must be between 0 and {MAX_TIMEOUT_S}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> EntryOrder:
        """From stored JSON; null is the default (as the alert says, the platform's timeout)."""
        if not data:
            return _DEFAULT  # most subscriptions: read for every pending intent, so built once
        unknown = sorted(set(data) - {"type", "offset_pct", "limit_order_timeout_s"})
        if unknown:
            raise ValueError(f"unknown entry order setting(s) {', '.join(unknown)}")
        offset = data.get("offset_pct")
        timeout = data.get("limit_order_timeout_s")
        return cls(
            kind=EntryKind(data.get("type") or EntryKind.SIGNAL.value),
            offset_pct=None if offset is None else to_decimal(offset),
            limit_order_timeout_s=None if timeout is None else int(timeout),
        )

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind.value}
        if self.offset_pct is not None:
            out["offset_pct"] = fmt(self.offset_pct)
        if self.limit_order_timeout_s is not None:
            out["limit_order_timeout_s"] = self.limit_order_timeout_s
        return out

    def limit_price(
        self,
        side: OrderSide,
        market_price: Decimal,
        signal_type: OrderType | None,
        signal_price: Decimal | None,
        market: Market,
    ) -> LimitPrice | str | None:
        """The limit price of this entry; None for a market order; a reason text if it cannot be had.

        Prices go to the market's tick on the safe side: a buy never bids above what was asked, a
        sell never offers below it.
        """
        kind = self.kind
        if kind is EntryKind.MARKET or (kind is EntryKind.SIGNAL and signal_type is not OrderType.LIMIT):
            return None
        if kind is EntryKind.LIMIT_OFFSET:
            assert self.offset_pct is not None
            sign = -1 if side is OrderSide.BUY else 1
            raw = market_price * (1 + sign * self.offset_pct / 100)
            where = "below" if side is OrderSide.BUY else "above"
            note = f"limit {fmt(self.offset_pct)}% {where} the market {fmt(market_price)}"
        else:
            if signal_price is None:
                return "a limit order at the alert's price needs a price in the alert"
            raw, note = signal_price, "limit at the alert's price"
        try:
            price = _to_tick(raw, market.price_step, side)
        except (ArithmeticError, MoneyError):  # beyond what exact arithmetic holds: no market trades there
            return f"limit price {raw:.6g} is out of range for {market.symbol}"
        if price <= 0:
            return f"limit price {fmt(raw)} is below the {market.symbol} tick of {fmt(market.price_step)}"
        return LimitPrice(price, f"{note}: {fmt(price)}")


_DEFAULT = EntryOrder()


def _to_tick(price: Decimal, tick: Decimal, side: OrderSide) -> Decimal:
    down = quantize_down(price, tick)
    if side is OrderSide.BUY or down == price:
        return down
    return down + tick
