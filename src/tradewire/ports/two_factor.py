"""What two-factor sign-in keeps: each user's TOTP secret, sealed (implemented in
adapters/store/two_factor.py and adapters/secrets_box.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredTotp:
    """A user's TOTP secret as kept: encrypted, confirmed once a code from it was shown, and the last
    time step whose code was accepted (a code is good once)."""

    secret_enc: str
    confirmed: bool
    last_step: int | None


class TwoFactorStore(Protocol):
    def totp(self, user_id: int) -> StoredTotp | None: ...

    def enrol_totp(self, user_id: int, secret_enc: str, now: datetime) -> None:
        """Keep a new, unconfirmed secret (replacing one not confirmed yet)."""

    def confirm_totp(self, user_id: int, now: datetime) -> None: ...

    def use_totp_step(self, user_id: int, step: int) -> bool:
        """Record `step` as used, only if it is later than every step used before (one caller wins)."""

    def remove_totp(self, user_id: int) -> None: ...


class SecretSealer(Protocol):
    """Encryption at rest, bound to a context (the secrets box that seals API keys)."""

    def encrypt(self, plaintext: str, context: str) -> str: ...

    def decrypt(self, token: str, context: str) -> str: ...
