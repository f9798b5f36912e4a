"""An API process hands what moves money to the workers (TRADEWIRE_ROLE=api).

Workers own execution: the paper books, the exchange clients' limits and the exit monitor live in
the worker that runs them. So an API process never sends an order. A manual close is stored first
(state NEW, under the position's own client order id) and then handed over on the bus. "Check this
account now" is handed over the same way. The worker's pipeline sends or checks what was handed over
(services/pipeline.py). The database is the truth: if the message is lost, the worker's sweep sends
stranded NEW orders and checks due ones all the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tradewire.domain.positions import CloseReason
from tradewire.domain.records import AutoOrder, OrderRecord, WatchedPosition
from tradewire.ports import Bus, Clock

log = logging.getLogger("tradewire.handover")

ORDERS_SAVED = "orders.saved"  # {"order_ids": [...]}: NEW orders stored by another process, to send
ACCOUNT_SYNC = "account.sync"  # {"account_id": N}: check the account's unsettled orders now


class ExitOrders(Protocol):
    def save_auto_orders(self, exits: Sequence[AutoOrder], now: datetime) -> list[OrderRecord]: ...


class UnsettledOrders(Protocol):
    def unsettled_orders(self, account_id: int | None = None) -> list[OrderRecord]: ...


@dataclass(slots=True, eq=False)
class HandedCloser:
    """Closes a position from an API process: the exit is stored, a worker sends it."""

    store: ExitOrders
    bus: Bus
    clock: Clock

    async def close(self, position: WatchedPosition, reason: CloseReason, note: str) -> int:
        """0 when an exit of the position is already in flight (the store allows one at a time)."""
        exit_order = AutoOrder.for_position(position, position.amount, reason, note)
        records = await asyncio.to_thread(self.store.save_auto_orders, [exit_order], self.clock.now())
        if records:
            log.info("position %s: %s (%s), handed to the workers", position.position_id, reason.value, note)
            await self.bus.publish(ORDERS_SAVED, {"order_ids": [r.order_id for r in records]})
        return len(records)


@dataclass(slots=True, eq=False)
class HandedSync:
    """ "Sync now" from an API process: a worker checks the account's unsettled orders."""

    store: UnsettledOrders
    bus: Bus

    async def sync_account(self, account_id: int) -> int:
        """How many orders the worker is asked to check."""
        unsettled = await asyncio.to_thread(self.store.unsettled_orders, account_id)
        await self.bus.publish(ACCOUNT_SYNC, {"account_id": account_id})
        return len(unsettled)
