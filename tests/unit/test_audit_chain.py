"""The audit log's hash chain without I/O: the canonical form and hash of an entry (pinned: a change to
the format breaks every stored chain), what a detail may hold, and the check that names the first
entry that was changed, removed or reordered."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tradewire.domain.audit import (
    CLIENT_MAX,
    EMPTY,
    GENESIS,
    Action,
    Actor,
    Entry,
    Event,
    Head,
    Origin,
    Problem,
    canonical,
    chained,
    detail_of,
    entry_hash,
    verify_chain,
)

T0 = datetime(2026, 12, 6, 11, 2, 26, 123456, tzinfo=UTC)
ORIGIN = Origin.of("192.0.2.1", "curl/8.5")


def _event(n: int = 0, **detail: object) -> Event:
    return Event(
        T0 + timedelta(seconds=n),
        Actor(7, "alice"),
        Action.SUBSCRIPTION_CHANGED,
        ORIGIN,
        "subscription",
        40 + n,
        {"fields": ["risk_limits"], "n": n, **detail},  # type: ignore[dict-item]
    )


def _chain(length: int) -> list[Entry]:
    entries: list[Entry] = []
    head = EMPTY
    for n in range(length):
        entry = chained(_event(n), head)
        entries.append(entry)
        head = Head(entry.seq, entry.hash)
    return entries


def _head(entries: list[Entry]) -> Head:
    return Head(entries[-1].seq, entries[-1].hash) if entries else EMPTY


def test_an_entry_has_a_pinned_canonical_form_and_hash() -> None:
    entry = chained(_event(), EMPTY)

    assert canonical(entry) == (
        b'{"action":"subscription.changed","address":"192.0.2.1","at":"2026-12-06T11:02:26.123456Z",'
        b'"client":"curl/8.5","detail":{"fields":["risk_limits"],"n":0},"seq":1,'
        b'"target_id":40,"target_type":"subscription","user_id":7,"username":"alice"}'
    )
    assert entry.prev_hash == GENESIS == "0" * 64
    assert entry.hash == hashlib.sha256(bytes(32) + canonical(entry)).hexdigest()
    assert entry.hash == entry_hash(GENESIS, entry)


def test_times_are_written_in_utc_whatever_the_zone_given() -> None:
    east = T0.astimezone(timezone(timedelta(hours=5)))
    entry = chained(replace(_event(), at=east), EMPTY)

    assert entry.at == T0
    assert b'"at":"2026-12-06T11:02:26.123456Z"' in canonical(entry)


def test_each_entry_chains_after_the_previous_one() -> None:
    entries = _chain(3)

    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    assert len({e.hash for e in entries}) == 3


@pytest.mark.parametrize(
    ("detail", "why"),
    [
        ({"amount": 1.5}, "float"),
        ({"amount": Decimal("1.5")}, "Decimal"),
        ({"new_password": "x"}, "secret"),
        ({"api_key": "x"}, "secret"),
        ({"otp": "123456"}, "secret"),
        ({"refresh_token": "x"}, "secret"),
        ({"note": "x" * 201}, "over 200"),
        ({f"k{n}": n for n in range(21)}, "more than 20 keys"),
        ({"ids": list(range(41))}, "more than 40"),
        ({"big": 2**63}, "64-bit"),
        ({"nested": {"a": 1}}, "dict"),
    ],
)
def test_a_detail_holds_only_small_exact_values_and_no_secrets(detail: dict[str, object], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        detail_of(detail)  # type: ignore[arg-type]


def test_a_detail_is_canonical_json() -> None:
    assert detail_of({"b": 1, "a": ["x", None, True]}) == '{"a":["x",null,true],"b":1}'
    assert detail_of(None) == "{}"


def test_the_origin_keeps_a_bounded_printable_client() -> None:
    origin = Origin.of(None, "agent\x00\n" + "x" * 500)

    assert origin.address == "?"
    assert len(origin.client) == CLIENT_MAX
    assert origin.client.startswith("agent??x")


def test_an_intact_chain_verifies() -> None:
    entries = _chain(5)

    result = verify_chain(iter(entries), _head(entries))

    assert result.finding is None and result.checked == 5
    assert verify_chain(iter([]), EMPTY).finding is None


def test_a_changed_entry_is_found() -> None:
    entries = _chain(5)
    entries[2] = replace(entries[2], detail='{"fields":["exit_rules"],"n":2}')

    finding = verify_chain(iter(entries), _head(entries)).finding

    assert finding is not None and (finding.seq, finding.problem) == (3, Problem.CHANGED)


@pytest.mark.parametrize("column", ["username", "address", "client", "action", "hash"])
def test_any_changed_column_is_found(column: str) -> None:
    entries = _chain(3)
    entries[1] = replace(entries[1], **{column: "x" * 64 if column == "hash" else "mallory"})

    finding = verify_chain(iter(entries), _head(entries)).finding

    assert finding is not None and (finding.seq, finding.problem) == (2, Problem.CHANGED)


def test_a_changed_time_or_unreadable_detail_is_found() -> None:
    entries = _chain(3)
    moved = [*entries[:1], replace(entries[1], at=entries[1].at + timedelta(microseconds=1)), entries[2]]
    garbled = [*entries[:1], replace(entries[1], detail="{not json"), entries[2]]

    for tampered in (moved, garbled):
        finding = verify_chain(iter(tampered), _head(entries)).finding
        assert finding is not None and (finding.seq, finding.problem) == (2, Problem.CHANGED)


def test_a_removed_entry_is_found() -> None:
    entries = _chain(5)
    del entries[2]

    finding = verify_chain(iter(entries), Head(5, _chain(5)[-1].hash)).finding

    assert finding is not None and (finding.seq, finding.problem) == (3, Problem.MISSING)


def test_removed_newest_entries_are_found_against_the_head() -> None:
    entries = _chain(5)
    head = _head(entries)

    finding = verify_chain(iter(entries[:3]), head).finding

    assert finding is not None and (finding.seq, finding.problem) == (4, Problem.MISSING)
    assert "4 to 5" in finding.reason


def test_a_missing_head_is_found() -> None:
    entries = _chain(2)

    finding = verify_chain(iter(entries), None).finding

    assert finding is not None and finding.problem is Problem.MISSING
    assert verify_chain(iter([]), None).finding is None  # an empty log has no head yet


def test_two_swapped_entries_are_found_as_reordered() -> None:
    entries = _chain(5)
    # Swapped in place: each keeps the other's sequence number (the table's key), content and hashes.
    swapped = [*entries[:1], replace(entries[3], seq=2), entries[2], replace(entries[1], seq=4), entries[4]]

    finding = verify_chain(iter(swapped), _head(entries)).finding

    assert finding is not None and (finding.seq, finding.problem) == (2, Problem.REORDERED)


def test_a_removed_entry_with_the_rest_renumbered_is_found() -> None:
    entries = _chain(5)
    renumbered = [*entries[:2], *(replace(e, seq=e.seq - 1) for e in entries[3:])]

    finding = verify_chain(iter(renumbered), Head(4, renumbered[-1].hash)).finding

    assert finding is not None and (finding.seq, finding.problem) == (3, Problem.REORDERED)


def test_verification_reads_lazily_and_stops_at_the_first_problem() -> None:
    entries = _chain(4)
    entries[1] = replace(entries[1], username="mallory")
    read: list[int] = []

    def lazily() -> Iterator[Entry]:
        for entry in entries:
            read.append(entry.seq)
            yield entry

    result = verify_chain(lazily(), _head(entries))

    assert result.finding is not None and result.finding.seq == 2 and result.checked == 1
    assert read == [1, 2]


def test_a_rewritten_chain_is_found_only_against_a_head_noted_down_before() -> None:
    original = _chain(5)
    rewritten = original[:2]
    for n in range(2, 5):  # entry 3 changed, and every hash recomputed from there
        event = _event(n, note="forged") if n == 2 else _event(n)
        rewritten.append(chained(event, _head(rewritten)))

    plain = verify_chain(iter(rewritten), _head(rewritten)).finding
    against_old_head = verify_chain(iter(rewritten), _head(rewritten), _head(original)).finding
    against_untouched = verify_chain(iter(rewritten), _head(rewritten), Head(2, original[1].hash)).finding
    beyond = verify_chain(iter(rewritten), _head(rewritten), Head(9, original[-1].hash)).finding

    assert plain is None and against_untouched is None
    assert against_old_head is not None
    assert (against_old_head.seq, against_old_head.problem) == (5, Problem.CHANGED)
    assert beyond is not None and (beyond.seq, beyond.problem) == (6, Problem.MISSING)


def test_a_name_tried_at_sign_in_is_kept_bounded_and_printable() -> None:
    entry = chained(replace(_event(), actor=Actor(None, "evil\nname\x1b[31m" + "x" * 100)), EMPTY)

    assert entry.username.startswith("evil?name?[31m") and len(entry.username) == 64
