"""What signing in keeps: sessions and their refresh tokens (implemented in adapters/store/signin.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tradewire.domain.members import User
from tradewire.domain.signin import RefreshUse


class SignInStore(Protocol):
    """Sessions, refresh tokens (kept as SHA-256 digests only) and password changes; each method is one
    transaction."""

    def open_session(
        self, user_id: int, session_id: str, token_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        """A new session with its first refresh token; the user's dead sessions are dropped."""

    def use_refresh_token(self, token_hash: str, now: datetime) -> RefreshUse | None:
        """The token's session and state; a fresh token is marked used here (only one caller wins:
        the others see it REUSED). None when no such token is kept."""

    def add_refresh_token(
        self, session_id: str, token_hash: str, now: datetime, expires_at: datetime
    ) -> None:
        """The session's next refresh token."""

    def revoke_session(self, session_id: str, now: datetime, reason: str) -> None: ...

    def revoke_sessions(self, user_id: int, now: datetime, reason: str) -> None:
        """Every session of the user."""

    def session_user(self, user_id: int, session_id: str) -> User | None:
        """The user, if `session_id` is one of their sessions and not revoked."""

    def change_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        """Keep the new hash and revoke every session of the user, together."""
