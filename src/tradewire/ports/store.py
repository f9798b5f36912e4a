"""Everything the execution pipeline keeps, as one protocol for the wiring (adapters/store/sql.py).

The services ask for the narrow protocols they use: `SignalStore`, `IntentStore`, `OrderStore`,
`PositionStore` and `RiskReads`.
"""

from __future__ import annotations

from typing import Protocol

from tradewire.ports.events import RiskAlertLog
from tradewire.ports.intents import ConfirmationStore, IntentStore
from tradewire.ports.orders import OrderStore
from tradewire.ports.positions import PositionStore, RiskReads
from tradewire.ports.signals import SignalStore


class Store(
    SignalStore, IntentStore, ConfirmationStore, OrderStore, PositionStore, RiskReads, RiskAlertLog, Protocol
):
    """Persistence of the execution pipeline; every method is one transaction, safe to repeat."""
