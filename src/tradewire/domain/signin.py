"""Signing in, without I/O: sessions and their refresh tokens, the throttle on failed sign-ins, and
the password policy.

A session is what one sign-in opens. Its access tokens are short-lived and name the session; its
refresh token is used once, each use handing out the next one (rotation). A refresh token presented a
second time means it was copied: the whole session is revoked. Signing out revokes the session;
changing the password revokes every session of the user.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class RefreshState(StrEnum):
    """What a presented refresh token turned out to be."""

    FRESH = "fresh"  # unused, unexpired, its session alive: now marked used
    REUSED = "reused"  # already used once: someone holds a copy
    EXPIRED = "expired"
    REVOKED = "revoked"  # its session was signed out or revoked


def refresh_state(
    revoked_at: datetime | None, used_at: datetime | None, expires_at: datetime, now: datetime
) -> RefreshState:
    """What a presented refresh token is at `now`, from its session's end and its own use and expiry.
    FRESH means usable: the store then marks it used, and the loser of two uses at once is REUSED."""
    if revoked_at is not None:
        return RefreshState.REVOKED
    if used_at is not None:
        return RefreshState.REUSED
    if expires_at <= now:
        return RefreshState.EXPIRED
    return RefreshState.FRESH


@dataclass(frozen=True, slots=True)
class RefreshUse:
    """A refresh token found in the store and what it was."""

    user_id: int
    session_id: str
    state: RefreshState


class SignInRefused(Exception):
    """Credentials (or a refresh token) that open nothing; the message is safe to show."""


class RefreshReused(SignInRefused):
    """A refresh token used a second time: its session was revoked (someone holds a copy)."""

    def __init__(self, message: str, user_id: int) -> None:
        super().__init__(message)
        self.user_id = user_id


class SignInLocked(Exception):
    """Too many failed sign-ins from this address or for this account: nothing is checked until
    `retry_after_s` has passed (a right password is refused too)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins: locked, retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Failed sign-ins per address and per account: `free_failures` cost nothing, each further one
    makes the next attempt wait twice as long as the last (from `first_delay_s`), and the
    `lock_after`th locks for `lock_s`. Failures are forgotten `lock_s` after the last one, so every
    lock ends on its own."""

    free_failures: int = 3
    first_delay_s: float = 1.0
    lock_after: int = 10
    lock_s: float = 900.0

    def __post_init__(self) -> None:
        if not 0 <= self.free_failures < self.lock_after:
            raise ValueError("free_failures must be at least 0 and below lock_after")

    def delay_s(self, failures: int) -> float:
        """How long attempts wait after the `failures`th failure in a row."""
        if failures >= self.lock_after:
            return self.lock_s
        if failures <= self.free_failures:
            return 0.0
        return min(self.first_delay_s * 2.0 ** (failures - self.free_failures - 1), self.lock_s)


@dataclass(frozen=True, slots=True)
class Failures:
    """Failed sign-ins of one address or account, and until when attempts are refused unchecked."""

    count: int
    last_at: datetime
    blocked_until: datetime

    def wait_s(self, now: datetime) -> int:
        """Whole seconds until the next attempt is checked (0: now)."""
        return max(0, math.ceil((self.blocked_until - now).total_seconds()))

    @staticmethod
    def after(previous: Failures | None, now: datetime, policy: ThrottlePolicy) -> Failures:
        """The record once one more attempt failed at `now`."""
        forgotten = previous is None or (now - previous.last_at).total_seconds() >= policy.lock_s
        count = 1 if forgotten or previous is None else previous.count + 1
        return Failures(count, now, now + timedelta(seconds=policy.delay_s(count)))


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """What a new password must be: `min_length` to `max_length` characters (the maximum bounds the
    hashing work a request can cause), and not one of the most common passwords or built from them
    and the username: zxcvbn (Dropbox's estimator, with its list of the 30,000 most common passwords
    and English words) must score it at least `min_score` of 4, i.e. more than 10^6 guesses."""

    min_length: int = 10
    max_length: int = 256
    min_score: int = 2

    def problem(self, password: str, username: str) -> str | None:
        """Why `password` is refused, or None."""
        if len(password) < self.min_length:
            return f"the password needs at least {self.min_length} characters"
        if len(password) > self.max_length:
            return f"the password may have at most {self.max_length} characters"
        from zxcvbn import zxcvbn  # its lists load on first use

        # zxcvbn reads at most 72 characters; a longer password is at least as strong as its start.
        if zxcvbn(password[:72], user_inputs=[username])["score"] < self.min_score:
            return "the password is too common or too easy to guess (e.g. a known password with digits)"
        return None
