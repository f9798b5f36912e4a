"""Cache invalidations shared through the local Redis, as split processes share them (each "process"
here has its own RedisCachePeers, with its own connections, on one channel). Every cache keeps its
values 300 s, so anything seen sooner was forgotten because another process said so.

- A key forgotten after a write in one process is forgotten in every other at once (its other keys
  kept), and not again in the writer.
- A model version uploaded through one process's registry (SqlModels on PostgreSQL) is the one the
  other process's strategies use at their next evaluation, not after the lookup TTL.
- Redis down: a write neither fails nor waits, the failure is logged once, and a listener that was
  cut off forgets everything it keeps once it hears again (it may have missed something). A Redis
  that takes connections and never answers holds up no write either.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import statistics
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from tests.conftest import REDIS_URL, proxied_url
from tests.fakes.tcp import TcpProxy
from tests.integration.test_models_store import Loaded, _model, _strategy
from tradewire.adapters.cache_peers import RedisCachePeers
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.models import SqlModels
from tradewire.domain.ml.strategy import LightgbmParams
from tradewire.services.caches import TtlCache

TTL_S = 300.0  # nothing expires during a test
NOW = datetime(2024, 1, 1, tzinfo=UTC)


async def _started(*peers: RedisCachePeers) -> None:
    for one in peers:
        one.start()
    await _until(lambda: all(one.subscriptions == 1 for one in peers), "the listeners to subscribe")


async def _until(done: Callable[[], bool], what: str, timeout_s: float = 5.0) -> float:
    """Seconds until `done()` held (polled every millisecond); fails after `timeout_s`."""
    start = time.perf_counter()
    while not done():
        assert time.perf_counter() - start < timeout_s, f"timed out waiting for {what}"
        await asyncio.sleep(0.001)
    return time.perf_counter() - start


def _kept(cache: TtlCache[int, str], key: int) -> bool:
    """Whether `cache` keeps `key` (looked at without counting a read)."""
    return cache._values is not None and key in cache._values


@pytest.fixture
async def channel(redis_prefix: str) -> AsyncIterator[str]:
    yield f"{redis_prefix}:caches"


async def test_a_key_forgotten_in_one_process_is_forgotten_in_every_other_at_once(channel: str) -> None:
    records = [TtlCache[int, str]("track_records", TTL_S) for _ in range(3)]
    peers = [RedisCachePeers(REDIS_URL, channel) for _ in range(3)]
    for one, cache in zip(peers, records, strict=True):
        one.share(cache)
    await _started(*peers)
    writer, others = records[0], records[1:]
    try:
        delays = []
        for round_ in range(20):
            for cache in records:
                cache.get(5, lambda: "old five")
                cache.get(6, lambda: "six")

            writer.invalidate(5)  # a pair ruled on, in the writer's process

            delays.append(
                await _until(
                    lambda: not any(_kept(c, 5) for c in others),
                    f"the other processes to forget key 5 (round {round_})",
                )
            )
            assert all(c.get(6, lambda: "new six") == "six" for c in others)  # only that key
            assert all(c.get(5, lambda: "new five") == "new five" for c in others)
        await asyncio.sleep(0.05)  # a message of its own would have come back by now
        assert peers[0].heard == 0 and peers[1].heard == peers[2].heard == 20
        print(
            f"\ninvalidation seen by the other processes after: min {min(delays) * 1000:.2f} ms, "
            f"median {statistics.median(delays) * 1000:.2f} ms, max {max(delays) * 1000:.2f} ms"
        )
    finally:
        for one in peers:
            await one.close()


async def test_a_model_uploaded_through_one_process_is_used_by_the_others_strategies_at_once(
    postgres_engine: Engine, channel: str
) -> None:
    members = SqlMembers(postgres_engine)
    alice = members.create_user("alice", "hash", NOW)
    strategy_id = _strategy(members, alice, {"model_symbol": "BTC/USDT"})
    api, worker = (SqlModels(postgres_engine, Loaded, lookup_ttl_s=TTL_S) for _ in range(2))
    api_peers, worker_peers = RedisCachePeers(REDIS_URL, channel), RedisCachePeers(REDIS_URL, channel)
    api_peers.share(api.lookups)
    worker_peers.share(worker.lookups)
    await _started(api_peers, worker_peers)
    params = LightgbmParams(model_symbol="BTC/USDT")
    try:
        first = await asyncio.to_thread(api.add_model, _model(alice, b"tree v1"))
        used = worker.model_for(strategy_id, params)
        assert used is not None and (used.model_id, used.version) == (first, 1)
        assert worker.model_for(strategy_id, params) == used  # kept: no query
        misses = worker.lookups.misses

        second = await asyncio.to_thread(api.add_model, _model(alice, b"tree v2"))  # an upload via the API

        def uses_the_new_version() -> bool:
            now_used = worker.model_for(strategy_id, params)
            return now_used is not None and (now_used.model_id, now_used.version) == (second, 2)

        seconds = await _until(uses_the_new_version, "the worker to use version 2")
        assert worker.lookups.misses > misses
        print(f"\nthe new model version used by the other process after {seconds * 1000:.2f} ms")
    finally:
        await api_peers.close()
        await worker_peers.close()


async def test_without_redis_a_write_neither_fails_nor_waits_and_a_listener_back_forgets_what_it_kept(
    redis_proxy: TcpProxy, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "tradewire.caches")
    url = proxied_url(redis_proxy)
    here, there = TtlCache[None, str]("marketplace", TTL_S), TtlCache[None, str]("marketplace", TTL_S)
    writer, reader = RedisCachePeers(url, channel, retry_s=0.1), RedisCachePeers(url, channel, retry_s=0.1)
    writer.share(here)
    reader.share(there)
    await _started(writer, reader)
    try:
        there.get(None, lambda: "before the outage")
        redis_proxy.stop()
        await _until(
            lambda: sum("not heard" in r.getMessage() for r in caplog.records) >= 2,
            "both listeners to lose their subscription",
        )

        timings = []
        for _ in range(50):  # writes while Redis is away
            start = time.perf_counter()
            here.clear()
            timings.append(time.perf_counter() - start)
            await asyncio.sleep(0.002)
        await asyncio.sleep(0.3)  # the publisher tries (and fails) meanwhile
        assert max(timings) < 0.005, f"a write waited {max(timings) * 1000:.1f} ms for Redis"
        assert there.get(None, lambda: "fresh") == "before the outage"  # unheard: kept, for its TTL

        redis_proxy.start()
        seconds = await _until(lambda: reader.subscriptions == 2, "the reader to hear again", 10)
        assert there.get(None, lambda: "fresh") == "fresh"  # forgotten on hearing again
        messages = [r.getMessage() for r in caplog.records if r.name == "tradewire.caches"]
        assert sum("not shared" in m for m in messages) == 1, messages  # logged once
        assert any("heard again" in m for m in messages)
        print(
            f"\nwrites without Redis: median {statistics.median(timings) * 1e6:.1f} us, "
            f"max {max(timings) * 1e6:.1f} us; heard again {seconds * 1000:.0f} ms after Redis came back"
        )

        # Shared again: the next write reaches the reader at once.
        there.get(None, lambda: "kept again")
        here.clear()
        await _until(lambda: there.get(None, lambda: "after") == "after", "the reader to forget again")
        assert any("shared again" in r.getMessage() for r in caplog.records)
    finally:
        await writer.close()
        await reader.close()


async def test_a_redis_that_never_answers_holds_up_no_write(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "tradewire.caches")
    silent = socket.socket()  # connections complete in the backlog; nothing is ever read or said
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    cache = TtlCache[int, str]("track_records", TTL_S)
    peers = RedisCachePeers(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", "silent:caches")
    peers.share(cache)
    peers.start()
    try:
        timings = []
        for key in range(20):
            start = time.perf_counter()
            cache.invalidate(key)
            timings.append(time.perf_counter() - start)
            await asyncio.sleep(0.01)
        assert max(timings) < 0.005, f"a write waited {max(timings) * 1000:.1f} ms"
        await _until(
            lambda: any("not shared" in r.getMessage() for r in caplog.records),
            "the publisher to give up on the silent server",
        )
    finally:
        await asyncio.wait_for(peers.close(), 5)
        silent.close()
