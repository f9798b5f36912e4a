"""What the platform keeps of orders and their fills (adapters/store/orders.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tradewire.domain.partitions import Partitions
from tradewire.domain.records import OrderOutcome, OrderQuery, OrderRecord


class OrderStore(Protocol):
    """Orders from claimed-for-sending to settled: which are due a look at the exchange, and what the
    exchange's reports mean, saved in one transaction (fills, positions, intents, the log)."""

    def claim_for_submission(self, order_ids: Sequence[int], now: datetime) -> set[int]:
        """Move NEW orders to SUBMITTED before they are sent; returns the ids this caller claimed.

        The trading state is read in the same transaction: the most restrictive of the order's
        subscription's, the platform's and its owner's (a disabled owner: exits only). An order stored
        before a state forbade it (HALTED, or REDUCING for an entry) is not sent but rejected with the
        reason, and its intent fails, however long it waited (a crash, a restart, a busy executor).
        The platform's row is held shared meanwhile, so a halt being set waits for this claim."""

    def postpone_checks(self, records: Sequence[OrderRecord], reason: str, now: datetime) -> None:
        """Orders whose exchange report could not be recorded: checked again later, backing off as
        after any failed check, so they neither block the others nor are ever given up."""

    def orders_in_states(self, query: OrderQuery) -> list[OrderRecord]:
        """The orders `query` selects."""

    def unsettled_orders(self, account_id: int | None = None) -> list[OrderRecord]:
        """Every order not yet in a final state, and every final one still looked up a few times
        (canceled or expired: late fills; concluded lost: a late sighting), of one account or all."""

    def due_orders(
        self, now: datetime, limit: int = 1000, partitions: Partitions | None = None
    ) -> list[OrderRecord]:
        """Non-terminal orders whose next status check is due (of accounts in `partitions`, when
        given)."""

    def orders_by_client_ids(self, account_id: int, client_order_ids: Sequence[str]) -> list[OrderRecord]:
        """The account's orders with these client order ids."""

    def record_outcomes(self, outcomes: Sequence[OrderOutcome], now: datetime) -> None:
        """Apply what exchanges said: order states, new fills, positions, log and intents, atomically."""
