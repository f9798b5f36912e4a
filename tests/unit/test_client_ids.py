"""Client order ids: one place builds them, deterministic, distinct, and short enough for every
exchange (letters and digits, at most 32 characters)."""

from __future__ import annotations

import pytest

from tradewire.domain.client_ids import intent_client_order_id, position_client_order_id

# --- intent_client_order_id ------------------------------------------------------------------------


def test_client_order_id_is_deterministic() -> None:
    assert intent_client_order_id(42) == intent_client_order_id(42)


def test_client_order_id_has_the_prefix_and_a_zero_padded_intent_id() -> None:
    assert intent_client_order_id(42) == "tw0000000042"
    assert intent_client_order_id(42, prefix="x") == "x0000000042"
    assert intent_client_order_id(42).isalnum()


@pytest.mark.parametrize("intent_id", [0, 1, 9_999_999_999, 10_000_000_000, 2**63 - 1])
def test_client_order_id_fits_in_36_characters(intent_id: int) -> None:
    assert len(intent_client_order_id(intent_id)) <= 32


def test_client_order_ids_differ_per_intent() -> None:
    intent_ids = [0, 1, 2, 10, 99, 100, 12345, 10_000_000_000, 2**63 - 1]

    ids = {intent_client_order_id(intent_id) for intent_id in intent_ids}

    assert len(ids) == len(intent_ids)


# --- position_client_order_id ----------------------------------------------------------------------


def test_an_exit_s_client_order_id_names_the_position_and_the_attempt() -> None:
    assert position_client_order_id(42, 0) == "tx0000000042a0"
    assert position_client_order_id(42, 3) == "tx0000000042a3"


def test_a_dca_tranche_s_client_order_id_names_the_position_the_tranche_and_the_attempt() -> None:
    assert position_client_order_id(42, 1, tranche=2) == "td0000000042t2a1"


def test_position_client_order_ids_differ_per_attempt_tranche_and_kind() -> None:
    keys = [(42, attempt, tranche) for attempt in range(4) for tranche in (None, 2, 3, 10)]

    ids = {position_client_order_id(position_id, attempt, tranche) for position_id, attempt, tranche in keys}

    assert len(ids) == len(keys)
    assert not ids & {intent_client_order_id(i) for i in range(100)}


@pytest.mark.parametrize("position_id", [1, 9_999_999_999, 2**63 - 1])
def test_a_position_client_order_id_fits_every_exchange(position_id: int) -> None:
    for coid in (position_client_order_id(position_id, 999), position_client_order_id(position_id, 999, 10)):
        assert coid.isalnum() and len(coid) <= 32
