"""What the platform keeps of orders and their fills (adapters/store/orders.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tradewire.domain.orders import OrderState
from tradewire.domain.partitions import Partitions
from tradewire.domain.records import OrderOutcome, OrderRecord


class OrderStore(Protocol):
    """Orders from claimed-for-sending to settled: which are due a look at the exchange, and what the
    exchange's reports mean, saved in one transaction (fills, positions, intents, the log)."""

    def claim_for_submission(self, order_ids: Sequence[int], now: datetime) -> set[int]: ...
    def postpone_checks(self, records: Sequence[OrderRecord], reason: str, now: datetime) -> None: ...
    def orders_in_states(
        self,
        states: Sequence[OrderState],
        created_before: datetime | None = None,
        partitions: Partitions | None = None,
    ) -> list[OrderRecord]: ...
    def unsettled_orders(self, account_id: int | None = None) -> list[OrderRecord]: ...
    def due_orders(
        self, now: datetime, limit: int = 1000, partitions: Partitions | None = None
    ) -> list[OrderRecord]: ...
    def orders_by_client_ids(self, account_id: int, client_order_ids: Sequence[str]) -> list[OrderRecord]: ...
    def record_outcomes(self, outcomes: Sequence[OrderOutcome], now: datetime) -> None: ...
