"""The execution pipeline's persistence: batched, transactional, idempotent.

`SqlStore` is every part of it on one engine (the `Store` protocol, for the wiring): signals
(signals.py), intents (intents.py) and their confirmations (confirmations.py), orders
(orders.py), positions (positions.py) and the risk reads
(risk.py). Every method is synchronous and runs one transaction (with the events it makes, in the
outbox: events.py); the services call them from a worker
thread. Unique keys make every write safe to repeat: (strategy, dedup key) for signals, (signal,
subscription) for intents, intent and client order id for orders, (order, trade id) for fills.
"""

from __future__ import annotations

from tradewire.adapters.store.confirmations import SqlConfirmations
from tradewire.adapters.store.held_exits import SqlHeldExits
from tradewire.adapters.store.intents import SqlIntents
from tradewire.adapters.store.orders import SqlOrders
from tradewire.adapters.store.positions import SqlPositions
from tradewire.adapters.store.risk import SqlRiskReads
from tradewire.adapters.store.risk_alerts import SqlRiskAlerts
from tradewire.adapters.store.signals import SqlSignals
from tradewire.adapters.store.track import pair_record, pair_row

__all__ = ["SqlStore", "pair_record", "pair_row"]


class SqlStore(
    SqlSignals,
    SqlIntents,
    SqlConfirmations,
    SqlOrders,
    SqlPositions,
    SqlHeldExits,
    SqlRiskReads,
    SqlRiskAlerts,
):
    """Signals, intents, orders, fills, positions and the execution log in one SQL database; made
    as SqlOrders is (engine, late_fill_checks_s, notifier), the one part with a setting of its own."""
