"""An account's balance per asset and its value in one quote currency."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class AssetBalance:
    """One asset of an account: free to trade, used (held by open orders), and their total."""

    free: Decimal
    used: Decimal
    total: Decimal

    @classmethod
    def of(cls, free: Decimal | None, used: Decimal | None, total: Decimal | None) -> AssetBalance:
        """Fill in what an exchange left out (some report only totals, some only free and used)."""
        free_, used_ = free or ZERO, used or ZERO
        return cls(free_, used_, total if total is not None else free_ + used_)


@dataclass(frozen=True, slots=True)
class Valuation:
    """Equity in `quote`: the quote asset plus every other asset at its price; assets that could not
    be priced are listed with the reason and left out (so equity is then a lower bound)."""

    quote: str
    equity: Decimal
    values: dict[str, Decimal]  # asset -> value in quote
    unvalued: dict[str, str]  # asset -> why it has no value


def value_in(
    quote: str, totals: Mapping[str, Decimal], prices: Mapping[str, Decimal | None], why: Mapping[str, str]
) -> Valuation:
    """Value every asset with a non-zero total; `prices` maps an asset to its price in `quote`."""
    values: dict[str, Decimal] = {}
    unvalued: dict[str, str] = {}
    for asset, amount in totals.items():
        if amount == 0:
            continue
        if asset == quote:
            values[asset] = amount
        elif (price := prices.get(asset)) is not None:
            values[asset] = amount * price
        else:
            unvalued[asset] = why.get(asset, f"no {asset}/{quote} price")
    return Valuation(quote, sum(values.values(), ZERO), values, unvalued)
