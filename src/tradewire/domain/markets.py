"""Market definitions in ccxt's unified format, and rounding an order to what the market accepts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradewire.domain.money import MoneyError, quantize_down, quantize_nearest, to_decimal

TICK_SIZE = "tick_size"
DECIMAL_PLACES = "decimal_places"


class OrderRejected(ValueError):
    """An order that the market would refuse; it is never sent."""


@dataclass(frozen=True, slots=True)
class Market:
    """One tradable market: symbol, precision and limits (read from a ccxt market dict)."""

    symbol: str
    id: str
    base: str
    quote: str
    amount_step: Decimal
    price_step: Decimal
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    min_cost: Decimal | None = None
    spot: bool = True
    active: bool = True

    @classmethod
    def from_ccxt(cls, market: Mapping[str, Any], precision_mode: str = TICK_SIZE) -> Market:
        """Build from a ccxt market structure; precision is a tick size (ccxt 4) or decimal places."""
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}
        return cls(
            symbol=str(market["symbol"]),
            id=str(market.get("id") or market["symbol"]),
            base=str(market["base"]),
            quote=str(market["quote"]),
            amount_step=_step(precision.get("amount"), precision_mode),
            price_step=_step(precision.get("price"), precision_mode),
            min_amount=_optional((limits.get("amount") or {}).get("min")),
            max_amount=_optional((limits.get("amount") or {}).get("max")),
            min_cost=_optional((limits.get("cost") or {}).get("min")),
            spot=bool(market.get("spot", True)),
            active=market.get("active") is not False,
        )

    @property
    def min_sellable(self) -> Decimal:
        """The smallest amount an order can carry (one step, or the minimum amount if larger)."""
        return max(self.amount_step, self.min_amount or self.amount_step)

    def amount_to_precision(self, amount: Decimal) -> Decimal:
        """Truncate an amount to the market's step, as exchanges do."""
        return quantize_down(amount, self.amount_step)

    def price_to_precision(self, price: Decimal) -> Decimal:
        """Round a price to the market's tick."""
        return quantize_nearest(price, self.price_step)

    def prepare(self, amount: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
        """Round amount and price, then enforce minimum amount and minimum notional.

        `price` is the limit price, or the reference price for a market order. Raises OrderRejected
        with a message a user can act on.
        """
        if not self.active:
            raise OrderRejected(f"market {self.symbol} is not active")
        if price <= 0:
            raise OrderRejected(f"price must be positive, got {price}")
        try:
            rounded_price = self.price_to_precision(price)
            rounded = self.amount_to_precision(amount)
        except MoneyError as exc:  # a number no market trades (e.g. an absurd signal size)
            raise OrderRejected(f"{self.symbol}: {exc}") from None
        if rounded <= 0:
            raise OrderRejected(
                f"amount {amount} is below the {self.symbol} step of {self.amount_step} {self.base}"
            )
        if self.min_amount is not None and rounded < self.min_amount:
            raise OrderRejected(
                f"amount {rounded} {self.base} is below the minimum {self.min_amount} for {self.symbol}"
            )
        if self.max_amount is not None and rounded > self.max_amount:
            raise OrderRejected(
                f"amount {rounded} {self.base} is above the maximum {self.max_amount} for {self.symbol}"
            )
        cost = rounded * rounded_price
        if self.min_cost is not None and cost < self.min_cost:
            raise OrderRejected(
                f"order value {cost.normalize():f} {self.quote} is below the minimum notional "
                f"{self.min_cost} {self.quote} for {self.symbol}"
            )
        return rounded, rounded_price


def _step(value: Any, precision_mode: str) -> Decimal:
    if value is None:
        return Decimal("1e-8")
    number = to_decimal(value)
    if precision_mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(number))
    if number <= 0:
        raise MoneyError(f"precision must be positive: {value!r}")
    return number


def _optional(value: Any) -> Decimal | None:
    return None if value is None else to_decimal(value)


def symbol_quote(symbol: str) -> str | None:
    """The quote currency a unified symbol names ('BTC/EUR' -> 'EUR', 'BTC/USDT:USDT' -> 'USDT');
    None for a name that is not BASE/QUOTE."""
    base, slash, rest = symbol.partition("/")
    quote = rest.partition(":")[0]
    return quote if base and slash and quote else None
