"""Sign-in sessions and refresh tokens (`tradewire.ports.signin.SignInStore`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, delete, exists, insert, or_, select, update

from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.tables import refresh_tokens, sign_in_sessions, users
from tradewire.domain.members import User
from tradewire.domain.signin import RefreshState, RefreshUse


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
            if row.revoked_at is not None:
                state = RefreshState.REVOKED
            elif row.used_at is not None:
                state = RefreshState.REUSED
            elif row.expires_at <= now:
                state = RefreshState.EXPIRED
            else:
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
            _revoke_all(conn, user_id, now, reason)

    def session_user(self, user_id: int, session_id: str) -> User | None:
        query = (
            select(users.c.id, users.c.username, users.c.password_hash)
            .join(sign_in_sessions, sign_in_sessions.c.user_id == users.c.id)
            .where(
                and_(
                    users.c.id == user_id,
                    sign_in_sessions.c.id == session_id,
                    sign_in_sessions.c.revoked_at.is_(None),
                )
            )
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return User(row.id, row.username, row.password_hash) if row else None

    def change_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
            _revoke_all(conn, user_id, now, "password changed")


def _revoke_all(conn: Connection, user_id: int, now: datetime, reason: str) -> None:
    conn.execute(
        update(sign_in_sessions)
        .where(sign_in_sessions.c.user_id == user_id, sign_in_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
