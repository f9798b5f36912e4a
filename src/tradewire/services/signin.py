"""Signing in and out: sessions with rotating refresh tokens, revoked on sign-out and password change;
failed sign-ins throttled per address and per account.

The access tokens themselves (short-lived JWTs naming their session) are the API's business
(api/auth.py); a request's token counts only while its session is alive (`session_user`).

Throttle: after a few failures from an address, or for an account (from anywhere), attempts wait
longer and longer, then are locked for a while (ThrottlePolicy), and are refused without checking the
password, right or wrong, until then. Unknown usernames are counted like real ones, so the answers do
not tell which exist. An account's lock does not apply at addresses its user signed in from before
(`known_for`): others' failures cannot lock a user out, and each lock ends on its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Collection
from dataclasses import KW_ONLY, dataclass, field, replace
from datetime import datetime, timedelta

from tradewire.domain.members import User
from tradewire.domain.signin import RefreshReused, RefreshState, SignInLocked, SignInRefused, ThrottlePolicy
from tradewire.ports import Clock, Passwords
from tradewire.ports.signin import SignInStore
from tradewire.services.members.logins import Logins
from tradewire.services.two_factor import TwoFactor

log = logging.getLogger("tradewire.signin")

WRONG_CREDENTIALS = "wrong username or password"
DISABLED = "this account is disabled: ask an admin"
CODE_NEEDED = "two-factor code needed: send it as otp with the username and password"
CODE_WRONG = "wrong or already used two-factor code"
REFRESH_REFUSED = "refresh token unknown, expired, used or revoked: sign in again"


@dataclass(frozen=True, slots=True)
class Opened:
    """A session just opened or refreshed: its id and its next refresh token (shown once)."""

    user: User
    session_id: str
    refresh_token: str
    refresh_expires_at: datetime


@dataclass(slots=True, eq=False)
class SignIn:
    """Opens, refreshes and closes sessions; `refresh_ttl` is how long an unused refresh token lives."""

    store: SignInStore
    logins: Logins
    passwords: Passwords
    clock: Clock
    _: KW_ONLY
    refresh_ttl: timedelta
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    two_factor: TwoFactor
    known_for: timedelta = timedelta(days=30)  # a successful sign-in's address is known this long

    async def sign_in(
        self, username: str, password: str, address: str | None, otp: str | None = None
    ) -> Opened:
        """A new session for these credentials (and, when the user has two-factor sign-in on, a code
        `otp`); SignInRefused otherwise (the same answer whether or not the username exists),
        SignInLocked while failures lock the address or the account. A wrong code counts as a failure;
        a missing one does not (the client learns that a code is needed)."""
        keys = _keys(username, address)
        await self._not_locked(username, address, keys)
        user = await self.logins.authenticate(username, password)
        if user is None:
            await self._failed(keys)
            raise SignInRefused(WRONG_CREDENTIALS)
        if await self.two_factor.required(user.id):
            if not otp:
                raise SignInRefused(CODE_NEEDED)
            if not await self.two_factor.check(user.id, otp):
                await self._failed(keys)
                raise SignInRefused(CODE_WRONG)
        if user.disabled:  # said only to whoever proved to be the user
            raise SignInRefused(DISABLED)
        return await asyncio.to_thread(self._signed_in, user, address)

    async def disable_two_factor(self, user: User, password: str, otp: str, address: str | None) -> None:
        """Switch two-factor sign-in off: the password and a code are needed, and either wrong counts
        as a failed sign-in (SignInRefused)."""
        keys = _keys(user.username, address)
        await self._not_locked(user.username, address, keys)
        ok = await asyncio.to_thread(self.passwords.verify, password, user.password_hash)
        if not ok or not await self.two_factor.check(user.id, otp):
            await self._failed(keys)
            raise SignInRefused("wrong password or code")
        await self.two_factor.remove(user.id)
        log.info("user %s switched two-factor sign-in off", user.id)

    async def _failed(self, keys: list[str]) -> None:
        await asyncio.to_thread(self.store.record_failure, keys, self.clock.now(), self.throttle)

    def _signed_in(self, user: User, address: str | None) -> Opened:
        # Failures are not forgotten on success: an account's lock keeps holding off whoever caused
        # it, while its user, at a known address, is not held by it.
        self.store.remember_address(user.id, _address(address), self.clock.now())
        return self.open_session(user)

    async def _not_locked(self, username: str, address: str | None, keys: list[str]) -> None:
        def wait_s() -> int:
            now = self.clock.now()
            by_key = self.store.failures(keys)
            known = self.store.address_known(username, _address(address), now - self.known_for)
            waits = [f.wait_s(now) for key, f in by_key.items() if not (known and key == keys[1])]
            return max(waits, default=0)

        wait = await asyncio.to_thread(wait_s)
        if wait > 0:
            raise SignInLocked(wait)

    def open_session(self, user: User) -> Opened:
        """A new session for `user`, who has proved who they are (blocking: the store is called)."""
        now = self.clock.now()
        session_id = secrets.token_hex(16)
        token = _new_token()
        expires_at = now + self.refresh_ttl
        self.store.open_session(user.id, session_id, _digest(token), now, expires_at)
        return Opened(user, session_id, token, expires_at)

    async def refresh(self, refresh_token: str) -> Opened:
        """The session's next refresh token for this one, which is used up. A token used before
        revokes its whole session (someone holds a copy)."""
        now = self.clock.now()
        use = await asyncio.to_thread(self.store.use_refresh_token, _digest(refresh_token), now)
        if use is None or use.state is not RefreshState.FRESH:
            if use is not None and use.state is RefreshState.REUSED:
                log.warning("refresh token used twice: session of user %s revoked", use.user_id)
                await asyncio.to_thread(
                    self.store.revoke_session, use.session_id, now, "refresh token reused"
                )
                raise RefreshReused(REFRESH_REFUSED, use.user_id)
            raise SignInRefused(REFRESH_REFUSED)
        user = await self.logins.user(use.user_id)
        if user is None or user.disabled:
            raise SignInRefused(REFRESH_REFUSED)
        token = _new_token()
        expires_at = now + self.refresh_ttl
        await asyncio.to_thread(self.store.add_refresh_token, use.session_id, _digest(token), now, expires_at)
        return Opened(user, use.session_id, token, expires_at)

    async def sign_out(self, session_id: str) -> None:
        await asyncio.to_thread(self.store.revoke_session, session_id, self.clock.now(), "signed out")

    async def change_password(
        self, user: User, old_password: str, new_password: str, address: str | None
    ) -> Opened:
        """Set a new password (the current one must be right, and counts as a sign-in failure when
        wrong); every session of the user ends, and a new one is opened for the caller. Invalid when
        the new password breaks the policy."""
        keys = _keys(user.username, address)
        await self._not_locked(user.username, address, keys)
        ok = await asyncio.to_thread(self.passwords.verify, old_password, user.password_hash)
        if not ok:
            await self._failed(keys)
            raise SignInRefused("the current password is wrong")
        await self.logins.check_password(new_password, user.username)
        new_hash = await asyncio.to_thread(self.passwords.hash, new_password)
        await asyncio.to_thread(self.store.change_password, user.id, new_hash, self.clock.now())
        log.info("user %s changed their password: every session revoked", user.id)
        changed = replace(user, password_hash=new_hash)
        return await asyncio.to_thread(self._signed_in, changed, address)

    async def session_user(self, user_id: int, session_id: str) -> User | None:
        """The user of a request's token, while the token's session is alive."""
        return await asyncio.to_thread(self.store.session_user, user_id, session_id)

    async def live_sessions(self, session_ids: Collection[str]) -> set[str]:
        """Those of `session_ids` still alive (not signed out, not revoked by a password change)."""
        if not session_ids:
            return set()
        return await asyncio.to_thread(self.store.live_sessions, sorted(session_ids))


def _address(address: str | None) -> str:
    return address or "?"


def _keys(username: str, address: str | None) -> list[str]:
    """The throttle's keys of an attempt: its address, then its account."""
    return [f"address:{_address(address)}", f"account:{username}"]


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    """Refresh tokens carry 256 random bits: a plain SHA-256 keeps them safe at rest."""
    return hashlib.sha256(token.encode()).hexdigest()
