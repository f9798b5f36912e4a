"""API keys encrypted at rest with AES-256-GCM; the key comes from the environment and can rotate."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1"


class SecretsError(ValueError):
    """A key or ciphertext that cannot be used; the message never contains secret material."""


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"tradewire-key-id" + key).hexdigest()[:12]


def decode_key(text: str) -> bytes:
    """A 32-byte key from its base64 (or 64-hex-digit) text."""
    raw = text.strip()
    try:
        key = bytes.fromhex(raw) if len(raw) == 64 else base64.b64decode(raw, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise SecretsError("the encryption key must be 32 bytes, base64- or hex-encoded") from exc
    if len(key) != 32:
        raise SecretsError(f"the encryption key must be 32 bytes, got {len(key)}")
    return key


def generate_key() -> str:
    """A fresh random key, base64-encoded, for TRADEWIRE_ENCRYPTION_KEY."""
    return base64.b64encode(os.urandom(32)).decode()


class SecretBox:
    """Encrypts with the current key; decrypts with the current key or any older one (rotation)."""

    def __init__(self, current: bytes, older: tuple[bytes, ...] = ()) -> None:
        self._current_id = _key_id(current)
        self._keys = {_key_id(key): AESGCM(key) for key in (*older, current)}

    @property
    def key_id(self) -> str:
        return self._current_id

    def encrypt(self, plaintext: str, context: str) -> str:
        """Ciphertext text `v1:<key id>:<base64 nonce+ct>`, bound to `context` (e.g. 'account:7:api_key')."""
        nonce = os.urandom(12)
        sealed = self._keys[self._current_id].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_PREFIX}:{self._current_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        """The plaintext of `token`; raises SecretsError if the key is unknown or the data was altered."""
        try:
            prefix, key_id, payload = token.split(":", 2)
            blob = base64.b64decode(payload, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise SecretsError("malformed ciphertext") from exc
        if len(blob) < 12 + 16:  # nonce + authentication tag
            raise SecretsError("malformed ciphertext")
        if prefix != _PREFIX:
            raise SecretsError(f"unknown ciphertext version {prefix!r}")
        aead = self._keys.get(key_id)
        if aead is None:
            raise SecretsError(f"ciphertext was sealed with key {key_id}, which is not configured")
        try:
            return aead.decrypt(blob[:12], blob[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise SecretsError("ciphertext failed authentication (wrong key or altered data)") from exc

    def needs_rotation(self, token: str) -> bool:
        """True when `token` was sealed with an older key."""
        parts = token.split(":", 2)
        return len(parts) != 3 or parts[1] != self._current_id
