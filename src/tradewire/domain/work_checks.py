"""What the executor checks of a work item before it decides: numbers beyond storage, the equity an
entry was sized against, and the signal's age (pure)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tradewire.domain.money import MoneyError, describe, is_storable, storable
from tradewire.domain.records import WorkItem
from tradewire.domain.sizing import SizingMode


def beyond_storage(item: WorkItem) -> str | None:
    """Why a signal stored before its numbers were bounded (by an older version) cannot trade."""
    levels = {"stop loss": item.stop_loss, "take profit": item.take_profit}
    if item.sizing.mode is SizingMode.SIGNAL:
        levels["size (contracts)"] = item.contracts
    for name, value in levels.items():
        if value is not None and not is_storable(value):
            return f"the signal's {name} {describe(value)} is beyond what can be stored or traded"
    return None


def sizing_equity(value: Decimal) -> Decimal | None:
    """The equity an entry was sized against, if storage holds it (an absurd one stays in the note)."""
    try:
        return storable(value, "equity")
    except MoneyError:
        return None


def signal_age_s(item: WorkItem, now: datetime) -> float | None:
    """The signal's age for max_signal_age_s: now, or for a confirmed entry when it was proposed (the
    owner's time to answer is not the signal's staleness; the drift check guards the price since)."""
    if item.signal_at is None:
        return None
    at = item.proposed_at if item.confirmed and item.proposed_at is not None else now
    return (at - item.signal_at).total_seconds()
