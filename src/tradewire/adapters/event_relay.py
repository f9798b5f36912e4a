"""Wake-ups of the live channel across processes (split deployment: TRADEWIRE_ROLE=api and workers).

A worker commits most events (fills, orders, positions), while an API process holds the WebSocket
clients. After each commit the writer publishes which users have new events, up to which number, on a
Redis pub/sub channel; every API process listens and serves those users at once. This is only a hint,
as in one process: the events are in the outbox, and a lost message (Redis down, a listener
reconnecting) only delays delivery to the next catch-up (TRADEWIRE_WS_CATCH_UP_S).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

import redis
import redis.asyncio as aioredis

from tradewire.domain.events import StoredEvent
from tradewire.ports.events import EventNotifier

log = logging.getLogger("tradewire.events.relay")


class RedisEventRelay:
    """Publishes commits' wake-ups (an EventNotifier, called from any thread) and hands the ones
    published by other processes to this process's notifier (`listen`)."""

    def __init__(self, redis_url: str, channel: str) -> None:
        self._url = redis_url
        self.channel = channel
        self._client: redis.Redis | None = None
        self._failing = False

    def published(self, last_ids: Mapping[int, int], events: Sequence[StoredEvent] = ()) -> None:
        # Only the numbers: another process reads the events from the outbox.
        if not last_ids:
            return
        body = json.dumps({str(user): last for user, last in last_ids.items()}, separators=(",", ":"))
        try:
            if self._client is None:
                self._client = redis.Redis.from_url(self._url, socket_connect_timeout=1, socket_timeout=1)
            self._client.publish(self.channel, body)
            self._failing = False
        except (redis.RedisError, OSError) as exc:
            if not self._failing:
                log.warning("live channel wake-ups not shared (%s): other processes catch up later", exc)
            self._failing = True

    async def listen(self, local: EventNotifier, stop: asyncio.Event, retry_s: float = 1.0) -> None:
        """Hand every wake-up published on the channel to `local` until `stop` is set; reconnects."""

        async def heard(data: object) -> None:
            local.published(_last_ids(data))

        await listen(self._url, self.channel, heard, stop, "live channel wake-ups", retry_s)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class Notifiers:
    """Tells each of several notifiers (this process's live channel, and the relay)."""

    def __init__(self, notifiers: Sequence[EventNotifier]) -> None:
        self._notifiers = tuple(notifiers)

    def published(self, last_ids: Mapping[int, int], events: Sequence[StoredEvent] = ()) -> None:
        for notifier in self._notifiers:
            notifier.published(last_ids, events)


def _last_ids(data: object) -> dict[int, int]:
    """A published body's {user: last event number}; nothing for anything malformed."""
    try:
        raw = json.loads(data.decode() if isinstance(data, bytes) else str(data))
        return {int(user): int(last) for user, last in raw.items()}
    except (ValueError, AttributeError, TypeError):
        return {}


async def listen(
    url: str,
    channel: str,
    heard: Callable[[object], Awaitable[None]],
    stop: asyncio.Event,
    what: str,
    retry_s: float = 1.0,
    subscribed: Callable[[], None] | None = None,
) -> None:
    """Hand the body of every message published on a Redis pub/sub channel to `heard` until `stop` is
    set; reconnects after `retry_s` when Redis cannot be reached (logged as `what` not heard).
    `subscribed` is called each time Redis confirms the subscription, the first and after each
    reconnection: what was published before it was not heard."""
    while not stop.is_set():
        client = aioredis.Redis.from_url(url, socket_connect_timeout=1)
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(channel)
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message.get("type") == "message":
                        await heard(message.get("data"))
                    elif message.get("type") == "subscribe" and subscribed is not None:
                        subscribed()
        except (redis.RedisError, OSError) as exc:
            log.warning("%s not heard (%s); retrying", what, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry_s)
        finally:
            await client.aclose()
