"""What the platform keeps of execution intents, one per signal and subscription (adapters/store)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tradewire.domain.records import (
    Answer,
    Decisions,
    OrderRecord,
    Routing,
    SubscriptionTarget,
    WorkItem,
    WorkPage,
    WorkQuery,
)


class IntentStore(Protocol):
    """Intents from routing to decision: created for a signal's active subscriptions, read back with
    all a decision needs, and closed as rejected, failed or ordered (the order stored with them)."""

    def active_targets(self, strategy_id: int) -> list[SubscriptionTarget]: ...

    def create_intents(self, routing: Routing, now: datetime) -> None:
        """One intent per target (repeats are ignored), the signal marked routed and counted in its
        strategy's track record (at its own price, else `market_price`), atomically and once.

        A signal whose ticker no venue resolved is marked `status` 'unresolved' and not counted."""

    def pending_work(
        self, signal_id: int | None = None, created_before: datetime | None = None, limit: int = 5000
    ) -> list[WorkItem]:
        """Intents still in 'created', with their signal, subscription and account (readable ones)."""

    def pending_work_page(self, query: WorkQuery) -> WorkPage:
        """Up to `query.limit` intents in 'created' that `query` selects, in id order: the readable
        ones as WorkItems, and those whose rows cannot be read (so one bad row fails alone)."""

    def save_decisions(self, decisions: Decisions, now: datetime) -> list[OrderRecord]:
        """Reject intents with their reasons, count failed attempts (a final one marks the intent
        failed and logs it), propose entries that wait for a human, and store new orders (state
        NEW), in one transaction."""


class ConfirmationStore(Protocol):
    """The answers to entries proposed to their owner (confirm before trade), each a conditional
    update that exactly one caller wins."""

    def answer_proposal(self, user_id: int, intent_id: int, confirm: bool, who: str, now: datetime) -> Answer:
        """Confirm (back to 'created', `confirmed_at` = now) or decline ('rejected') the user's
        intent if it awaits and its deadline has not passed; otherwise change nothing (but end a
        proposal found past its deadline) and say the intent's status. NotFound: not theirs."""
        ...

    def expire_proposals(self, now: datetime, limit: int = 500) -> int:
        """Reject up to `limit` proposals past their deadline ("not confirmed within N s"); returns
        how many."""
        ...
