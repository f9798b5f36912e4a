"""Wake-ups that reach every worker (several active workers, TRADEWIRE_WORKER_PARTITIONS).

A bus message reaches one worker of the group; when the work it names belongs to accounts other workers
own (a signal's intents, a manual close, "sync now"), that worker publishes a wake-up on a Redis pub/sub
channel and every other worker does its share at once. Only a hint: the database keeps the work, and a
lost wake-up (Redis down, a listener reconnecting) only waits for each worker's next sweep.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
from collections.abc import Mapping
from typing import Any

import redis
import redis.asyncio as aioredis

from tradewire.adapters.event_relay import listen
from tradewire.ports.bus import Handler

log = logging.getLogger("tradewire.wakeups")

MAX_BODY = 64 * 1024  # bytes; anything longer is not ours


class RedisWakeups:
    """A Bus whose messages reach every other process listening (`run`), not this one."""

    def __init__(self, redis_url: str, channel: str) -> None:
        self._url = redis_url
        self.channel = channel
        self._origin = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._handlers: dict[str, list[Handler]] = {}
        self._client: aioredis.Redis | None = None
        self._failing = False

    def subscribe(self, topic: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, []).append(handler)

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        body = json.dumps({"o": self._origin, "t": topic, "m": dict(message)}, separators=(",", ":"))
        try:
            if self._client is None:
                self._client = aioredis.Redis.from_url(self._url, socket_connect_timeout=1, socket_timeout=1)
            await self._client.publish(self.channel, body)
            self._failing = False
        except (redis.RedisError, OSError) as exc:
            if not self._failing:
                log.warning("wake-ups to other workers not sent (%s): they catch up at their sweep", exc)
            self._failing = True

    async def run(self, stop: asyncio.Event, retry_s: float = 1.0) -> None:
        """Hand every wake-up other processes publish to this process's handlers until `stop`."""
        await listen(self._url, self.channel, self._dispatch, stop, "wake-ups from other workers", retry_s)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _dispatch(self, data: object) -> None:
        parsed = _parse(data)
        if parsed is None or parsed[0] == self._origin:
            return
        _origin, topic, message = parsed
        for handler in self._handlers.get(topic, []):
            try:
                await handler(message)
            except Exception:
                log.exception("wake-up %s: handling failed (the sweep catches up)", topic)


def _parse(data: object) -> tuple[str, str, dict[str, Any]] | None:
    """(origin, topic, message) of a published body; None for anything malformed."""
    try:
        raw = data if isinstance(data, bytes) else str(data).encode()
        if len(raw) > MAX_BODY:
            return None
        body = json.loads(raw)
        origin, topic, message = body["o"], body["t"], body["m"]
        if isinstance(origin, str) and isinstance(topic, str) and isinstance(message, dict):
            return origin, topic, message
    except (ValueError, KeyError, TypeError):
        pass
    return None
