"""The outbox's JSON text of an event's data (adapters/store/events.encoded)."""

from __future__ import annotations

import json
from decimal import Decimal

from tradewire.adapters.store.events import encoded
from tradewire.domain.events import plain


def test_event_data_is_compact_json_of_the_same_values() -> None:
    data = plain(
        {"order_id": 7, "amount": Decimal("0.0020"), "note": "sized: signal 0.01 × 1", "nothing": None}
    )

    text = encoded(data)

    assert json.loads(text) == {
        "order_id": 7,
        "amount": "0.002",
        "note": "sized: signal 0.01 × 1",
        "nothing": None,
    }
    assert " " not in text.replace("sized: signal 0.01 × 1", "")


def test_what_the_fast_encoder_refuses_is_encoded_all_the_same() -> None:
    # An integer beyond 64 bits, a lone surrogate, a key that is not text: written as json writes them.
    for data in ({"n": 2**70}, {"text": "a\ud800b"}, {1: "one"}):
        assert encoded(data) == json.dumps(data, separators=(",", ":"))  # type: ignore[arg-type]
