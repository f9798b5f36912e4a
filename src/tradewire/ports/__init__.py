"""The interfaces between the services and the outside world (implemented in adapters/).

One module per kind of thing: `exchange` (exchanges, market data, candles, time), `members` (the
marketplace's users, accounts, strategies, subscriptions), `reports` (what owners read of their
trading), `bus` (messages between the services), `archive` (candle history on this server),
`secrets` (checking a secret against its hash), and what the execution pipeline keeps: `signals`,
`intents`, `orders`, `positions` (with the risk reads), all of them together in `store`. Everything
is re-exported here.
"""

from tradewire.ports.archive import CandleArchive
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
from tradewire.ports.intents import IntentStore
from tradewire.ports.members import AccountGuards, Members, Passwords
from tradewire.ports.orders import OrderStore
from tradewire.ports.positions import PositionStore, RiskReads
from tradewire.ports.reports import Reports
from tradewire.ports.secrets import SecretCheck
from tradewire.ports.signals import SignalStore
from tradewire.ports.store import Store

__all__ = [
    "AccountGuards",
    "Bus",
    "CandleArchive",
    "CandleSource",
    "Clock",
    "ErrorKind",
    "Exchange",
    "ExchangeDirectory",
    "ExchangeError",
    "ExchangeUnavailable",
    "Handler",
    "IntentStore",
    "MarketData",
    "Members",
    "OrderOutcomeUnknown",
    "OrderStore",
    "Passwords",
    "PositionStore",
    "Reports",
    "RiskReads",
    "SecretCheck",
    "SignalStore",
    "Store",
    "SymbolResolver",
]
