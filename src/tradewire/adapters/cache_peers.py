"""Cache invalidations shared by split processes (TRADEWIRE_ROLE=api and workers, services/caches.py).

When a write in one process forgets a kept value (a strategy published, a subscription paused, a model
uploaded), that process publishes the cache's name and the keys on a Redis pub/sub channel
(`<TRADEWIRE_BUS_PREFIX>:caches`). Every other process listens and forgets the same entries, so the
write shows in all of them at once, not after the TTL.

It is only a hint, and it never slows or fails a write. Writers only queue the keys; a background task
publishes them, coalesced (many keys of one cache become "forget it all"). If Redis is down, the
invalidations are dropped and logged once. A listener that was cut off clears every cache it shares
once it is subscribed again, since it may have missed something. Anything else lost waits for the
TTL, as without this.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import threading
from collections.abc import Hashable
from typing import Any

import redis
import redis.asyncio as aioredis

from tradewire.adapters.event_relay import listen
from tradewire.services.caches import TtlCache

log = logging.getLogger("tradewire.caches")

MAX_BODY = 64 * 1024  # bytes; a longer body is not ours
MAX_KEYS = 256  # keys of one cache in one message; past that the others forget all of it
MAX_KEY_CHARS = 200  # a key's JSON; a longer key makes the others forget all of its cache
CLOSE_WAIT_S = 2.0  # the last invalidations' time to go out when the process stops


class RedisCachePeers:
    """`CachePeers` over Redis pub/sub. It also forgets here what the other processes publish, for the
    caches given to `share`. It runs from `start` (on the running loop) until `close`."""

    def __init__(self, redis_url: str, channel: str, retry_s: float = 1.0) -> None:
        self._url = redis_url
        self.channel = channel
        self._retry_s = retry_s
        self._origin = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._caches: dict[str, TtlCache[Any, Any]] = {}
        self._lock = threading.Lock()  # writers queue from worker threads as well as the loop
        self._pending: dict[str, set[str] | None] = {}  # cache -> keys as JSON; None: all of it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._publish_failing = False
        self.heard = 0  # invalidations of other processes applied here
        self.subscriptions = 0  # confirmed by Redis: 1 once listening, one more after each reconnection

    def share(self, *caches: TtlCache[Any, Any]) -> None:
        """Tell the other processes what these caches forget after a write, and forget in them
        what the others say."""
        for cache in caches:
            if self._caches.setdefault(cache.name, cache) is not cache:
                raise ValueError(f"two caches named {cache.name!r}")
            cache.share_with(self)

    # -- CachePeers: called by writers, from any thread ------------------------------------------

    def forget(self, cache: str, key: Hashable) -> None:
        try:
            encoded: str | None = json.dumps(key, separators=(",", ":"))  # a tuple as a list
        except (TypeError, ValueError):
            encoded = None
        with self._lock:
            keys = self._pending.get(cache, set())
            if keys is not None:
                if encoded is None or len(encoded) > MAX_KEY_CHARS or len(keys) >= MAX_KEYS:
                    self._pending[cache] = None
                else:
                    keys.add(encoded)
                    self._pending[cache] = keys
        self._poke()

    def forget_all(self, cache: str) -> None:
        with self._lock:
            self._pending[cache] = None
        self._poke()

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return  # not started: sent at start (a bounded set meanwhile)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody left to tell
            loop.call_soon_threadsafe(wake.set)

    # -- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Publish this process's invalidations and apply the others', in tasks on the running loop."""
        if self._publisher is not None:
            return
        loop = asyncio.get_running_loop()
        self._loop, self._wake, self._stop = loop, asyncio.Event(), asyncio.Event()
        self._wake.set()  # whatever was queued before
        self._publisher = loop.create_task(self._publishing(self._wake, self._stop))
        self._listener = loop.create_task(self._listening(self._stop))

    async def close(self) -> None:
        """Stop listening; the invalidations still queued get a moment to go out."""
        if self._publisher is None or self._listener is None or self._stop is None or self._wake is None:
            return
        self._stop.set()
        self._wake.set()
        try:
            await asyncio.wait_for(self._publisher, CLOSE_WAIT_S)
        except TimeoutError:
            pass  # Redis slow or away: what is left waits for the TTL
        except Exception:
            log.exception("cache invalidations: the publisher failed")
        self._listener.cancel()
        await asyncio.gather(self._listener, return_exceptions=True)
        self._loop = self._wake = self._stop = None
        self._publisher = self._listener = None

    async def _publishing(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        client = aioredis.Redis.from_url(self._url, socket_connect_timeout=1, socket_timeout=1)
        try:
            while True:
                await wake.wait()
                wake.clear()
                for body in self._bodies():
                    await self._publish(client, body)
                if stop.is_set():
                    return
        finally:
            await client.aclose()

    def _bodies(self) -> list[str]:
        """The queued invalidations as messages, one per cache; the queue emptied."""
        with self._lock:
            pending, self._pending = self._pending, {}
        bodies = []
        for cache, keys in pending.items():
            body: dict[str, Any] = {"o": self._origin, "c": cache}
            if keys is not None:
                body["k"] = [json.loads(k) for k in sorted(keys)]
            bodies.append(json.dumps(body, separators=(",", ":")))
        return bodies

    async def _publish(self, client: aioredis.Redis, body: str) -> None:
        try:
            await client.publish(self.channel, body)
        except Exception as exc:  # Redis away, or anything else: dropped, the publisher goes on
            if not self._publish_failing:
                log.warning(
                    "cache invalidations not shared (%s): other processes see this one's writes "
                    "within their cache TTL",
                    exc,
                    exc_info=not isinstance(exc, redis.RedisError | OSError),
                )
            self._publish_failing = True
            return
        if self._publish_failing:
            log.info("cache invalidations shared again")
        self._publish_failing = False

    async def _listening(self, stop: asyncio.Event) -> None:
        async def heard(data: object) -> None:
            self._apply(data)

        await listen(
            self._url,
            self.channel,
            heard,
            stop,
            "cache invalidations of other processes",
            self._retry_s,
            subscribed=self._subscribed,
        )

    def _subscribed(self) -> None:
        """Hearing from now on: forget what was kept, as something may have been written unheard
        (before the first subscription, or while Redis was away)."""
        for cache in self._caches.values():
            cache.clear_here()
        self.subscriptions += 1
        if self.subscriptions > 1:
            log.info("cache invalidations of other processes heard again; every cache here forgotten")

    def _apply(self, data: object) -> None:
        parsed = _parse(data)
        if parsed is None or parsed[0] == self._origin:
            return
        _origin, name, keys = parsed
        cache = self._caches.get(name)
        if cache is None:
            return
        if keys is None:
            cache.clear_here()
        else:
            for key in keys:
                try:
                    cache.invalidate_here(key)
                except TypeError:  # not a key any cache of ours could hold
                    continue
        self.heard += 1


def _parse(data: object) -> tuple[str, str, list[Any] | None] | None:
    """(origin, cache, keys or None for all) of a published body; None for anything malformed."""
    try:
        raw = data if isinstance(data, bytes) else str(data).encode()
        if len(raw) > MAX_BODY:
            return None
        body = json.loads(raw)
        origin, cache, keys = body["o"], body["c"], body.get("k")
        if not isinstance(origin, str) or not isinstance(cache, str):
            return None
        if keys is None:
            return origin, cache, None
        if isinstance(keys, list) and len(keys) <= MAX_KEYS:
            return origin, cache, [_tupled(k) for k in keys]
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def _tupled(value: Any) -> Any:
    """A key as it was before JSON: lists back to tuples."""
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value
