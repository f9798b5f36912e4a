"""`tradewire.ports.audit.AuditStore` in memory, for the audit trail's use case tests: the same chaining
(domain.audit.chained) under a lock, the same filters and order as the SQL store; held to the SQL
store's assertions in tests/integration/test_audit_log.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from tradewire.domain.audit import EMPTY, USER_TARGET, Entry, Event, Head, chained
from tradewire.ports.audit import AuditQuery


@dataclass
class MemoryAudit:
    user_id_of: Callable[[str], int | None] = lambda _name: None  # a username's id, if the user exists
    log: list[Entry] = field(default_factory=list)
    kept_head: Head | None = None  # written by the first append, as in SQL
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def append(self, event: Event) -> Entry:
        with self._lock:
            if self.kept_head is None:
                if self.log:
                    raise RuntimeError("the audit log's chain head is missing")
                self.kept_head = EMPTY
            entry = chained(event, self.kept_head)
            self.log.append(entry)
            self.kept_head = Head(entry.seq, entry.hash)
            return entry

    def entries(self, query: AuditQuery) -> list[Entry]:
        found = [
            e
            for e in reversed(self.log)
            if (query.user_id is None or query.user_id in (e.user_id, _about(e)))
            and (query.before_seq is None or e.seq < query.before_seq)
            and (not query.actions or e.action in query.actions)
            and (query.since is None or e.at >= query.since)
            and (query.until is None or e.at < query.until)
        ]
        return found[: query.limit]

    def chain(self, upto: int | None = None, batch: int = 1000) -> Iterator[Entry]:
        for entry in sorted(self.log, key=lambda e: e.seq):
            if upto is None or entry.seq <= upto:
                yield entry

    def head(self) -> Head | None:
        return self.kept_head

    def user_named(self, username: str) -> int | None:
        return self.user_id_of(username)


def _about(entry: Entry) -> int | None:
    """The user an entry is about (its target), if any."""
    return entry.target_id if entry.target_type == USER_TARGET else None
