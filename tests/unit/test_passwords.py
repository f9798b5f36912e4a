"""Scrypt secret hashing, verification, and the verified-secrets cache."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

import tradewire.adapters.passwords as passwords
from tradewire.adapters.passwords import hash_secret, verify_secret
from tradewire.services.passphrases import VerifiedSecrets

SECRET = "correct horse battery staple"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_secret(SECRET)


def quick_hash(secret: str) -> str:
    """A stored hash in hash_secret's format at scrypt's lowest cost: verify_secret takes the cost from
    the stored hash. For the cache's tests, which count verifications (50 ms each at the real cost)."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2, r=1, p=1, dklen=32)
    return f"scrypt$2$1$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@pytest.fixture(scope="module")
def quick_stored() -> str:
    return quick_hash(SECRET)


@pytest.fixture
def lowest_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """hash_secret at scrypt's lowest cost (N=2, 50 ms less per hash and per verification of it). For
    the tests of what holds whatever the cost; the real cost is hashed and verified by the `stored`
    fixture and the tests taking it."""
    monkeypatch.setattr(passwords, "_N", 2)


@pytest.fixture
def counted_verify(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    calls: list[tuple[str, str]] = []
    real = passwords.verify_secret

    def counting(secret: str, stored_hash: str) -> bool:
        calls.append((secret, stored_hash))
        return real(secret, stored_hash)

    monkeypatch.setattr("tradewire.adapters.passwords.verify_secret", counting)
    return calls


# --- hash_secret / verify_secret -------------------------------------------------------------------


def test_hash_has_the_scrypt_format_and_hides_the_secret(stored: str) -> None:
    parts = stored.split("$")

    assert parts[:4] == ["scrypt", str(2**14), "8", "1"]
    assert len(parts) == 6
    assert SECRET not in stored


def test_verify_accepts_the_right_secret(stored: str) -> None:
    assert verify_secret(SECRET, stored) is True


@pytest.mark.parametrize("wrong", ["", "correct horse battery stapl", SECRET + " ", SECRET.upper()])
def test_verify_rejects_a_wrong_secret(quick_stored: str, wrong: str) -> None:
    # verify_secret takes the cost from the stored hash: the secret's comparison is the same at any.
    assert verify_secret(wrong, quick_stored) is False


def test_verify_rejects_a_wrong_secret_at_the_real_cost(stored: str) -> None:
    assert verify_secret(SECRET.upper(), stored) is False


@pytest.mark.usefixtures("lowest_cost")
def test_salts_differ_so_the_same_secret_hashes_differently() -> None:
    first, second = hash_secret(SECRET), hash_secret(SECRET)

    assert first != second
    assert first.split("$")[4] != second.split("$")[4]
    assert verify_secret(SECRET, first)
    assert verify_secret(SECRET, second)


@pytest.mark.usefixtures("lowest_cost")
def test_an_empty_secret_can_be_hashed_and_verified() -> None:
    stored_empty = hash_secret("")

    assert verify_secret("", stored_empty) is True
    assert verify_secret("x", stored_empty) is False


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "plaintext-password",
        "scrypt$16384$8$1$c2FsdA==",  # a field missing
        "scrypt$16384$8$1$c2FsdA==$ZGlnZXN0$extra",  # a field too many
        "bcrypt$16384$8$1$c2FsdA==$ZGlnZXN0",  # another scheme
        "scrypt$many$8$1$c2FsdA==$ZGlnZXN0",  # N not a number
        "scrypt$16383$8$1$c2FsdA==$ZGlnZXN0",  # N not a power of two
        "scrypt$16384$8$0$c2FsdA==$ZGlnZXN0",  # p of zero
        "scrypt$16384$8$1$!!!$ZGlnZXN0",  # salt not base64
        "scrypt$16384$8$1$c2FsdA==$",  # empty digest
    ],
)
def test_verify_returns_false_for_a_malformed_stored_hash(bad: str) -> None:
    assert verify_secret(SECRET, bad) is False


def test_verify_rejects_a_hash_whose_digest_was_altered(stored: str) -> None:
    scheme, n, r, p, salt, digest = stored.split("$")
    altered_digest = ("A" if digest[0] != "A" else "B") + digest[1:]
    altered = "$".join([scheme, n, r, p, salt, altered_digest])

    assert verify_secret(SECRET, altered) is False


# --- VerifiedSecrets -------------------------------------------------------------------------------


def test_verified_secrets_accepts_the_right_secret(quick_stored: str) -> None:
    assert VerifiedSecrets(passwords.verify_secret).verify(SECRET, quick_stored) is True


def test_verified_secrets_rejects_a_wrong_secret(quick_stored: str) -> None:
    assert VerifiedSecrets(passwords.verify_secret).verify("wrong", quick_stored) is False


def test_a_second_verify_of_the_right_secret_skips_scrypt(
    quick_stored: str, counted_verify: list[tuple[str, str]]
) -> None:
    cache = VerifiedSecrets(passwords.verify_secret)

    first = cache.verify(SECRET, quick_stored)
    second = cache.verify(SECRET, quick_stored)

    assert (first, second) == (True, True)
    assert len(counted_verify) == 1


def test_a_wrong_secret_after_a_cached_right_one_is_still_rejected(
    quick_stored: str, counted_verify: list[tuple[str, str]]
) -> None:
    cache = VerifiedSecrets(passwords.verify_secret)
    cache.verify(SECRET, quick_stored)

    result = cache.verify("wrong", quick_stored)

    assert result is False
    assert len(counted_verify) == 1


def test_a_wrong_secret_is_not_cached(quick_stored: str, counted_verify: list[tuple[str, str]]) -> None:
    cache = VerifiedSecrets(passwords.verify_secret)

    first = cache.verify("wrong", quick_stored)
    second = cache.verify("wrong", quick_stored)
    right = cache.verify(SECRET, quick_stored)

    assert (first, second, right) == (False, False, True)
    assert len(counted_verify) == 3


def test_a_new_stored_hash_is_verified_again(counted_verify: list[tuple[str, str]]) -> None:
    cache = VerifiedSecrets(passwords.verify_secret)
    old_hash, new_hash = quick_hash(SECRET), quick_hash("new passphrase")
    cache.verify(SECRET, old_hash)

    assert cache.verify(SECRET, new_hash) is False
    assert cache.verify("new passphrase", new_hash) is True
    assert len(counted_verify) == 3


def test_the_oldest_entry_is_evicted_when_the_cache_is_full(counted_verify: list[tuple[str, str]]) -> None:
    cache = VerifiedSecrets(passwords.verify_secret, max_entries=1)
    first_hash, second_hash = quick_hash("one"), quick_hash("two")
    cache.verify("one", first_hash)
    cache.verify("two", second_hash)

    assert cache.verify("one", first_hash) is True

    assert len(counted_verify) == 3


@pytest.mark.parametrize(
    "bad",
    [
        "scrypt$16384$8$1$!!!$ZGlnZXN0",  # salt not base64
        "scrypt$16384$8$1$c2FsdA==$Z?GlnZXN0",  # digest not base64
        "scrypt$16384$8$1$$ZGlnZXN0",  # empty salt
        "scrypt$16384$8$1$c2FsdA==$",  # empty digest
    ],
)
def test_a_malformed_salt_or_digest_is_refused_before_scrypt_runs(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def scrypt(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("scrypt ran for a stored hash that cannot match")

    monkeypatch.setattr(passwords.hashlib, "scrypt", scrypt)
    assert verify_secret(SECRET, bad) is False
