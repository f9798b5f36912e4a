"""The audit log in SQL (`tradewire.ports.audit.AuditStore`): append under the locked chain head, list,
stream for verification. No method updates or deletes an entry, and the database refuses to
(triggers, migration 0028).

An append runs in one write transaction: read the head row FOR UPDATE (PostgreSQL: a second
appender, in this process or another, waits there until the first commits; SQLite: BEGIN IMMEDIATE
already gives one writer at a time), chain the event after it, insert the entry, move the head. Two
appends therefore never chain after the same head, and an entry and its head move commit together.
The head row is written by the first append (INSERT ... ON CONFLICT DO NOTHING, then locked like
any other time: concurrent first appends still form one line), so a new database holds no rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tradewire.adapters.store.audit_tables import audit_head, audit_log
from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.tables import users
from tradewire.domain.audit import EMPTY, USER_TARGET, Entry, Event, Head, chained
from tradewire.ports.audit import AuditQuery

HEAD_ID = 1


class SqlAudit(SqlTables):
    """The audit log's entries and its chain head."""

    def append(self, event: Event) -> Entry:
        with write_transaction(self.engine) as conn:
            locked = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == HEAD_ID)
            row = conn.execute(locked.with_for_update()).first()
            if row is None:
                row = _first_head(conn, locked)
            entry = chained(event, Head(int(row.seq), str(row.hash)))
            conn.execute(insert(audit_log).values(**_values(entry)))
            conn.execute(
                update(audit_head).where(audit_head.c.id == HEAD_ID).values(seq=entry.seq, hash=entry.hash)
            )
        return entry

    def entries(self, query: AuditQuery) -> list[Entry]:
        statement = select(audit_log).order_by(audit_log.c.seq.desc()).limit(query.limit)
        if query.user_id is not None:
            about = and_(audit_log.c.target_type == USER_TARGET, audit_log.c.target_id == query.user_id)
            statement = statement.where(or_(audit_log.c.user_id == query.user_id, about))
        if query.before_seq is not None:
            statement = statement.where(audit_log.c.seq < query.before_seq)
        if query.actions:
            statement = statement.where(audit_log.c.action.in_(query.actions))
        if query.since is not None:
            statement = statement.where(audit_log.c.at >= query.since)
        if query.until is not None:
            statement = statement.where(audit_log.c.at < query.until)
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(statement)]

    def chain(self, upto: int | None = None, batch: int = 1000) -> Iterator[Entry]:
        after = 0
        while True:
            statement = select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq)
            statement = statement.limit(batch)
            if upto is not None:
                statement = statement.where(audit_log.c.seq <= upto)
            with self.engine.connect() as conn:
                rows = [_entry(row) for row in conn.execute(statement)]
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].seq

    def head(self) -> Head | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(audit_head).where(audit_head.c.id == HEAD_ID)).first()
        return None if row is None else Head(int(row.seq), str(row.hash))

    def user_named(self, username: str) -> int | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(users.c.id).where(users.c.username == username)).scalar()
        return None if found is None else int(found)


def _first_head(conn: Connection, locked: Select[Any]) -> Row[Any]:
    """The head of an empty log, written now, or the one a concurrent first append wrote meanwhile
    (its insert wins; ours waits for its commit and does nothing). Refused when we wrote a genesis
    head but entries exist: the head was removed, and chaining on from nothing would hide that (the
    transaction, our head included, is rolled back)."""
    genesis = {"id": HEAD_ID, "seq": EMPTY.seq, "hash": EMPTY.hash}
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(audit_head).values(genesis).on_conflict_do_nothing())
    row = conn.execute(locked.with_for_update()).one()
    if row.seq == EMPTY.seq and conn.execute(select(audit_log.c.seq).limit(1)).first() is not None:
        raise RuntimeError("the audit log's chain head is missing: run `tradewire audit verify`")
    return row


def _values(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in Entry.__slots__}


def _entry(row: Row[Any]) -> Entry:
    values = row._mapping
    return Entry(**{name: values[name] for name in Entry.__slots__})
