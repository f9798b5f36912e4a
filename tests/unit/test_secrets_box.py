"""AES-256-GCM secret box: round trips, context binding, tampering, key rotation and key decoding."""

from __future__ import annotations

import base64

import pytest

from tradewire.adapters.secrets_box import SecretBox, SecretsError, decode_key, generate_key

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
CONTEXT = "account:7:api_key"
PLAINTEXT = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


def _tampered(token: str, byte_index: int) -> str:
    prefix, key_id, payload = token.split(":", 2)
    blob = bytearray(base64.b64decode(payload))
    blob[byte_index] ^= 0x01
    return f"{prefix}:{key_id}:{base64.b64encode(bytes(blob)).decode()}"


# --- round trip ------------------------------------------------------------------------------------


def test_decrypt_returns_what_encrypt_sealed() -> None:
    box = SecretBox(KEY_A)

    token = box.encrypt(PLAINTEXT, CONTEXT)

    assert box.decrypt(token, CONTEXT) == PLAINTEXT


@pytest.mark.parametrize("plaintext", ["", "x", "päss wörd ✓", "a" * 10_000])
def test_round_trip_works_for_empty_unicode_and_long_plaintexts(plaintext: str) -> None:
    box = SecretBox(KEY_A)

    assert box.decrypt(box.encrypt(plaintext, CONTEXT), CONTEXT) == plaintext


def test_a_second_box_with_the_same_key_decrypts() -> None:
    token = SecretBox(KEY_A).encrypt(PLAINTEXT, CONTEXT)

    assert SecretBox(KEY_A).decrypt(token, CONTEXT) == PLAINTEXT


def test_token_has_the_version_and_current_key_id() -> None:
    box = SecretBox(KEY_A)

    prefix, key_id, _payload = box.encrypt(PLAINTEXT, CONTEXT).split(":", 2)

    assert prefix == "v1"
    assert key_id == box.key_id


def test_key_ids_differ_per_key_and_reveal_no_key_material() -> None:
    id_a, id_b = SecretBox(KEY_A).key_id, SecretBox(KEY_B).key_id

    assert id_a != id_b
    assert KEY_A.hex() not in id_a
    assert id_a not in KEY_A.hex()


# --- confidentiality -------------------------------------------------------------------------------


def test_ciphertext_differs_each_time() -> None:
    box = SecretBox(KEY_A)

    tokens = {box.encrypt(PLAINTEXT, CONTEXT) for _ in range(20)}

    assert len(tokens) == 20


def test_ciphertext_never_contains_the_plaintext() -> None:
    box = SecretBox(KEY_A)

    token = box.encrypt(PLAINTEXT, CONTEXT)

    payload = base64.b64decode(token.split(":", 2)[2])
    assert PLAINTEXT not in token
    assert PLAINTEXT.encode() not in payload
    assert PLAINTEXT[:16].encode() not in payload


# --- authentication --------------------------------------------------------------------------------


def test_decrypting_with_the_wrong_context_fails() -> None:
    box = SecretBox(KEY_A)
    token = box.encrypt(PLAINTEXT, "account:7:api_key")

    with pytest.raises(SecretsError, match="authentication"):
        box.decrypt(token, "account:8:api_key")


def test_decrypting_with_a_different_key_under_the_same_id_fails() -> None:
    token = SecretBox(KEY_A).encrypt(PLAINTEXT, CONTEXT)
    other = SecretBox(KEY_B)
    forged = token.replace(SecretBox(KEY_A).key_id, other.key_id, 1)

    with pytest.raises(SecretsError, match="authentication"):
        other.decrypt(forged, CONTEXT)


@pytest.mark.parametrize("byte_index", [0, 11, 12, 20, -1])
def test_tampered_ciphertext_fails_with_secrets_error(byte_index: int) -> None:
    box = SecretBox(KEY_A)
    token = box.encrypt(PLAINTEXT, CONTEXT)

    with pytest.raises(SecretsError):
        box.decrypt(_tampered(token, byte_index), CONTEXT)


@pytest.mark.parametrize(
    "token",
    ["", "no-colons-at-all", "v1:only-two", "v1:abc:not base64!", "v2:abc:AAAA"],
)
def test_malformed_tokens_fail_with_secrets_error(token: str) -> None:
    with pytest.raises(SecretsError):
        SecretBox(KEY_A).decrypt(token, CONTEXT)


def test_a_truncated_payload_of_at_least_a_nonce_fails_with_secrets_error() -> None:
    box = SecretBox(KEY_A)
    prefix, key_id, payload = box.encrypt(PLAINTEXT, CONTEXT).split(":", 2)
    short = base64.b64encode(base64.b64decode(payload)[:12]).decode()

    with pytest.raises(SecretsError):
        box.decrypt(f"{prefix}:{key_id}:{short}", CONTEXT)


@pytest.mark.parametrize("blob", [b"", b"abc"])
def test_a_payload_shorter_than_a_nonce_fails_with_secrets_error(blob: bytes) -> None:
    box = SecretBox(KEY_A)
    token = f"v1:{box.key_id}:{base64.b64encode(blob).decode()}"

    with pytest.raises(SecretsError):
        box.decrypt(token, CONTEXT)


# --- rotation --------------------------------------------------------------------------------------


def test_a_token_from_the_old_key_decrypts_after_rotation_and_needs_rotation() -> None:
    old_token = SecretBox(KEY_A).encrypt(PLAINTEXT, CONTEXT)
    rotated = SecretBox(KEY_B, older=(KEY_A,))

    assert rotated.decrypt(old_token, CONTEXT) == PLAINTEXT
    assert rotated.needs_rotation(old_token) is True


def test_a_re_encrypted_token_does_not_need_rotation() -> None:
    old_token = SecretBox(KEY_A).encrypt(PLAINTEXT, CONTEXT)
    rotated = SecretBox(KEY_B, older=(KEY_A,))

    new_token = rotated.encrypt(rotated.decrypt(old_token, CONTEXT), CONTEXT)

    assert rotated.needs_rotation(new_token) is False
    assert SecretBox(KEY_B).decrypt(new_token, CONTEXT) == PLAINTEXT


def test_the_rotated_box_encrypts_with_the_new_key() -> None:
    rotated = SecretBox(KEY_B, older=(KEY_A,))

    assert rotated.key_id == SecretBox(KEY_B).key_id
    with pytest.raises(SecretsError):
        SecretBox(KEY_A).decrypt(rotated.encrypt(PLAINTEXT, CONTEXT), CONTEXT)


@pytest.mark.parametrize("token", ["garbage", "v1:only-two"])
def test_a_malformed_token_needs_rotation(token: str) -> None:
    assert SecretBox(KEY_A).needs_rotation(token) is True


def test_an_unknown_key_id_fails_without_revealing_key_material() -> None:
    token = SecretBox(KEY_A).encrypt(PLAINTEXT, CONTEXT)
    box = SecretBox(KEY_B)

    with pytest.raises(SecretsError, match="not configured") as excinfo:
        box.decrypt(token, CONTEXT)

    message = str(excinfo.value)
    for key in (KEY_A, KEY_B):
        assert key.hex() not in message
        assert base64.b64encode(key).decode() not in message
    assert PLAINTEXT not in message


# --- decode_key and generate_key -------------------------------------------------------------------


def test_decode_key_accepts_base64() -> None:
    assert decode_key(base64.b64encode(KEY_A).decode()) == KEY_A


def test_decode_key_accepts_64_hex_digits() -> None:
    assert decode_key(KEY_A.hex()) == KEY_A
    assert decode_key(KEY_A.hex().upper()) == KEY_A


def test_decode_key_strips_surrounding_whitespace() -> None:
    assert decode_key(f"  {base64.b64encode(KEY_A).decode()}\n") == KEY_A


@pytest.mark.parametrize(
    "text",
    [
        base64.b64encode(bytes(16)).decode(),
        base64.b64encode(bytes(31)).decode(),
        base64.b64encode(bytes(33)).decode(),
        bytes(31).hex(),
        bytes(33).hex(),
        "z" * 64,
        "not base64!",
        "",
    ],
)
def test_decode_key_rejects_wrong_lengths_and_encodings(text: str) -> None:
    with pytest.raises(SecretsError, match="32 bytes"):
        decode_key(text)


def test_generate_key_decodes_to_32_bytes() -> None:
    assert len(decode_key(generate_key())) == 32


def test_generate_key_is_random() -> None:
    assert generate_key() != generate_key()


def test_a_generated_key_works_in_a_box() -> None:
    box = SecretBox(decode_key(generate_key()))

    assert box.decrypt(box.encrypt(PLAINTEXT, CONTEXT), CONTEXT) == PLAINTEXT
