"""An in-memory twin of the SQL store: the `Store` port on plain dicts, no database at all.

It decides nothing itself: settlement, client order ids, the order transition table, trading states
and the track record are the domain's (domain/settlement, domain/client_ids, domain/orders,
domain/risk, domain/track_record), and rows are read and written with the SQL store's own row
builders, so the twin and SqlStore can only differ in how they find rows. tests/integration/
test_store_contract.py runs the same scenarios against both and holds them equal.

`MemoryMembers` seeds users, accounts, strategies and subscriptions with SqlMembers' signatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tests.fakes.memory_store.confirmations import ConfirmationsTwin
from tests.fakes.memory_store.events import EventsTwin
from tests.fakes.memory_store.held_exits import HeldExitsTwin
from tests.fakes.memory_store.orders import OrdersTwin
from tests.fakes.memory_store.positions import PositionsTwin
from tests.fakes.memory_store.signals import SignalsTwin
from tests.fakes.memory_store.tables import Row, Tables, UniqueViolation, read
from tradewire.domain.orders import LATE_FILL_CHECKS_S
from tradewire.ports.events import EventNotifier


class MemoryStore(EventsTwin, SignalsTwin, ConfirmationsTwin, OrdersTwin, PositionsTwin, HeldExitsTwin):
    """The execution pipeline's store in memory; every method is all or nothing, as one transaction,
    with the events it makes (announced to `notifier`), as SqlStore's."""

    def __init__(
        self,
        tables: Tables | None = None,
        late_fill_checks_s: Sequence[float] = LATE_FILL_CHECKS_S,
        notifier: EventNotifier | None = None,
    ) -> None:
        self.tables = tables or Tables()
        self.late_fill_checks = tuple(late_fill_checks_s)
        self.notifier = notifier


class MemoryMembers:
    """The marketplace rows the pipeline reads (SqlMembers' seeding methods, on the twin's tables)."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables

    def create_user(self, username: str, password_hash: str, now: datetime, role: str = "provider") -> int:
        values = {"username": username, "password_hash": password_hash, "created_at": now, "role": role}
        return self.tables.insert_new("users", values)

    def create_account(self, values: dict[str, Any]) -> int:
        return self.tables.insert_new("exchange_accounts", values)

    def create_strategy(self, values: dict[str, Any]) -> int:
        return self.tables.insert_new("strategies", values)

    def create_subscription(self, values: dict[str, Any]) -> int:
        return self.tables.insert_new("subscriptions", values)

    def create_subscriptions(self, rows: Sequence[dict[str, Any]]) -> None:
        with self.tables.transaction():
            for row in rows:
                self.tables.insert_new("subscriptions", row)

    def subscriptions(self, user_id: int) -> list[dict[str, Any]]:
        return [read(s) for s in self.tables.where("subscriptions", user_id=user_id)]

    def update_subscription(self, user_id: int, subscription_id: int, values: dict[str, Any]) -> None:
        row = self.tables["subscriptions"][subscription_id]
        assert row["user_id"] == user_id
        row.update(read(values))


__all__ = ["MemoryMembers", "MemoryStore", "Row", "Tables", "UniqueViolation"]
