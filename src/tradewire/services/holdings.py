"""What an exchange account holds, valued: equity for sizing and risk, and the smallest amount a
market sells (below it a position is dust). Used by execution, the exit monitor and reconciliation."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

from tradewire.domain.money import ZERO
from tradewire.ports import Exchange, ExchangeError, ExchangeUnavailable

log = logging.getLogger("tradewire.execution")


async def account_equity(
    exchange: Exchange, quote: str, balance: Mapping[str, Decimal] | None = None
) -> Decimal:
    """Account value in `quote`: the quote balance plus every other asset at its last price."""
    total = ZERO
    for asset, amount in (balance if balance is not None else await exchange.fetch_balance()).items():
        if amount == 0:
            continue
        if asset == quote:
            total += amount
        elif (price := await exchange.price(f"{asset}/{quote}")) is not None:
            total += amount * price
    return total


async def min_sellable(exchange: Exchange, symbol: str) -> Decimal | None:
    """The market's smallest order amount (a position left below it is dust), if the market is known."""
    try:
        market = (await exchange.markets()).get(symbol)
    except (ExchangeUnavailable, ExchangeError):
        return None
    except Exception:  # what it qualifies (an order's answer) must not be lost to it
        log.exception("markets unreadable: the smallest amount of %s unknown", symbol)
        return None
    return market.min_sellable if market else None
