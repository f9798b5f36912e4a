"""Signing in, without I/O: sessions and their refresh tokens.

A session is what one sign-in opens. Its access tokens are short-lived and name the session; its
refresh token is used once, each use handing out the next one (rotation). A refresh token presented a
second time means it was copied: the whole session is revoked. Signing out revokes the session;
changing the password revokes every session of the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RefreshState(StrEnum):
    """What a presented refresh token turned out to be."""

    FRESH = "fresh"  # unused, unexpired, its session alive: now marked used
    REUSED = "reused"  # already used once: someone holds a copy
    EXPIRED = "expired"
    REVOKED = "revoked"  # its session was signed out or revoked


@dataclass(frozen=True, slots=True)
class RefreshUse:
    """A refresh token found in the store and what it was."""

    user_id: int
    session_id: str
    state: RefreshState


class SignInRefused(Exception):
    """Credentials (or a refresh token) that open nothing; the message is safe to show."""
