"""What signing in keeps: sessions and their refresh tokens, failed sign-ins and the addresses users
signed in from (implemented in adapters/store/signin.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from tradewire.domain.members import User
from tradewire.domain.signin import Failures, RefreshUse, ThrottlePolicy


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

    def live_sessions(self, session_ids: Sequence[str]) -> set[str]:
        """Those of `session_ids` that exist and are not revoked (one query however many)."""

    def change_password(self, user_id: int, password_hash: str, now: datetime) -> None:
        """Keep the new hash and revoke every session of the user, together."""

    def failures(self, keys: Sequence[str]) -> dict[str, Failures]:
        """The failed sign-ins kept under each of `keys` (absent: none)."""

    def record_failure(self, keys: Sequence[str], now: datetime, policy: ThrottlePolicy) -> None:
        """One more failure under each key (Failures.after, in one transaction); records forgotten by
        `now` are dropped."""

    def address_known(self, username: str, address: str, since: datetime) -> bool:
        """Whether `username` signed in from `address` at or after `since` (False for no such user)."""

    def remember_address(self, user_id: int, address: str, now: datetime) -> None: ...
