"""The outbox's JSON text of an event's data (adapters/store/events.encoded)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum

from tradewire.adapters.store.events import encoded
from tradewire.domain.json_values import json_fields, plain
from tradewire.domain.orders import OrderSide, OrderState


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


def test_an_events_values_are_converted_by_their_type_as_plain_converts_them() -> None:
    class Level(IntEnum):
        HIGH = 3

    class Moment(datetime):
        pass

    at = Moment(2026, 1, 5, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    values = {
        "side": OrderSide.BUY,
        "level": Level.HIGH,
        "at": at,
        "amount": Decimal("1.50"),
        "nested": {"state": OrderState.FILLED},
        "flag": True,
    }

    twice = [json_fields(**values), json_fields(**values)]  # the second with each type's converter known

    assert (
        twice[0]
        == twice[1]
        == {
            "side": "buy",
            "level": 3,
            "at": "2026-01-05T12:00:00+02:00",
            "amount": "1.5",
            "nested": {"state": "filled"},
            "flag": True,
        }
    )
    assert twice[0] == plain(values)
