"""What an account holds, valued: equity is the quote balance plus every other asset at its price (an
asset without a price counts nothing, empty balances are skipped); the smallest sellable amount comes
from the market, and is unknown when the market is not listed or cannot be loaded."""

from __future__ import annotations

from decimal import Decimal

from tests.fakes.memory_exchange import MemoryExchange
from tradewire.ports import ExchangeUnavailable
from tradewire.services.holdings import account_equity, min_sellable

D = Decimal


class NoMarkets(MemoryExchange):
    async def markets(self) -> dict:  # type: ignore[override]
        raise ExchangeUnavailable("binance markets: timed out")


async def test_equity_is_the_quote_plus_every_priced_asset_at_its_price() -> None:
    exchange = MemoryExchange(
        prices={"BTC/USDT": D(60000), "ETH/USDT": D(3000)},
        balance={"USDT": D("100.5"), "BTC": D("0.01"), "ETH": D(0), "DOGE": D(1000)},
    )

    assert await account_equity(exchange, "USDT") == D("700.5")  # DOGE has no price: counts nothing
    given = {"USDT": D(1), "BTC": D("0.001")}
    assert await account_equity(exchange, "USDT", given) == D(61)  # a balance read before is used as is


async def test_the_smallest_sellable_amount_is_the_market_s_or_unknown() -> None:
    exchange = MemoryExchange()

    assert await min_sellable(exchange, "BTC/USDT") == exchange.market_list["BTC/USDT"].min_sellable
    assert await min_sellable(exchange, "XRP/USDT") is None
    assert await min_sellable(NoMarkets(), "BTC/USDT") is None
