"""Settlement: what an exchange's report means for our money. Pure decisions, no I/O.

A batch of reports is settled in three steps, each from what the one before says it needs:

1. `settle_orders` (orders.py): from each order as recorded (its state and fill totals, the trade ids
   seen) and what the exchange reported: the fills never counted before, the order's next state
   through the transition table and its next check (late-fill and lost-order re-checks included), the
   execution log entry and the intent's status.
2. `settle_positions` (positions.py): from the open positions those fills move: average entry,
   realised PnL, fees, dust closed with the sale's reason, DCA tranches ticked off, exit levels.
3. `realised_results` (results.py): what the positions it closed add to each account's day and each
   subscription's running total.

The store loads what each step names, calls it, and saves everything in one transaction.
"""

from tradewire.domain.settlement.orders import (
    Anomaly,
    FillTotals,
    IntentChange,
    LogEntry,
    NewFill,
    OrderChange,
    OrdersSettled,
    StoredOrder,
    settle_orders,
)
from tradewire.domain.settlement.positions import (
    Automation,
    ClosedResult,
    OpenPosition,
    PositionChange,
    PositionKey,
    PositionsSettled,
    settle_positions,
)
from tradewire.domain.settlement.results import RealisedResults, RunningTotal, realised_results

__all__ = [
    "Anomaly",
    "Automation",
    "ClosedResult",
    "FillTotals",
    "IntentChange",
    "LogEntry",
    "NewFill",
    "OpenPosition",
    "OrderChange",
    "OrdersSettled",
    "PositionChange",
    "PositionKey",
    "PositionsSettled",
    "RealisedResults",
    "RunningTotal",
    "StoredOrder",
    "realised_results",
    "settle_orders",
    "settle_positions",
]
