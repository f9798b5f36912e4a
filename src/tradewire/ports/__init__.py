"""The interfaces between the services and the outside world (implemented in adapters/).

One module per kind of thing: `exchange` (exchanges, market data, candles, time), `members` (the
marketplace's users, accounts, strategies, subscriptions), `reports` (what owners read of their
trading), `bus` (messages between the services), `events` (the live channel's outbox), `archive`
(candle history on this server), `secrets` (checking a secret against its hash), and what the
execution pipeline keeps: `signals`, `intents`, `orders`, `positions` (with the risk reads), all of
them together in `store`. Everything is re-exported here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradewire.ports.archive import CandleArchive
    from tradewire.ports.bus import Bus, Handler, RunningBus
    from tradewire.ports.events import EventLog, EventNotifier
    from tradewire.ports.exchange import (
        CandleSource,
        Clock,
        ErrorKind,
        Exchange,
        ExchangeDirectory,
        ExchangeError,
        ExchangeUnavailable,
        MarketData,
        OrderBatches,
        OrderOutcomeUnknown,
        SymbolResolver,
    )
    from tradewire.ports.intents import ConfirmationStore, IntentStore
    from tradewire.ports.members import AccountGuards, Members, Passwords
    from tradewire.ports.orders import OrderStore
    from tradewire.ports.positions import PositionStore, RiskReads
    from tradewire.ports.reports import Reports
    from tradewire.ports.secrets import SecretCheck
    from tradewire.ports.signals import SignalStore
    from tradewire.ports.store import Store

# Imported when first asked for (PEP 562), so a command that needs one port (a backtest reads only
# the candle archive) does not import every store protocol and the domain types behind them.
_MODULE_OF = {
    "AccountGuards": "members",
    "Bus": "bus",
    "CandleArchive": "archive",
    "CandleSource": "exchange",
    "Clock": "exchange",
    "ConfirmationStore": "intents",
    "ErrorKind": "exchange",
    "EventLog": "events",
    "EventNotifier": "events",
    "Exchange": "exchange",
    "ExchangeDirectory": "exchange",
    "ExchangeError": "exchange",
    "ExchangeUnavailable": "exchange",
    "Handler": "bus",
    "IntentStore": "intents",
    "MarketData": "exchange",
    "Members": "members",
    "OrderBatches": "exchange",
    "OrderOutcomeUnknown": "exchange",
    "OrderStore": "orders",
    "Passwords": "members",
    "PositionStore": "positions",
    "Reports": "reports",
    "RiskReads": "positions",
    "RunningBus": "bus",
    "SecretCheck": "secrets",
    "SignalStore": "signals",
    "Store": "store",
    "SymbolResolver": "exchange",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'tradewire.ports' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tradewire.ports.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AccountGuards",
    "Bus",
    "CandleArchive",
    "CandleSource",
    "Clock",
    "ConfirmationStore",
    "ErrorKind",
    "EventLog",
    "EventNotifier",
    "Exchange",
    "ExchangeDirectory",
    "ExchangeError",
    "ExchangeUnavailable",
    "Handler",
    "IntentStore",
    "MarketData",
    "Members",
    "OrderBatches",
    "OrderOutcomeUnknown",
    "OrderStore",
    "Passwords",
    "PositionStore",
    "Reports",
    "RiskReads",
    "RunningBus",
    "SecretCheck",
    "SignalStore",
    "Store",
    "SymbolResolver",
]
