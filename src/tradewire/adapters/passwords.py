"""Password and passphrase hashing (scrypt, stdlib) with constant-time verification.

`verify_secret` is the services' `SecretCheck` (ports/secrets.py); the cache of passphrases already
verified lives with its user, services/passphrases.py."""

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
        # Malformed base64 or an empty part is refused before scrypt runs (no full-cost hash for it).
        salt, expected = (
            base64.b64decode(salt_b64, validate=True),
            base64.b64decode(digest_b64, validate=True),
        )
        if not salt or not expected:
            return False
        digest = hashlib.scrypt(secret.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


class ScryptPasswords:
    """`tradewire.ports.Passwords` with scrypt."""

    def hash(self, secret: str) -> str:
        return hash_secret(secret)

    def verify(self, secret: str, stored: str) -> bool:
        return verify_secret(secret, stored)
