"""Map the tickers people type in TradingView to unified market symbols ('BTC/USDT')."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


class UnknownSymbol(ValueError):
    """No market we know matches the ticker."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """A ticker resolved against the market lists of several venues.

    `symbol` is set when a venue lists it. `listed_on` names those venues; `lacking` the venues whose
    loaded lists do not have it; `unknown` the venues whose list is not loaded (with why), which
    neither accept nor refuse.
    """

    symbol: str | None
    listed_on: tuple[str, ...] = ()
    lacking: tuple[str, ...] = ()
    unknown: dict[str, str] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        """No venue lists it, and every venue's list is known: the ticker is unknown for certain."""
        return self.symbol is None and not self.unknown

    def explain(self, ticker: str) -> str:
        """Why the ticker has no symbol, naming each venue."""
        parts = [f"not listed on {', '.join(self.lacking)}"] if self.lacking else []
        parts += [f"{venue}: {why}" for venue, why in self.unknown.items()]
        return f"unknown symbol {ticker!r}: {'; '.join(parts) or 'no market matches it'}"


@dataclass(frozen=True, slots=True)
class SymbolCatalog:
    """Known unified symbols, indexed by every spelling we accept for them."""

    by_key: dict[str, str]

    @classmethod
    def of(cls, symbols: Iterable[str], ids: dict[str, str] | None = None) -> SymbolCatalog:
        """Index unified symbols ('BTC/USDT', 'BTC/USDT:USDT') and exchange ids ('BTCUSDT')."""
        index: dict[str, str] = {}
        for symbol in symbols:
            base, _, rest = symbol.partition("/")
            quote, _, settle = rest.partition(":")
            for key in (symbol, f"{base}{quote}", f"{base}/{quote}", f"{base}-{quote}", f"{base}_{quote}"):
                # A spot market wins the plain spelling; a perpetual keeps its own ':SETTLE' spelling.
                if settle and key != symbol:
                    index.setdefault(_perp_key(key), symbol)
                else:
                    index.setdefault(key.upper(), symbol)
        for market_id, symbol in (ids or {}).items():
            index.setdefault(market_id.upper(), symbol)
        return cls(index)

    def resolve(self, ticker: str) -> str:
        """'BINANCE:BTCUSDT' → 'BTC/USDT'; 'BTCUSDT.P' → the perpetual if known, else the spot market."""
        raw = ticker.strip()
        if not raw:
            raise UnknownSymbol("ticker is empty")
        name = raw.split(":", 1)[1] if ":" in raw and "/" not in raw.split(":", 1)[0] else raw
        name = name.strip().upper()
        perpetual = False
        for suffix in (".P", ".PERP", "PERP"):
            if name.endswith(suffix) and len(name) > len(suffix):
                name, perpetual = name[: -len(suffix)], True
                break
        if perpetual and (found := self.by_key.get(_perp_key(name))):
            return found
        if found := self.by_key.get(name):
            return found
        raise UnknownSymbol(f"unknown symbol {ticker!r}: no market matches it")

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.by_key.values()


def _perp_key(key: str) -> str:
    return f"{key.upper()}#PERP"
