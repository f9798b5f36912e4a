"""Signing in and out: sessions with rotating refresh tokens, revoked on sign-out and password change.

The access tokens themselves (short-lived JWTs naming their session) are the API's business
(api/auth.py); a request's token counts only while its session is alive (`session_user`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tradewire.domain.members import User
from tradewire.domain.signin import RefreshState, SignInRefused
from tradewire.ports import Clock, Passwords
from tradewire.ports.signin import SignInStore
from tradewire.services.members.logins import Logins

log = logging.getLogger("tradewire.signin")

WRONG_CREDENTIALS = "wrong username or password"


@dataclass(frozen=True, slots=True)
class Opened:
    """A session just opened or refreshed: its id and its next refresh token (shown once)."""

    user: User
    session_id: str
    refresh_token: str
    refresh_expires_at: datetime


class SignIn:
    """Opens, refreshes and closes sessions; `refresh_ttl` is how long an unused refresh token lives."""

    def __init__(
        self,
        store: SignInStore,
        logins: Logins,
        passwords: Passwords,
        clock: Clock,
        *,
        refresh_ttl: timedelta,
    ) -> None:
        self._store = store
        self._logins = logins
        self._passwords = passwords
        self.clock = clock
        self._refresh_ttl = refresh_ttl

    async def sign_in(self, username: str, password: str) -> Opened:
        """A new session for these credentials; SignInRefused otherwise (the same answer whether or
        not the username exists)."""
        user = await self._logins.authenticate(username, password)
        if user is None:
            raise SignInRefused(WRONG_CREDENTIALS)
        return await asyncio.to_thread(self.open_session, user)

    def open_session(self, user: User) -> Opened:
        """A new session for `user`, who has proved who they are (blocking: the store is called)."""
        now = self.clock.now()
        session_id = secrets.token_hex(16)
        token = _new_token()
        expires_at = now + self._refresh_ttl
        self._store.open_session(user.id, session_id, _digest(token), now, expires_at)
        return Opened(user, session_id, token, expires_at)

    async def refresh(self, refresh_token: str) -> Opened:
        """The session's next refresh token for this one, which is used up. A token used before
        revokes its whole session (someone holds a copy)."""
        now = self.clock.now()
        use = await asyncio.to_thread(self._store.use_refresh_token, _digest(refresh_token), now)
        if use is None or use.state is not RefreshState.FRESH:
            if use is not None and use.state is RefreshState.REUSED:
                log.warning("refresh token used twice: session of user %s revoked", use.user_id)
                await asyncio.to_thread(
                    self._store.revoke_session, use.session_id, now, "refresh token reused"
                )
            raise SignInRefused("refresh token unknown, expired, used or revoked: sign in again")
        user = await self._logins.user(use.user_id)
        if user is None:
            raise SignInRefused("refresh token unknown, expired, used or revoked: sign in again")
        token = _new_token()
        expires_at = now + self._refresh_ttl
        await asyncio.to_thread(
            self._store.add_refresh_token, use.session_id, _digest(token), now, expires_at
        )
        return Opened(user, use.session_id, token, expires_at)

    async def sign_out(self, session_id: str) -> None:
        await asyncio.to_thread(self._store.revoke_session, session_id, self.clock.now(), "signed out")

    async def change_password(self, user: User, old_password: str, new_password: str) -> Opened:
        """Set a new password (the old one must be right); every session of the user ends, and a new
        one is opened for the caller."""
        ok = await asyncio.to_thread(self._passwords.verify, old_password, user.password_hash)
        if not ok:
            raise SignInRefused("the current password is wrong")
        new_hash = await asyncio.to_thread(self._passwords.hash, new_password)
        await asyncio.to_thread(self._store.change_password, user.id, new_hash, self.clock.now())
        log.info("user %s changed their password: every session revoked", user.id)
        changed = User(user.id, user.username, new_hash)
        return await asyncio.to_thread(self.open_session, changed)

    async def session_user(self, user_id: int, session_id: str) -> User | None:
        """The user of a request's token, while the token's session is alive."""
        return await asyncio.to_thread(self._store.session_user, user_id, session_id)


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    """Refresh tokens carry 256 random bits: a plain SHA-256 keeps them safe at rest."""
    return hashlib.sha256(token.encode()).hexdigest()
