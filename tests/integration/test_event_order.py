"""The outbox numbers each user's events without a gap a reader could fall into.

A reader follows a user's stream as "events numbered above the last one I saw". With one global
sequence, PostgreSQL lets a transaction that drew 105 commit before the one that drew 104: the reader
sees 105, moves past it, and never sees 104. Here a transaction's numbers come from its users' counter
rows, locked to its commit: a later transaction with events for the same user waits, so numbers
become visible in order. These tests commit transactions in the order that breaks a global sequence.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.events import SqlEvents, save_events, transaction_with_events
from tradewire.domain.events import Event, StoredEvent, Topic

NOW = datetime(2026, 1, 5, 12, 0, 0, 250_000, tzinfo=UTC)


def _event(user_id: int, n: int = 0) -> Event:
    return Event(user_id, Topic.ORDERS, "updated", {"n": n})


def _in_thread(engine: Engine, made: list[Event]) -> tuple[threading.Thread, threading.Event]:
    """A second transaction writing `made` and committing at once, in a thread; its event is set
    once it has committed."""
    committed = threading.Event()

    def run() -> None:
        with write_transaction(engine) as conn:
            save_events(conn, made, NOW)
        committed.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, committed


@pytest.mark.postgres
def test_a_later_transaction_of_the_same_user_commits_after_the_earlier_one_never_before(
    postgres_engine: Engine,
) -> None:
    log = SqlEvents(postgres_engine)
    with postgres_engine.connect() as first:
        earlier = first.begin()
        assert save_events(first, [_event(1), _event(1)], NOW) == {1: 2}  # numbers 1 and 2, open

        thread, committed = _in_thread(postgres_engine, [_event(1)])
        # It would commit first if it could; it waits, and readers see nothing of either yet.
        assert not committed.wait(0.5)
        assert log.events_after({1: 0}, 10) == []
        other, other_committed = _in_thread(postgres_engine, [_event(2)])  # another user: no wait
        assert other_committed.wait(5)

        earlier.commit()
    thread.join(5)
    other.join(5)

    assert committed.is_set()
    assert [(e.user_id, e.id) for e in log.events_after({1: 0, 2: 0}, 10)] == [(1, 1), (1, 2), (1, 3), (2, 1)]
    assert log.last_event_ids([1, 2, 3]) == {1: 3, 2: 1}


@pytest.mark.postgres
def test_numbers_a_rolled_back_transaction_drew_are_taken_by_the_next_one(postgres_engine: Engine) -> None:
    log = SqlEvents(postgres_engine)
    with postgres_engine.connect() as first:
        earlier = first.begin()
        save_events(first, [_event(1, 1)], NOW)
        thread, committed = _in_thread(postgres_engine, [_event(1, 2)])
        assert not committed.wait(0.3)
        earlier.rollback()
    thread.join(5)

    assert [(e.id, e.data) for e in log.events_after({1: 0}, 10)] == [(1, '{"n":2}')]


def test_a_reader_following_many_writers_sees_every_number_once_in_order(engine: Engine) -> None:
    """Writers commit events for overlapping users (listed in any order, so locks are contended in
    every order: they never deadlock), each holding its transaction open a random moment; a reader
    follows each user by its last number seen. It ends with every number, in order, none twice."""
    users = [1, 2, 3, 4]
    log = SqlEvents(engine)
    done = threading.Event()
    failures: list[BaseException] = []
    seen: dict[int, list[int]] = {u: [] for u in users}

    def write(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(25):
                mine = rng.sample(users, rng.randint(1, 3))
                with write_transaction(engine) as conn:
                    save_events(conn, [_event(u) for u in mine for _ in range(rng.randint(1, 2))], NOW)
                    time.sleep(rng.random() * 0.004)
        except BaseException as exc:
            failures.append(exc)

    def read() -> None:
        cursors = dict.fromkeys(users, 0)
        while True:
            finished = done.is_set()
            for event in log.events_after(cursors, 1000):
                seen[event.user_id].append(event.id)
                cursors[event.user_id] = event.id
            if finished:
                return

    writers = [threading.Thread(target=write, args=(seed,), daemon=True) for seed in range(5)]
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
    done.set()
    reader.join(30)

    assert failures == []
    stored = {u: [e.id for e in log.events_after({u: 0}, 10_000)] for u in users}
    last = log.last_event_ids(users)
    assert sum(last.values()) > 100
    for user in users:
        assert seen[user] == stored[user] == list(range(1, last[user] + 1)), f"user {user}"


@pytest.mark.parametrize("at", [NOW, NOW.replace(microsecond=0)])
def test_a_commit_announces_its_events_exactly_as_a_reader_reads_them_back(
    engine: Engine, at: datetime
) -> None:
    """This process's live channel sends a commit's events as announced, without reading them back: a
    client that reconnects later reads them from the outbox, and must get the same frames."""
    announced: list[tuple[dict[int, int], list[StoredEvent]]] = []

    class Notifier:
        def published(self, last_ids: Mapping[int, int], events: Sequence[StoredEvent] = ()) -> None:
            announced.append((dict(last_ids), list(events)))

    with transaction_with_events(engine, None, at) as (_, outbox):
        outbox.add([_event(1, 0)])  # an earlier commit, announced to nobody
    with transaction_with_events(engine, Notifier(), at) as (_, outbox):
        outbox.add([_event(2, 1), _event(1, 2), Event(1, Topic.FILLS, "new", {"p": "0.1", "s": 'é"<'})])

    [(last_ids, events)] = announced
    assert last_ids == {1: 3, 2: 1}
    read = SqlEvents(engine).events_after({1: 1, 2: 0}, 10)
    assert sorted(events) == read
    assert [e.message() for e in sorted(events)] == [e.message() for e in read]
