"""The interfaces between the services and the outside world (implemented in adapters/).

One module per kind of thing: `exchange` (exchanges, market data, candles, time), `store` (what the
execution pipeline keeps) and `bus` (messages between the services). Everything is re-exported here.
"""

from tradewire.ports.bus import Bus, Handler
from tradewire.ports.exchange import (
    CandleSource,
    Clock,
    ErrorKind,
    Exchange,
    ExchangeDirectory,
    ExchangeError,
    ExchangeUnavailable,
    MarketData,
    OrderOutcomeUnknown,
    SymbolResolver,
)
from tradewire.ports.store import Store

__all__ = [
    "Bus",
    "CandleSource",
    "Clock",
    "ErrorKind",
    "Exchange",
    "ExchangeDirectory",
    "ExchangeError",
    "ExchangeUnavailable",
    "Handler",
    "MarketData",
    "OrderOutcomeUnknown",
    "Store",
    "SymbolResolver",
]
