"""What the platform keeps of execution intents, one per signal and subscription (adapters/store)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tradewire.domain.records import Decisions, OrderRecord, Routing, SubscriptionTarget, WorkItem, WorkPage


class IntentStore(Protocol):
    """Intents from routing to decision: created for a signal's active subscriptions, read back with
    all a decision needs, and closed as rejected, failed or ordered (the order stored with them)."""

    def active_targets(self, strategy_id: int) -> list[SubscriptionTarget]: ...
    def create_intents(self, routing: Routing, now: datetime) -> None: ...
    def pending_work(
        self, signal_id: int | None = None, created_before: datetime | None = None, limit: int = 5000
    ) -> list[WorkItem]: ...
    def pending_work_page(
        self, signal_id: int | None = None, after_id: int = 0, limit: int = 5000
    ) -> WorkPage: ...
    def save_decisions(self, decisions: Decisions, now: datetime) -> list[OrderRecord]: ...
