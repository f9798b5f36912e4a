"""The hub's rounds over the in-memory twin's outbox: a missed announcement only delays delivery, a
client sees its topics from its own number on, and one over its bound is cut off alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta

from tests.fakes.memory_store import MemoryStore
from tradewire.domain.events import Event, StoredEvent, Topic
from tradewire.services.event_hub import EventHub, Listener

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)


class Clock:
    def now(self) -> datetime:
        return NOW


def _write(store: MemoryStore, user_id: int, topic: Topic, n: int, at: datetime = NOW) -> dict[int, int]:
    """Commit `n` events for the user without telling anyone (no notifier)."""
    with store._with_events(at) as made:
        made += [Event(user_id, topic, "updated", {"n": i}) for i in range(n)]
    return store.last_event_ids([user_id])


def _ids(messages: list[str]) -> list[int]:
    return [json.loads(m)["id"] for m in messages]


async def test_events_nobody_announced_reach_clients_on_the_catch_up() -> None:
    store = MemoryStore()
    hub = EventHub(store, Clock())
    _write(store, 1, Topic.ORDERS, 2)  # before the client came: its "since" decides
    resuming, live, other = hub.connect(1), hub.connect(1), hub.connect(2)
    assert await hub.subscribe(resuming, ["orders"], 1) == 1
    assert await hub.subscribe(live, ["orders", "fills"], None) == 2
    assert await hub.subscribe(other, ["orders"], 0) == 0
    _write(store, 1, Topic.FILLS, 1)
    _write(store, 1, Topic.ORDERS, 1)

    await hub.catch_up()
    await hub.deliver()

    assert _ids(await resuming.take(0)) == [2, 4]  # its topics only, from after its own number
    assert _ids(await live.take(0)) == [3, 4]
    assert await other.take(0) == []  # another user's events: never
    assert resuming.cursor == live.cursor == 4


async def test_a_client_over_its_bound_is_cut_off_and_the_others_keep_receiving() -> None:
    store = MemoryStore()
    hub = EventHub(store, Clock(), queue_limit=3)
    slow, fast = hub.connect(1), hub.connect(1)
    for listener in (slow, fast):
        await hub.subscribe(listener, ["orders"], 0)
    _write(store, 1, Topic.ORDERS, 2)
    await hub.catch_up()
    await hub.deliver()
    assert _ids(await fast.take(0)) == [1, 2]

    _write(store, 1, Topic.ORDERS, 2)  # the slow one still holds its first two: four is over three
    await hub.catch_up()
    await hub.deliver()

    assert slow.overflowed and slow.cut.is_set() and await slow.take(0) == []
    assert _ids(await fast.take(0)) == [3, 4] and not fast.overflowed


async def test_old_events_are_pruned_in_bounded_batches() -> None:
    store = MemoryStore()
    hub = EventHub(store, Clock(), retention=timedelta(hours=24), prune_batch=2)
    _write(store, 1, Topic.ORDERS, 5, at=NOW - timedelta(hours=25))
    _write(store, 1, Topic.ORDERS, 1, at=NOW - timedelta(hours=1))

    assert await hub.prune() == 5
    assert [e.id for e in store.events_after({1: 0}, 10)] == [6]
    assert store.last_event_ids([1]) == {1: 6}  # numbering goes on after the pruned ones


async def test_clients_whose_session_ended_are_cut_off_and_sent_nothing_more() -> None:
    store = MemoryStore()
    alive = {"kept"}
    asked: list[set[str]] = []

    async def live_sessions(ids: Collection[str]) -> set[str]:
        asked.append(set(ids))
        return alive & set(ids)

    hub = EventHub(store, Clock(), live_sessions=live_sessions)
    gone, kept, anonymous = hub.connect(1, "gone"), hub.connect(1, "kept"), hub.connect(2)
    for listener in (gone, kept, anonymous):
        await hub.subscribe(listener, ["orders"], 0)

    assert await hub.check_sessions() == 1
    assert asked == [{"gone", "kept"}]  # one question for every client's session
    assert gone.signed_out and gone.cut.is_set() and not kept.cut.is_set()

    _write(store, 1, Topic.ORDERS, 1)
    await hub.catch_up()
    await hub.deliver()
    assert await gone.take(0) == [] and not gone.offer("late")
    assert _ids(await kept.take(0)) == [1]


async def test_an_announcement_of_what_every_client_was_sent_costs_no_round() -> None:
    store = MemoryStore()
    reads = _counting_reads(store)
    hub = EventHub(store, Clock(), catch_up_s=60)  # no catch-up: announcements alone drive the rounds
    stop = asyncio.Event()
    running = asyncio.create_task(hub.run(stop))
    dashboard, script, other = hub.connect(1), hub.connect(1), hub.connect(2)
    for listener in (dashboard, script, other):
        await hub.subscribe(listener, ["orders"], 0)
    hub.published(_write(store, 2, Topic.ORDERS, 1))
    assert _ids(await other.take(1)) == [1]  # the subscriptions' rounds have run
    read_so_far = await _settled(reads)  # and any round of user 2 marked again during its read

    hub.published(_write(store, 1, Topic.ORDERS, 2))
    assert _ids(await dashboard.take(1)) == _ids(await script.take(1)) == [1, 2]
    assert reads[read_so_far:] == [{1: 0}]  # the announced user only
    read_so_far = len(reads)

    # The same numbers again (the relay's copy of this process's own commit), and numbers of a user
    # whose clients were sent them: no read, nothing sent.
    hub.published({1: 2, 2: 1})
    hub.published({1: 1, 3: 5})
    await asyncio.sleep(0.05)
    assert len(reads) == read_so_far and await dashboard.take(0) == [] and await other.take(0) == []

    stop.set()
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)


async def test_a_round_lets_the_clients_woken_so_far_send_before_it_wakes_more() -> None:
    store = MemoryStore()
    hub = EventHub(store, Clock(), clients_per_turn=2)
    listeners = [hub.connect(user_id) for user_id in (1, 2, 3, 4, 5)]
    for listener in listeners:
        await hub.subscribe(listener, ["orders"], 0)
        _write(store, listener.user_id, Topic.ORDERS, 1)
    woken_with: list[int] = []  # how many clients had been handed their event when each one sent

    async def send(listener: Listener) -> None:  # as api/ws.py's sender: sends as soon as it is woken
        assert _ids(await listener.take(5)) == [1]
        woken_with.append(sum(li.cursor == 1 for li in listeners))

    senders = [asyncio.create_task(send(listener)) for listener in listeners]
    await asyncio.sleep(0)  # every sender waits for its client's first message
    await hub.catch_up()
    await hub.deliver()
    await asyncio.gather(*senders)

    # Two clients at a time (an event loop that writes at the end of its turn, uvloop, otherwise held
    # every frame of a round until the last client's was made).
    assert sorted(woken_with) == [2, 2, 4, 4, 5]


def _counting_reads(store: MemoryStore) -> list[dict[int, int]]:
    """Record every read of the outbox the hub makes."""
    reads: list[dict[int, int]] = []
    read = store.events_after

    def events_after(cursors: Mapping[int, int], limit: int) -> list[StoredEvent]:
        reads.append(dict(cursors))
        return read(cursors, limit)

    store.events_after = events_after  # type: ignore[method-assign]
    return reads


async def _settled(reads: list[dict[int, int]]) -> int:
    """Wait until the hub has made no read for a while; how many it made. (An announcement that
    arrives while a round reads the same user marks it again: one more round, reading nothing new.)"""
    while True:
        seen = len(reads)
        await asyncio.sleep(0.1)
        if len(reads) == seen:
            return seen


def _committed(store: MemoryStore, user_id: int, n: int) -> tuple[dict[int, int], list[StoredEvent]]:
    """Commit `n` orders events for the user; what its committer announces: numbers and events."""
    before = store.last_event_ids([user_id]).get(user_id, 0)
    last = _write(store, user_id, Topic.ORDERS, n)
    return last, MemoryStore.events_after(store, {user_id: before}, n)  # not a read of the hub's


async def test_a_commit_announced_with_its_events_is_sent_without_reading_them_back() -> None:
    store = MemoryStore()
    hub = EventHub(store, Clock(), catch_up_s=60)
    reads = _counting_reads(store)
    dashboard, script = hub.connect(1), hub.connect(1)
    await hub.subscribe(dashboard, ["orders"], None)
    await hub.subscribe(script, ["orders"], None)
    await hub.deliver()  # the subscriptions' round (nothing to send yet)
    read_so_far = len(reads)

    hub._announced(*_committed(store, 1, 2))
    hub._announced(*_committed(store, 1, 1))  # a second commit before the round: both, in order
    await hub.deliver()

    assert _ids(await dashboard.take(0)) == _ids(await script.take(0)) == [1, 2, 3]
    assert reads[read_so_far:] == []  # served from the announcements


async def test_announcements_with_events_out_of_order_are_read_without_gap_or_repeat() -> None:
    store = MemoryStore()
    hub = EventHub(store, Clock(), catch_up_s=60)
    reads = _counting_reads(store)
    client = hub.connect(1)
    await hub.subscribe(client, ["orders"], None)
    await hub.deliver()
    read_so_far = len(reads)
    first, second = _committed(store, 1, 2), _committed(store, 1, 2)

    hub._announced(*second)  # the later commit's announcement first: 1 and 2 are missing
    await hub.deliver()
    assert _ids(await client.take(0)) == [1, 2, 3, 4]  # read from the outbox, all of them
    assert reads[read_so_far:] == [{1: 0}]

    hub._announced(*first)  # already sent: nothing more, no read
    await hub.deliver()
    assert await client.take(0) == [] and len(reads) == read_so_far + 1


async def test_a_client_behind_the_announced_events_is_sent_what_it_missed_from_the_outbox() -> None:
    store = MemoryStore()
    hub = EventHub(store, Clock(), catch_up_s=60)
    live = hub.connect(1)
    await hub.subscribe(live, ["orders"], None)
    await hub.deliver()
    _write(store, 1, Topic.ORDERS, 2)  # nobody told (another process, the relay's message lost)
    resuming = hub.connect(1)
    await hub.subscribe(resuming, ["orders"], 1)  # a reconnect that had seen number 1

    hub._announced(*_committed(store, 1, 1))  # number 3, announced with its event
    await hub.deliver()

    assert _ids(await resuming.take(0)) == [2, 3]
    assert _ids(await live.take(0)) == [1, 2, 3]


async def test_announced_events_beyond_a_page_are_read_instead_of_kept() -> None:
    store = MemoryStore()
    hub = EventHub(store, Clock(), catch_up_s=60, page=3)
    reads = _counting_reads(store)
    client = hub.connect(1)
    await hub.subscribe(client, ["orders"], None)
    await hub.deliver()
    read_so_far = len(reads)

    hub._announced(*_committed(store, 1, 2))
    hub._announced(*_committed(store, 1, 2))  # four kept would be over the page of three
    await hub.deliver()
    await hub.deliver()  # the page was full: the rest in the next round

    assert _ids(await client.take(0)) == [1, 2, 3, 4]
    assert reads[read_so_far:] == [{1: 0}, {1: 3}]
