"""Wake-ups between workers on real Redis pub/sub: every other listener hears one, not its sender;
a malformed or oversized body is ignored; a handler that fails does not stop the others."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis

from tests.conftest import REDIS_URL
from tradewire.adapters.wakeups import MAX_BODY, RedisWakeups


async def test_a_wake_up_reaches_every_other_worker_once_and_not_its_sender(redis_prefix: str) -> None:
    channel = f"{redis_prefix}:wakeups"
    sender, first, second = (RedisWakeups(REDIS_URL, channel) for _ in range(3))
    heard: dict[str, list[Mapping[str, Any]]] = {"sender": [], "first": [], "second": []}

    def record(name: str) -> Any:
        async def handler(message: Mapping[str, Any]) -> None:
            heard[name].append(message)

        return handler

    async def broken(_message: Mapping[str, Any]) -> None:
        raise RuntimeError("a handler that fails")

    sender.subscribe("intents.waiting", record("sender"))
    first.subscribe("intents.waiting", broken)
    first.subscribe("intents.waiting", record("first"))
    second.subscribe("intents.waiting", record("second"))
    second.subscribe("other.topic", record("second"))
    stop = asyncio.Event()
    listening = [asyncio.create_task(w.run(stop)) for w in (sender, first, second)]
    await asyncio.sleep(0.3)  # subscribed
    raw = aioredis.Redis.from_url(REDIS_URL)
    await raw.publish(channel, b"not json")
    await raw.publish(channel, b"{" + b" " * MAX_BODY + b"}")
    await raw.aclose()
    await sender.publish("intents.waiting", {"signal_id": 7})
    for _ in range(50):
        if heard["first"] and heard["second"]:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*listening)
    await sender.close()

    assert heard == {"sender": [], "first": [{"signal_id": 7}], "second": [{"signal_id": 7}]}


async def test_publishing_without_redis_is_logged_and_never_fails() -> None:
    unreachable = RedisWakeups("redis://127.0.0.1:1/0", "nowhere")
    await unreachable.publish("intents.waiting", {"signal_id": 1})  # no exception: the sweep catches up
    await unreachable.publish("intents.waiting", {"signal_id": 2})
    await unreachable.close()
