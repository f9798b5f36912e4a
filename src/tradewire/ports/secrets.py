"""Checking a secret against its stored hash (implemented in adapters/passwords.py)."""

from __future__ import annotations

from typing import Protocol


class SecretCheck(Protocol):
    """True if `secret` matches the stored hash; slow on purpose (scrypt), so run it off the event loop."""

    def __call__(self, secret: str, stored: str) -> bool: ...
