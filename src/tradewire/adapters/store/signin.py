"""Sign-in sessions, refresh tokens, failed sign-ins and known addresses
(`tradewire.ports.signin.SignInStore`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, Connection, Table, and_, delete, exists, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tradewire.adapters.store.bulk import chunks
from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.member_rows import user_of
from tradewire.adapters.store.signin_tables import (
    refresh_tokens,
    sign_in_addresses,
    sign_in_failures,
    sign_in_sessions,
)
from tradewire.adapters.store.tables import users
from tradewire.domain.members import User
from tradewire.domain.signin import Failures, RefreshState, RefreshUse, ThrottlePolicy, refresh_state


class SqlSignIn(SqlTables):
    """Sessions and their refresh tokens; a refresh token is only ever kept as its digest."""

    def open_session(
        self, user_id: int, session_id: str, token_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        live_token = exists().where(
            refresh_tokens.c.session_id == sign_in_sessions.c.id, refresh_tokens.c.expires_at > now
        )
        with write_transaction(self.engine) as conn:
            # The user's sessions that can never be used again go (and their tokens, by cascade).
            conn.execute(
                delete(sign_in_sessions).where(
                    sign_in_sessions.c.user_id == user_id,
                    or_(sign_in_sessions.c.revoked_at.is_not(None), ~live_token),
                )
            )
            conn.execute(insert(sign_in_sessions).values(id=session_id, user_id=user_id, created_at=now))
            conn.execute(
                insert(refresh_tokens).values(
                    token_hash=token_hash, session_id=session_id, issued_at=now, expires_at=expires_at
                )
            )

    def use_refresh_token(self, token_hash: str, now: datetime) -> RefreshUse | None:
        query = (
            select(
                sign_in_sessions.c.user_id,
                refresh_tokens.c.session_id,
                refresh_tokens.c.expires_at,
                refresh_tokens.c.used_at,
                sign_in_sessions.c.revoked_at,
            )
            .join(sign_in_sessions, sign_in_sessions.c.id == refresh_tokens.c.session_id)
            .where(refresh_tokens.c.token_hash == token_hash)
        )
        with write_transaction(self.engine) as conn:
            row = conn.execute(query).first()
            if row is None:
                return None
            state = refresh_state(row.revoked_at, row.used_at, row.expires_at, now)
            if state is RefreshState.FRESH:
                # Only one of two concurrent uses marks it; the other has used a used token.
                marked = conn.execute(
                    update(refresh_tokens)
                    .where(refresh_tokens.c.token_hash == token_hash, refresh_tokens.c.used_at.is_(None))
                    .values(used_at=now)
                )
                state = RefreshState.FRESH if marked.rowcount == 1 else RefreshState.REUSED
        return RefreshUse(int(row.user_id), str(row.session_id), state)

    def add_refresh_token(
        self, session_id: str, token_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(refresh_tokens).values(
                    token_hash=token_hash, session_id=session_id, issued_at=now, expires_at=expires_at
                )
            )

    def revoke_session(self, session_id: str, now: datetime, reason: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(sign_in_sessions)
                .where(sign_in_sessions.c.id == session_id, sign_in_sessions.c.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason=reason)
            )

    def revoke_sessions(self, user_id: int, now: datetime, reason: str) -> None:
        with write_transaction(self.engine) as conn:
            revoke_all(conn, user_id, now, reason)

    def session_user(self, user_id: int, session_id: str) -> User | None:
        query = (
            select(users)
            .join(sign_in_sessions, sign_in_sessions.c.user_id == users.c.id)
            .where(
                and_(
                    users.c.id == user_id,
                    sign_in_sessions.c.id == session_id,
                    sign_in_sessions.c.revoked_at.is_(None),
                    users.c.disabled_at.is_(None),  # disabling revokes the sessions too; both hold
                )
            )
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return user_of(row) if row else None

    def live_sessions(self, session_ids: Sequence[str]) -> set[str]:
        live: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(sorted(set(session_ids)), 900):
                rows = conn.execute(
                    select(sign_in_sessions.c.id).where(
                        sign_in_sessions.c.id.in_(chunk), sign_in_sessions.c.revoked_at.is_(None)
                    )
                )
                live.update(session_id for (session_id,) in rows)
        return live

    def change_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
            revoke_all(conn, user_id, now, "password changed")

    # -- failed sign-ins and known addresses ----------------------------------------------------------

    def failures(self, keys: Sequence[str]) -> dict[str, Failures]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(sign_in_failures).where(sign_in_failures.c.key.in_(list(keys))))
            return {row.key: _failures(row) for row in rows}

    def record_failure(self, keys: Sequence[str], now: datetime, policy: ThrottlePolicy) -> None:
        forgotten = now - timedelta(seconds=policy.lock_s)
        table = sign_in_failures
        with write_transaction(self.engine) as conn:
            conn.execute(
                delete(table).where(table.c.last_failure_at <= forgotten, table.c.blocked_until <= now)
            )
            current = conn.execute(select(table).where(table.c.key.in_(list(keys))).with_for_update())
            previous = {row.key: _failures(row) for row in current}
            for key in keys:
                record = Failures.after(previous.get(key), now, policy)
                values = {
                    "failures": record.count,
                    "last_failure_at": record.last_at,
                    "blocked_until": record.blocked_until,
                }
                _upsert(conn, table, {"key": key, **values}, [table.c.key], values)

    def address_known(self, username: str, address: str, since: datetime) -> bool:
        query = (
            select(sign_in_addresses.c.user_id)
            .join(users, users.c.id == sign_in_addresses.c.user_id)
            .where(
                users.c.username == username,
                sign_in_addresses.c.address == address,
                sign_in_addresses.c.last_success_at >= since,
            )
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def remember_address(self, user_id: int, address: str, now: datetime) -> None:
        table = sign_in_addresses
        values = {"user_id": user_id, "address": address, "last_success_at": now}
        with write_transaction(self.engine) as conn:
            _upsert(conn, table, values, [table.c.user_id, table.c.address], {"last_success_at": now})


def _upsert(
    conn: Connection,
    table: Table,
    values: dict[str, Any],
    key: list[Column[Any]],
    changes: dict[str, Any],
) -> None:
    """Insert `values`, or apply `changes` to the row with the same `key` (PostgreSQL and SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            postgresql.insert(table).values(values).on_conflict_do_update(index_elements=key, set_=changes)
        )
    else:
        conn.execute(
            sqlite.insert(table).values(values).on_conflict_do_update(index_elements=key, set_=changes)
        )


def _failures(row: object) -> Failures:
    return Failures(row.failures, row.last_failure_at, row.blocked_until)  # type: ignore[attr-defined]


def revoke_all(conn: Connection, user_id: int, now: datetime, reason: str) -> None:
    conn.execute(
        update(sign_in_sessions)
        .where(sign_in_sessions.c.user_id == user_id, sign_in_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
