"""Password and passphrase hashing (scrypt, stdlib) with constant-time verification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

_N, _R, _P = 2**14, 8, 1


def hash_secret(secret: str) -> str:
    """`scrypt$N$r$p$salt$hash`, safe to store."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(
        [
            "scrypt",
            str(_N),
            str(_R),
            str(_P),
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def verify_secret(secret: str, stored: str) -> bool:
    """True if `secret` matches `stored`; the comparison takes the same time whatever differs."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        digest = hashlib.scrypt(secret.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


class VerifiedSecrets:
    """Remembers (stored hash, secret digest) pairs already verified, so hot paths skip scrypt.

    Only a SHA-256 of the secret is kept in memory, keyed by the stored hash: changing the stored hash
    (a new passphrase) invalidates the entry.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._verified: dict[str, bytes] = {}
        self._max = max_entries

    def verify(self, secret: str, stored: str) -> bool:
        known = self.lookup(secret, stored)
        if known is not None:
            return known
        if not verify_secret(secret, stored):
            return False
        self.remember(secret, stored)
        return True

    def lookup(self, secret: str, stored: str) -> bool | None:
        """True or False when `stored` has a verified secret in memory (no scrypt); None otherwise."""
        known = self._verified.get(stored)
        if known is None:
            return None
        return hmac.compare_digest(known, hashlib.sha256(secret.encode()).digest())

    def remember(self, secret: str, stored: str) -> None:
        """Keep `secret` as verified for `stored` (call only after verify_secret said it matches)."""
        if stored not in self._verified and len(self._verified) >= self._max:
            self._verified.pop(next(iter(self._verified)))
        self._verified[stored] = hashlib.sha256(secret.encode()).digest()
