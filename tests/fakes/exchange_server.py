"""The fake exchange's old import path, kept for branches written against it: the fake now lives in
the package :mod:`tests.fakes.exchange` (one module per venue over a shared book)."""

from tests.fakes.exchange import (
    DEFAULT_MARKETS,
    FEE_RATE,
    FLAVORS,
    FakeExchange,
    Flavor,
    MarketSpec,
    RequestRecord,
)

__all__ = ["DEFAULT_MARKETS", "FEE_RATE", "FLAVORS", "FakeExchange", "Flavor", "MarketSpec", "RequestRecord"]
