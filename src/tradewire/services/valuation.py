"""What an account and its positions are worth now, priced by the account's own venue.

A paper account is priced by the paper market; a live account by its exchange (the shared ticker
cache). A price that cannot be had is reported as missing, with the reason, never replaced by another
market's price.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tradewire.domain.balances import AssetBalance, Valuation, value_in
from tradewire.domain.members import AccountMode
from tradewire.ports import Clock, Exchange, ExchangeDirectory, ExchangeError, ExchangeUnavailable

log = logging.getLogger("tradewire.valuation")


@dataclass(frozen=True, slots=True)
class Mark:
    """The price an open position is marked at, where it came from, or why there is none."""

    price: Decimal | None
    source: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """An account's balance per asset and its equity in `valuation.quote`, as of `as_of`."""

    assets: dict[str, AssetBalance]
    valuation: Valuation
    as_of: datetime


class BalanceUnavailable(Exception):
    """The account's exchange could not be asked (`refused`: it answered with a refusal)."""

    def __init__(self, message: str, refused: bool = False, timed_out: bool = False) -> None:
        super().__init__(message)
        self.refused = refused
        self.timed_out = timed_out


MarkKey = tuple[int, str, str, str]  # account id, exchange, mode, symbol


@dataclass(slots=True, eq=False)
class Valuations:
    """Marks for positions and balances with equity, each from the account's own venue; live balances
    are cached for `balance_ttl_s` (a dashboard refreshing every second asks the exchange once)."""

    exchanges: ExchangeDirectory
    clock: Clock
    timeout_s: float
    balance_ttl_s: float = 5.0
    monotonic: Callable[[], float] = time.monotonic
    _balances: dict[tuple[int, str], tuple[float, AccountBalance]] = field(init=False, default_factory=dict)

    async def marks(self, keys: Iterable[MarkKey]) -> dict[MarkKey, Mark]:
        """One mark per (account, symbol), asked concurrently (a live exchange batches them into one
        fetch_tickers call) and bounded by the exchange timeout."""
        wanted = list(dict.fromkeys(keys))
        found = await asyncio.gather(*(self._mark(*key) for key in wanted))
        return dict(zip(wanted, found, strict=True))

    async def balance(self, account_id: int, exchange: str, mode: str, quote: str) -> AccountBalance:
        """The account's balance and equity in `quote`; raises BalanceUnavailable."""
        key = (account_id, quote)
        cached = self._balances.get(key)
        if mode != AccountMode.PAPER and cached and self.monotonic() - cached[0] < self.balance_ttl_s:
            return cached[1]
        try:
            venue = self.exchanges.for_account(account_id, exchange, mode)
            result = await asyncio.wait_for(self._balance(venue, quote), self.timeout_s)
        except TimeoutError as exc:
            raise BalanceUnavailable(
                f"{exchange} did not answer within {self.timeout_s:.0f} s", timed_out=True
            ) from exc
        except ExchangeUnavailable as exc:
            raise BalanceUnavailable(f"{exchange} unreachable: {exc}") from exc
        except ExchangeError as exc:
            raise BalanceUnavailable(f"{exchange} refused: {exc}", refused=True) from exc
        if mode != AccountMode.PAPER:
            self._balances[key] = (self.monotonic(), result)
        return result

    async def _balance(self, venue: Exchange, quote: str) -> AccountBalance:
        detail = getattr(venue, "fetch_balance_detail", None)
        if detail is not None:
            assets: dict[str, AssetBalance] = dict(await detail())
        else:
            assets = {a: AssetBalance.of(None, None, t) for a, t in (await venue.fetch_balance()).items()}
        totals = {asset: b.total for asset, b in assets.items() if b.total != 0}
        others = [asset for asset in totals if asset != quote]
        prices = await asyncio.gather(*(_price(venue, f"{asset}/{quote}") for asset in others))
        why = {asset: p.error for asset, p in zip(others, prices, strict=True) if p.error}
        valuation = value_in(
            quote, totals, {asset: p.price for asset, p in zip(others, prices, strict=True)}, why
        )
        shown = {asset: b for asset, b in assets.items() if b.total != 0 or b.free != 0 or b.used != 0}
        return AccountBalance(shown, valuation, self.clock.now())

    async def _mark(self, account_id: int, exchange: str, mode: str, symbol: str) -> Mark:
        source = "paper" if mode == AccountMode.PAPER else exchange
        try:
            venue = self.exchanges.for_account(account_id, exchange, mode)
            found = await asyncio.wait_for(_price(venue, symbol), self.timeout_s)
        except TimeoutError:
            return Mark(None, source, f"{exchange} did not answer within {self.timeout_s:.0f} s")
        except (ExchangeUnavailable, ExchangeError) as exc:
            return Mark(None, source, f"no price from {exchange}: {exc}")
        return Mark(found.price, source, found.error)


@dataclass(frozen=True, slots=True)
class _Priced:
    price: Decimal | None
    error: str | None


async def _price(venue: Exchange, symbol: str) -> _Priced:
    """A price from the venue, or why it has none."""
    price = await venue.price(symbol)
    if price is not None and price > 0:
        return _Priced(price, None)
    explain = getattr(venue, "price_error", None)
    reason = explain(symbol) if explain is not None else None
    return _Priced(None, reason or f"no price for {symbol}")


def totals(assets: Mapping[str, AssetBalance]) -> dict[str, Decimal]:
    """Total per asset."""
    return {asset: b.total for asset, b in assets.items()}
