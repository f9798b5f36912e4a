"""The twin's outbox: events written with the change they report (the same domain builders as the
SQL store, numbered per user as it numbers them), announced after the change, and read back."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

from tests.fakes.memory_store.tables import Tables
from tradewire.adapters.store.events import announce
from tradewire.domain.events import Event, StoredEvent
from tradewire.domain.risk_alerts import BreakerOpening, breaker_alert
from tradewire.ports.events import EventNotifier


class EventsTwin:
    """Transactions with an outbox, and the outbox's reads (ports/events.EventLog)."""

    tables: Tables
    notifier: EventNotifier | None = None

    @contextmanager
    def _with_events(self, now: datetime) -> Iterator[list[Event]]:
        """A transaction whose events (appended to the yielded list) are written last in it and
        announced after it."""
        made: list[Event] = []
        with self.tables.transaction():
            yield made
            last_ids = self.tables.save_events(made, now)
        announce(self.notifier, last_ids)

    def events_after(self, cursors: Mapping[int, int], limit: int) -> list[StoredEvent]:
        found = sorted(
            (e for e in self.tables.events if e["user_id"] in cursors and e["id"] > cursors[e["user_id"]]),
            key=lambda e: (e["user_id"], e["id"]),
        )
        return [
            StoredEvent(
                e["user_id"], e["id"], e["topic"], e["type"], e["ts"].astimezone(UTC).isoformat(), e["data"]
            )
            for e in found[:limit]
        ]

    def last_event_ids(self, user_ids: Collection[int]) -> dict[int, int]:
        return {u: self.tables.event_seq[u] for u in set(user_ids) if u in self.tables.event_seq}

    def prune_events(self, before: datetime, limit: int) -> int:
        old = sorted((e for e in self.tables.events if e["ts"] < before), key=lambda e: e["ts"])[:limit]
        gone = {(e["user_id"], e["id"]) for e in old}
        self.tables.events = [e for e in self.tables.events if (e["user_id"], e["id"]) not in gone]
        return len(gone)

    def breaker_opened(self, opening: BreakerOpening, now: datetime) -> bool:
        account = self.tables["exchange_accounts"].get(opening.account_id)
        if account is None:
            return False
        with self._with_events(now) as made:
            made.extend(self.tables.alert_events([breaker_alert(account["user_id"], opening)], now))
        return bool(made)
