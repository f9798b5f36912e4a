"""What the audit log keeps (implemented in adapters/store/audit.py): entries are only ever appended,
one at a time on a single chain, and read back; there is no way to change or remove one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tradewire.domain.audit import Entry, Event, Head


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which entries to list, newest first: one user's trail (None: everyone's), of some actions, in a
    time range [since, until), below a sequence number (keyset paging), at most `limit`. A user's
    trail is what they did and what was done to their user (entries whose target is that user)."""

    user_id: int | None
    limit: int
    before_seq: int | None = None
    actions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


class AuditStore(Protocol):
    def append(self, event: Event) -> Entry:
        """Chain `event` after the current head and store it, in one transaction that holds the head
        locked: appends from every thread and process form one line."""

    def entries(self, query: AuditQuery) -> list[Entry]:
        """The entries `query` names, newest first."""

    def chain(self, upto: int | None = None, batch: int = 1000) -> Iterator[Entry]:
        """Every entry (up to sequence number `upto`), oldest first, read `batch` at a time: a long log
        is never held in memory."""

    def head(self) -> Head | None:
        """The chain head kept beside the entries (None when it is missing)."""

    def user_named(self, username: str) -> int | None:
        """The id of the user with this name, if any."""
