"""Resolving TradingView tickers to unified market symbols."""

from __future__ import annotations

import pytest

from tradewire.domain.symbols import SymbolCatalog, UnknownSymbol


@pytest.fixture
def catalog() -> SymbolCatalog:
    return SymbolCatalog.of(["BTC/USDT", "ETH/USDT", "BTC/USDT:USDT"], {"BTCUSDT": "BTC/USDT"})


@pytest.fixture
def spot_only() -> SymbolCatalog:
    return SymbolCatalog.of(["BTC/USDT", "ETH/USDT"])


@pytest.mark.parametrize(
    ("ticker", "expected"),
    [
        ("BTCUSDT", "BTC/USDT"),
        ("btcusdt", "BTC/USDT"),
        ("  BTCUSDT  ", "BTC/USDT"),
        ("BINANCE:BTCUSDT", "BTC/USDT"),
        ("binance:btcusdt", "BTC/USDT"),
        ("BTC/USDT", "BTC/USDT"),
        ("btc/usdt", "BTC/USDT"),
        ("BINANCE:BTC/USDT", "BTC/USDT"),
        ("BTC-USDT", "BTC/USDT"),
        ("BTC_USDT", "BTC/USDT"),
        ("ETHUSDT", "ETH/USDT"),
        ("BINANCE:ETHUSDT", "ETH/USDT"),
        ("BTC/USDT:USDT", "BTC/USDT:USDT"),
    ],
)
def test_resolve_accepts_every_spot_spelling(catalog: SymbolCatalog, ticker: str, expected: str) -> None:
    assert catalog.resolve(ticker) == expected


@pytest.mark.parametrize(
    "ticker",
    ["BTCUSDT.P", "btcusdt.p", "BINANCE:BTCUSDT.P", "BTCUSDT.PERP", "BTCUSDTPERP", "BTC-USDT.P"],
)
def test_resolve_maps_a_perpetual_ticker_to_the_perpetual_when_it_is_known(
    catalog: SymbolCatalog, ticker: str
) -> None:
    assert catalog.resolve(ticker) == "BTC/USDT:USDT"


def test_resolve_prefers_the_spot_market_for_a_plain_ticker_even_when_a_perpetual_exists() -> None:
    perp_first = SymbolCatalog.of(["BTC/USDT:USDT", "BTC/USDT"])

    assert perp_first.resolve("BTCUSDT") == "BTC/USDT"
    assert perp_first.resolve("BTCUSDT.P") == "BTC/USDT:USDT"


def test_resolve_falls_back_to_spot_for_a_perpetual_ticker_when_only_spot_is_known(
    spot_only: SymbolCatalog,
) -> None:
    assert spot_only.resolve("BTCUSDT.P") == "BTC/USDT"


def test_resolve_maps_an_eth_perpetual_ticker_to_eth_spot_when_the_eth_perpetual_is_unknown(
    catalog: SymbolCatalog,
) -> None:
    assert catalog.resolve("ETHUSDT.P") == "ETH/USDT"
    assert catalog.resolve("BINANCE:ETHUSDT.P") == "ETH/USDT"


def test_resolve_uses_exchange_ids_from_the_id_map() -> None:
    catalog = SymbolCatalog.of(["1000PEPE/USDT"], {"PEPE1000USDT": "1000PEPE/USDT"})

    assert catalog.resolve("PEPE1000USDT") == "1000PEPE/USDT"
    assert catalog.resolve("1000PEPEUSDT") == "1000PEPE/USDT"


@pytest.mark.parametrize("ticker", ["DOGEUSDT", "BINANCE:DOGEUSDT", "BTCEUR", "USDT", ".P", "BINANCE:"])
def test_resolve_rejects_an_unknown_ticker(catalog: SymbolCatalog, ticker: str) -> None:
    with pytest.raises(UnknownSymbol):
        catalog.resolve(ticker)


@pytest.mark.parametrize("ticker", ["", "   ", "\t"])
def test_resolve_rejects_an_empty_ticker(catalog: SymbolCatalog, ticker: str) -> None:
    with pytest.raises(UnknownSymbol, match="empty"):
        catalog.resolve(ticker)


def test_unknown_symbol_names_the_ticker() -> None:
    catalog = SymbolCatalog.of(["BTC/USDT"])

    with pytest.raises(UnknownSymbol, match="DOGEUSDT"):
        catalog.resolve("DOGEUSDT")


def test_unknown_symbol_is_a_value_error() -> None:
    assert issubclass(UnknownSymbol, ValueError)


@pytest.mark.parametrize("symbol", ["BTC/USDT", "ETH/USDT", "BTC/USDT:USDT"])
def test_in_is_true_for_known_unified_symbols(catalog: SymbolCatalog, symbol: str) -> None:
    assert symbol in catalog


@pytest.mark.parametrize("symbol", ["BTCUSDT", "DOGE/USDT", "ETH/USDT:USDT", "", None, 1])
def test_in_is_false_for_other_spellings_and_unknown_symbols(catalog: SymbolCatalog, symbol: object) -> None:
    assert symbol not in catalog


def test_a_resolution_refuses_only_when_every_venue_list_is_known() -> None:
    from tradewire.domain.symbols import Resolution

    known = Resolution(None, lacking=("paper", "binance"))
    waiting = Resolution(None, lacking=("paper",), unknown={"binance": "binance markets are not loaded yet"})

    assert known.refused and not waiting.refused
    assert known.explain("SUIUSDT") == "unknown symbol 'SUIUSDT': not listed on paper, binance"
    assert "binance markets are not loaded yet" in waiting.explain("SUIUSDT")
    assert not Resolution("SUI/USDT", listed_on=("binance",), lacking=("paper",)).refused
