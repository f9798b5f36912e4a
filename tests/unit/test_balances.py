"""Valuing an account: every asset priced in one quote currency, the ones without a price named."""

from __future__ import annotations

from decimal import Decimal

from tradewire.domain.balances import AssetBalance, value_in

D = Decimal


def test_equity_is_the_quote_plus_every_priced_asset_and_names_what_could_not_be_valued() -> None:
    totals = {"USDT": D("1000"), "BTC": D("0.5"), "XYZ": D("7"), "ETH": D("0")}
    prices = {"BTC": D("60000"), "XYZ": None}

    valued = value_in("USDT", totals, prices, {"XYZ": "XYZ/USDT is not listed on binance"})

    assert valued.equity == D("31000")
    assert valued.values == {"USDT": D("1000"), "BTC": D("30000")}
    assert valued.unvalued == {"XYZ": "XYZ/USDT is not listed on binance"}  # ETH is zero: not listed


def test_an_asset_balance_fills_in_what_the_exchange_left_out() -> None:
    assert AssetBalance.of(D("2"), D("1"), None) == AssetBalance(D("2"), D("1"), D("3"))
    assert AssetBalance.of(None, None, D("5")) == AssetBalance(D("0"), D("0"), D("5"))
