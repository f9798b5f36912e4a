"""The live channel's outbox, as its readers and writers see it (adapters/store/events.py)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from tradewire.domain.events import StoredEvent
from tradewire.domain.risk_alerts import BreakerOpening


class EventLog(Protocol):
    """Each user's events in number order, as committed (the database is the truth of the stream)."""

    def events_after(self, cursors: Mapping[int, int], limit: int) -> list[StoredEvent]:
        """Events of the users in `cursors` numbered above each one's cursor, by user then number, at
        most `limit` in all (the first users' first)."""

    def last_event_ids(self, user_ids: Collection[int]) -> dict[int, int]:
        """Each user's last event number (a user without events: absent)."""

    def prune_events(self, before: datetime, limit: int) -> int:
        """Delete at most `limit` events older than `before`; how many were deleted."""


class EventNotifier(Protocol):
    """Told after a commit which users have new events: a hint that wakes delivery early (a missed
    one only delays it). Called from any thread; never raises into the writer."""

    def published(self, last_ids: Mapping[int, int], events: Sequence[StoredEvent] = ()) -> None:
        """Users with new events committed, each with their last event number; and, from a writer in
        this process, the committed events themselves (numbered as stored), which a reader may send
        without reading them back."""


class RiskAlertLog(Protocol):
    """Where risk alerts made outside a decision are written (adapters/store/risk_alerts.py)."""

    def breaker_opened(self, opening: BreakerOpening, now: datetime) -> bool:
        """Write, in a transaction of its own, the event of an account's circuit breaker opening for
        the account's owner; False when the account is gone or the opening, named by `opening.once`,
        was told already (another process sharing the breaker reported it)."""
