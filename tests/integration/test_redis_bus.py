"""The bus on Redis Streams, against the local Redis: every handler type gets every message, processes
running one handler share its group, failures are retried and then dead-lettered, a stopped
consumer's messages are taken over, and a Redis that is down never fails a publish."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.conftest import REDIS_URL
from tradewire.adapters.redis_bus import RedisStreamsBus

TOPIC = "signal.received"


class Recorder:
    """A handler type: records the ids it handled; `fail` decides (by id and attempt) to raise."""

    def __init__(
        self, fail: Callable[[int, int], bool] = lambda _id, _attempt: False, pause: float = 0
    ) -> None:
        self.handled: list[int] = []
        self.attempts: dict[int, int] = {}
        self.fail = fail
        self.pause = pause

    async def handle(self, message: Mapping[str, Any]) -> None:
        number = int(message["n"])
        self.attempts[number] = attempt = self.attempts.get(number, 0) + 1
        if self.pause:
            await asyncio.sleep(self.pause)
        if self.fail(number, attempt):
            raise RuntimeError(f"cannot handle {number} (attempt {attempt})")
        self.handled.append(number)


class Other(Recorder):
    """Another handler type: a consumer group of its own."""


@pytest.fixture
async def buses(redis_prefix: str) -> AsyncIterator[Callable[..., RedisStreamsBus]]:
    made: list[RedisStreamsBus] = []

    def make(**options: Any) -> RedisStreamsBus:
        bus = RedisStreamsBus(REDIS_URL, redis_prefix, **{"claim_idle_s": 0.3, "block_ms": 200, **options})
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.stop()


async def _recording(bus: RedisStreamsBus) -> Recorder:
    """A Recorder subscribed to TOPIC on `bus`, which is then started."""
    recorder = Recorder()
    bus.subscribe(TOPIC, recorder.handle)
    await bus.start()
    return recorder


async def _two_processes(
    buses: Callable[..., RedisStreamsBus], pause: float, **options: Any
) -> list[tuple[RedisStreamsBus, Recorder]]:
    """Two processes' buses (`options`), each with a Recorder on TOPIC taking `pause` a message: one
    handler type, so one consumer group between them; both started."""
    pairs = [(buses(**options), Recorder(pause=pause)) for _ in range(2)]
    for bus, recorder in pairs:
        bus.subscribe(TOPIC, recorder.handle)
    for bus, _ in pairs:
        await bus.start()
    return pairs


async def _drained(*buses: RedisStreamsBus, timeout: float = 10) -> None:
    await asyncio.wait_for(asyncio.gather(*(bus.drain() for bus in buses)), timeout)


async def _consumers(client: aioredis.Redis, stream: str, group: str) -> dict[str, int]:
    return {c["name"].decode(): int(c["pending"]) for c in await client.xinfo_consumers(stream, group)}


async def test_every_handler_type_gets_every_message(buses: Callable[..., RedisStreamsBus]) -> None:
    bus = buses()
    first, second, elsewhere = Recorder(), Other(), Recorder()
    bus.subscribe(TOPIC, first.handle)
    bus.subscribe(TOPIC, second.handle)
    bus.subscribe("intent.confirmed", Other().handle)
    await bus.start()
    for number in range(5):
        await bus.publish(TOPIC, {"n": number})
    await _drained(bus)

    assert first.handled == second.handled == [0, 1, 2, 3, 4]
    assert elsewhere.handled == []
    assert bus.problem() is None
    with pytest.raises(ValueError, match="already subscribes"):
        bus.subscribe(TOPIC, Recorder().handle)


async def test_two_processes_on_one_group_share_its_messages(
    buses: Callable[..., RedisStreamsBus],
) -> None:
    (a, on_a), (b, on_b) = await _two_processes(buses, pause=0.05, batch=1)
    for number in range(20):
        await a.publish(TOPIC, {"n": number})
        await asyncio.sleep(0.01)
    await _drained(a, b)

    assert sorted(on_a.handled + on_b.handled) == list(range(20))  # each handled once
    assert on_a.handled and on_b.handled  # by both processes


async def test_a_failed_handler_is_retried_and_succeeds(buses: Callable[..., RedisStreamsBus]) -> None:
    bus = buses()
    flaky = Recorder(fail=lambda number, attempt: number == 1 and attempt == 1)
    bus.subscribe(TOPIC, flaky.handle)
    await bus.start()
    for number in range(3):
        await bus.publish(TOPIC, {"n": number})
    await _drained(bus)

    assert sorted(flaky.handled) == [0, 1, 2]
    assert flaky.attempts == {0: 1, 1: 2, 2: 1}
    assert await bus.dead_letters() == []


async def test_a_message_that_always_fails_is_dead_lettered_after_max_deliveries(
    buses: Callable[..., RedisStreamsBus],
) -> None:
    bus = buses(max_deliveries=3, claim_idle_s=0.1)
    poisoned = Recorder(fail=lambda number, _attempt: number == 7)
    bus.subscribe(TOPIC, poisoned.handle)
    await bus.start()
    await bus.publish(TOPIC, {"n": 7})
    await bus.publish(TOPIC, {"n": 8})
    await _drained(bus)

    assert poisoned.attempts == {7: 3, 8: 1}
    assert poisoned.handled == [8]
    [dead] = await bus.dead_letters()
    assert dead["topic"] == TOPIC
    assert dead["group"].endswith("Recorder.handle")
    assert dead["body"] == '{"n":7}'
    assert dead["error"] == "RuntimeError: cannot handle 7 (attempt 3)"
    assert dead["deliveries"] == "3"


async def test_an_unreadable_message_is_dead_lettered_at_once(
    buses: Callable[..., RedisStreamsBus], redis_prefix: str
) -> None:
    bus = buses()
    recorder = await _recording(bus)
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.xadd(f"{redis_prefix}:{TOPIC}", {"body": "not json"})
    await client.aclose()
    await bus.publish(TOPIC, {"n": 1})
    await _drained(bus)

    assert recorder.handled == [1]
    [dead] = await bus.dead_letters()
    assert dead["body"] == "not json"
    assert dead["error"].startswith("unreadable message")


async def test_a_stopped_consumers_pending_messages_are_taken_over(
    buses: Callable[..., RedisStreamsBus], redis_prefix: str
) -> None:
    stuck = asyncio.Event()

    class Worker(Recorder):
        async def handle(self, message: Mapping[str, Any]) -> None:
            if self is dying:
                stuck.set()
                await asyncio.Event().wait()  # never finishes: its process goes away meanwhile
            await super().handle(message)

    dying, survivor = Worker(), Worker()
    a, b = buses(), buses()
    a.subscribe(TOPIC, dying.handle)
    b.subscribe(TOPIC, survivor.handle)
    await a.start()
    await a.publish(TOPIC, {"n": 42})
    await asyncio.wait_for(stuck.wait(), 5)
    await a.stop()  # with the message pending on its consumer, which therefore stays in the group
    client = aioredis.Redis.from_url(REDIS_URL)
    stream, group = f"{redis_prefix}:{TOPIC}", f"{__name__}.{Worker.__qualname__}.handle"
    assert await _consumers(client, stream, group) == {a.consumer: 1}
    await b.start()
    await _drained(b)
    await b.stop()  # holding nothing: removed
    left = await _consumers(client, stream, group)
    await client.aclose()

    assert survivor.handled == [42]
    assert dying.handled == []
    assert left == {a.consumer: 0}  # b took its message; removed in turn after gone_after_s


async def test_consumers_of_processes_gone_are_removed_once_they_hold_nothing(
    buses: Callable[..., RedisStreamsBus], redis_prefix: str
) -> None:
    bus = buses(gone_after_s=0.6)
    recorder = await _recording(bus)
    stream, group = f"{redis_prefix}:{TOPIC}", "tests.integration.test_redis_bus.Recorder.handle"
    client = aioredis.Redis.from_url(REDIS_URL)
    await bus.publish(TOPIC, {"n": 1})
    await client.xreadgroup(group, "gone-with-one", {stream: ">"})  # died holding a message
    await client.xgroup_createconsumer(stream, group, "gone-empty")  # died holding nothing
    await _drained(bus)
    await asyncio.sleep(1.2)
    names = {c["name"] for c in await client.xinfo_consumers(stream, group)}
    await client.aclose()

    assert recorder.handled == [1]  # claimed from gone-with-one, which is then removed too
    assert b"gone-empty" not in names and b"gone-with-one" not in names
    # Redis counts a consumer idle while its blocking reads find nothing, so a live one may be removed
    # too when it holds nothing: its next delivery creates it again.
    await bus.publish(TOPIC, {"n": 2})
    await _drained(bus)
    assert recorder.handled == [1, 2]


async def test_a_long_handler_keeps_its_message(buses: Callable[..., RedisStreamsBus]) -> None:
    """A handler that runs past the claim idle time is still running, not dead: no one else takes
    its message. (The handler runs 2.5 claim idle times; the idle time is long enough that a loaded
    CI machine's event-loop stall does not pass for a dead consumer: 0.2 s once did.)"""
    (a, on_a), (b, on_b) = await _two_processes(buses, pause=2.5, claim_idle_s=1.0)
    await a.publish(TOPIC, {"n": 1})
    await _drained(a, b)

    assert sorted(on_a.handled + on_b.handled) == [1]
    assert sum(on_a.attempts.values()) + sum(on_b.attempts.values()) == 1


async def test_a_group_redis_lost_is_created_again(
    buses: Callable[..., RedisStreamsBus], redis_prefix: str
) -> None:
    bus = buses()
    recorder = await _recording(bus)
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.delete(f"{redis_prefix}:{TOPIC}")  # as after a restart without persistence
    await client.aclose()
    await bus.publish(TOPIC, {"n": 5})
    await _drained(bus)

    assert recorder.handled == [5]


async def test_redis_down_never_fails_a_publish_and_is_reported() -> None:
    bus = RedisStreamsBus("redis://127.0.0.1:1/0", "tradewire-test-down", block_ms=100, retry_max_s=0.2)
    await bus.publish(TOPIC, {"n": 1})  # no exception
    assert (bus.problem() or "").startswith("Redis unreachable")

    consumer = RedisStreamsBus("redis://127.0.0.1:1/0", "tradewire-test-down", block_ms=100, retry_max_s=0.2)
    consumer.subscribe(TOPIC, Recorder().handle)
    assert consumer.problem() == "not started"
    await consumer.start()  # no exception: the consumers keep trying
    await asyncio.sleep(0.3)
    assert (consumer.problem() or "").startswith("Redis unreachable")
    await consumer.stop()
    await bus.stop()


async def test_a_redis_that_hangs_holds_a_publish_up_for_at_most_its_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        bus = RedisStreamsBus(url, "tradewire-test-silent", publish_timeout_s=0.5)
        started = time.monotonic()
        await bus.publish(TOPIC, {"n": 1})  # no exception
        took = time.monotonic() - started
        await bus.stop()

    assert took < 2
    assert (bus.problem() or "").startswith("Redis unreachable: TimeoutError")
