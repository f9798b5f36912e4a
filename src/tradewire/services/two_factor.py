"""Two-factor sign-in with TOTP (RFC 6238, pyotp): an authenticator app's 6-digit codes, 30 s each.

Enrolling shows the secret (and its otpauth:// URI, for a QR code) once and keeps it encrypted with
the secrets box that seals exchange API keys; a code from it switches two-factor sign-in on. From
then on a sign-in needs a code besides the password. A code is accepted in its 30 s step and the
steps either side (clock drift), and only once: a code seen at sign-in cannot be replayed.
Switching it off needs the password and a code.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass

import pyotp

from tradewire.domain.members import Conflict, Forbidden, Invalid, User
from tradewire.ports import Clock
from tradewire.ports.two_factor import SecretSealer, StoredTotp, TwoFactorStore

DRIFT_STEPS = 1  # codes of the neighbouring 30 s steps are accepted too


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What an authenticator app needs, shown once."""

    secret: str  # base32
    uri: str  # otpauth://totp/...


@dataclass(slots=True, eq=False)
class TwoFactor:
    store: TwoFactorStore
    sealer: SecretSealer | None  # None: the server has no encryption key, and no two-factor sign-in
    clock: Clock
    issuer: str = "tradewire"

    async def enrol(self, user: User) -> Enrolment:
        """A new secret for `user` (Conflict while two-factor sign-in is on; Forbidden when the
        server cannot encrypt it)."""
        if self.sealer is None:
            raise Forbidden("two-factor sign-in needs TRADEWIRE_ENCRYPTION_KEY on the server")
        stored = await asyncio.to_thread(self.store.totp, user.id)
        if stored is not None and stored.confirmed:
            raise Conflict("two-factor sign-in is already on: switch it off first")
        secret = pyotp.random_base32()
        sealed = self.sealer.encrypt(secret, secret_context(user.id))
        await asyncio.to_thread(self.store.enrol_totp, user.id, sealed, self.clock.now())
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=self.issuer)
        return Enrolment(secret, uri)

    async def confirm(self, user: User, code: str) -> None:
        """Switch two-factor sign-in on with a code from the enrolled secret (Invalid otherwise)."""
        stored = await asyncio.to_thread(self.store.totp, user.id)
        if stored is None or stored.confirmed:
            raise Invalid("nothing to confirm: enrol first (POST /api/v1/auth/totp)")
        if not await self._accept(user.id, stored, code):
            raise Invalid("wrong or already used code")
        await asyncio.to_thread(self.store.confirm_totp, user.id, self.clock.now())

    async def required(self, user_id: int) -> bool:
        stored = await asyncio.to_thread(self.store.totp, user_id)
        return stored is not None and stored.confirmed

    async def check(self, user_id: int, code: str | None) -> bool:
        """Whether `code` is a right, unused code of the user's confirmed secret."""
        stored = await asyncio.to_thread(self.store.totp, user_id)
        if stored is None or not stored.confirmed or not code:
            return False
        if not (code.isascii() and code.isdigit()):  # compare_digest refuses non-ASCII text
            return False
        return await self._accept(user_id, stored, code)

    async def remove(self, user_id: int) -> None:
        await asyncio.to_thread(self.store.remove_totp, user_id)

    async def _accept(self, user_id: int, stored: StoredTotp, code: str) -> bool:
        if self.sealer is None:
            return False
        totp = pyotp.TOTP(self.sealer.decrypt(stored.secret_enc, secret_context(user_id)))
        now = totp.timecode(self.clock.now())
        for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                if stored.last_step is not None and step <= stored.last_step:
                    return False
                return await asyncio.to_thread(self.store.use_totp_step, user_id, step)
        return False


def secret_context(user_id: int) -> str:
    """What a user's TOTP secret is sealed with, beside the key (so it opens for that user only)."""
    return f"user:{user_id}:totp"
