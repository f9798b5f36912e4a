"""`tradewire.ports.signin.SignInStore` and `tradewire.ports.two_factor.TwoFactorStore` in memory (dicts,
no database), for the sign-in use cases' unit tests.

They keep the rules SqlSignIn and SqlTwoFactor keep (tests/integration/test_signin_store.py runs the
same assertions on both): session ids and token digests are unique and name a user that exists; a
refresh token is FRESH once (then REUSED), EXPIRED at its expiry time, REVOKED with its session; a
session is revoked once (the first reason stays); signing in drops the user's sessions that can never
be used again, with their tokens; a password change revokes every session together; failures
forgotten by now are dropped; a TOTP secret is replaced only while unconfirmed, and its steps are
used in increasing order only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from tests.fakes.memory_members import MemoryMembers
from tests.fakes.memory_store import UniqueViolation
from tradewire.domain.members import User
from tradewire.domain.signin import Failures, RefreshState, RefreshUse, ThrottlePolicy, refresh_state
from tradewire.ports.two_factor import StoredTotp


class MissingRow(Exception):
    """A write naming a row that does not exist (the twin's foreign key error); nothing was written."""


@dataclass
class Session:
    user_id: int
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None


@dataclass
class RefreshToken:
    session_id: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass
class MemorySignIn:
    """Sessions, refresh tokens (by digest), failed sign-ins and known addresses; the users are
    `members`' (a password change writes there)."""

    members: MemoryMembers
    sessions: dict[str, Session] = field(default_factory=dict)
    tokens: dict[str, RefreshToken] = field(default_factory=dict)
    failures_: dict[str, Failures] = field(default_factory=dict)
    addresses: dict[tuple[int, str], datetime] = field(default_factory=dict)  # (user, address): last

    def _user(self, user_id: int) -> User:
        user = self.members.users.get(user_id)
        if user is None:
            raise MissingRow(f"no user {user_id}")
        return user

    def open_session(
        self, user_id: int, session_id: str, token_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        self._user(user_id)
        dead = {
            sid
            for sid, s in self.sessions.items()
            if s.user_id == user_id
            and (
                s.revoked_at is not None
                or not any(t.session_id == sid and t.expires_at > now for t in self.tokens.values())
            )
        }
        kept = {h: t for h, t in self.tokens.items() if t.session_id not in dead}
        if session_id in self.sessions.keys() - dead or token_hash in kept:
            raise UniqueViolation(f"session {session_id} or its token exists")
        for sid in dead:
            del self.sessions[sid]
        self.tokens = kept
        self.sessions[session_id] = Session(user_id, now)
        self.tokens[token_hash] = RefreshToken(session_id, now, expires_at)

    def use_refresh_token(self, token_hash: str, now: datetime) -> RefreshUse | None:
        token = self.tokens.get(token_hash)
        if token is None:
            return None
        session = self.sessions[token.session_id]
        state = refresh_state(session.revoked_at, token.used_at, token.expires_at, now)
        if state is RefreshState.FRESH:
            token.used_at = now
        return RefreshUse(session.user_id, token.session_id, state)

    def add_refresh_token(
        self, session_id: str, token_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        if session_id not in self.sessions:
            raise MissingRow(f"no session {session_id}")
        if token_hash in self.tokens:
            raise UniqueViolation("this refresh token exists")
        self.tokens[token_hash] = RefreshToken(session_id, now, expires_at)

    def revoke_session(self, session_id: str, now: datetime, reason: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None and session.revoked_at is None:
            session.revoked_at, session.revoked_reason = now, reason

    def revoke_sessions(self, user_id: int, now: datetime, reason: str) -> None:
        for session_id, session in self.sessions.items():
            if session.user_id == user_id:
                self.revoke_session(session_id, now, reason)

    def session_user(self, user_id: int, session_id: str) -> User | None:
        session = self.sessions.get(session_id)
        if session is None or session.user_id != user_id or session.revoked_at is not None:
            return None
        user = self.members.users.get(user_id)
        return None if user is None or user.disabled else user  # as SqlSignIn: a disabled user has none

    def live_sessions(self, session_ids: Sequence[str]) -> set[str]:
        return {sid for sid in session_ids if sid in self.sessions and self.sessions[sid].revoked_at is None}

    def change_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        user = self.members.users.get(user_id)
        if user is not None:
            self.members.users[user_id] = replace(user, password_hash=password_hash)
        self.revoke_sessions(user_id, now, "password changed")

    def failures(self, keys: Sequence[str]) -> dict[str, Failures]:
        return {key: self.failures_[key] for key in keys if key in self.failures_}

    def record_failure(self, keys: Sequence[str], now: datetime, policy: ThrottlePolicy) -> None:
        forgotten = now - timedelta(seconds=policy.lock_s)
        self.failures_ = {
            key: f
            for key, f in self.failures_.items()
            if not (f.last_at <= forgotten and f.blocked_until <= now)
        }
        for key in keys:
            self.failures_[key] = Failures.after(self.failures_.get(key), now, policy)

    def address_known(self, username: str, address: str, since: datetime) -> bool:
        user = self.members.user_by_name(username)
        if user is None:
            return False
        last = self.addresses.get((user.id, address))
        return last is not None and last >= since

    def remember_address(self, user_id: int, address: str, now: datetime) -> None:
        self._user(user_id)
        self.addresses[(user_id, address)] = now


@dataclass
class _Totp:
    secret_enc: str
    created_at: datetime
    confirmed_at: datetime | None = None
    last_step: int | None = None


@dataclass
class MemoryTwoFactor:
    """Each user's sealed TOTP secret (the users are `members`')."""

    members: MemoryMembers
    secrets: dict[int, _Totp] = field(default_factory=dict)

    def totp(self, user_id: int) -> StoredTotp | None:
        found = self.secrets.get(user_id)
        if found is None:
            return None
        return StoredTotp(found.secret_enc, found.confirmed_at is not None, found.last_step)

    def enrol_totp(self, user_id: int, secret_enc: str, now: datetime) -> None:
        if user_id not in self.members.users:
            raise MissingRow(f"no user {user_id}")
        current = self.secrets.get(user_id)
        if current is not None and current.confirmed_at is not None:
            raise UniqueViolation(f"user {user_id} has a confirmed secret")
        self.secrets[user_id] = _Totp(secret_enc, now)

    def confirm_totp(self, user_id: int, now: datetime) -> None:
        found = self.secrets.get(user_id)
        if found is not None:
            found.confirmed_at = now

    def use_totp_step(self, user_id: int, step: int) -> bool:
        found = self.secrets.get(user_id)
        if found is None or (found.last_step is not None and found.last_step >= step):
            return False
        found.last_step = step
        return True

    def remove_totp(self, user_id: int) -> None:
        self.secrets.pop(user_id, None)


class Sealer:
    """`SecretSealer` without a key: reversible, and bound to its context as the secrets box is."""

    def encrypt(self, plaintext: str, context: str) -> str:
        return f"{context}|{plaintext[::-1]}"

    def decrypt(self, token: str, context: str) -> str:
        bound, sealed = token.split("|", 1)
        if bound != context:
            raise ValueError("sealed for another context")
        return sealed[::-1]
