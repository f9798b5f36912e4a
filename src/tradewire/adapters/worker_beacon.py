"""Which worker is active, as API processes see it (split deployment: TRADEWIRE_ROLE=api and workers).

The active worker writes a short status to Redis every few seconds, with an expiry: its process,
since when it is active, and its exit monitor's figures. API processes read it for the Health page.
With no fresh status, no worker is trading: webhooks are still stored and answered, and wait for the
next worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tradewire.adapters.health import Check
from tradewire.services.monitor import MonitorStats

log = logging.getLogger("tradewire.worker")

BEAT_S = 2.0
EXPIRES_S = 10.0  # a status older than this: no worker is active


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    host: str
    pid: int
    active_since: datetime
    monitor_rounds: int
    monitor_batch_ms: float
    monitor_round_at: datetime | None


class WorkerBeacon:
    """`run_beating` in the active worker; `run_reading` in an API process, which then answers
    `check()` and `monitor_stats()` from the last status read."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self._url = redis_url
        self._key = f"{prefix}:worker"
        self._last: WorkerStatus | None = None
        self._problem: str | None = "not read yet"

    async def run_beating(self, stats: Callable[[], MonitorStats], stop: asyncio.Event) -> None:
        client = aioredis.Redis.from_url(self._url, socket_connect_timeout=1, socket_timeout=2)
        since = datetime.now(UTC)
        try:
            while not stop.is_set():
                status = _status(stats(), since)
                try:
                    await client.set(self._key, json.dumps(status), px=int(EXPIRES_S * 1000))
                except (RedisError, OSError) as exc:
                    log.warning("worker status not shared (%s)", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), BEAT_S)
            with contextlib.suppress(RedisError, OSError):
                await client.delete(self._key)  # stopped: no longer active
        finally:
            await client.aclose()

    async def run_reading(self, stop: asyncio.Event) -> None:
        client = aioredis.Redis.from_url(self._url, socket_connect_timeout=1, socket_timeout=2)
        try:
            while not stop.is_set():
                await self.read(client)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), BEAT_S)
        finally:
            await client.aclose()

    async def read(self, client: aioredis.Redis) -> WorkerStatus | None:
        try:
            raw = await client.get(self._key)
        except (RedisError, OSError) as exc:
            self._last, self._problem = None, f"Redis unreachable: {type(exc).__name__}"
            return None
        self._last = _parse(raw)
        self._problem = (
            None
            if self._last is not None
            else f"no worker active (none reported in {EXPIRES_S:g} s): webhooks are stored, not traded"
        )
        return self._last

    def check(self) -> Check:
        started = time.perf_counter()
        return Check(self._problem is None, round((time.perf_counter() - started) * 1000, 2), self._problem)

    def monitor_stats(self) -> MonitorStats:
        """The active worker's exit monitor figures (none while no worker is active)."""
        found = self._last
        if found is None:
            return MonitorStats()
        return MonitorStats(
            evaluations=found.monitor_rounds,
            last_batch_ms=found.monitor_batch_ms,
            last_round_at=found.monitor_round_at,
        )


def _status(stats: MonitorStats, since: datetime) -> dict[str, object]:
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "active_since": since.isoformat(),
        "monitor_rounds": stats.evaluations,
        "monitor_batch_ms": stats.last_batch_ms,
        "monitor_round_at": stats.last_round_at.isoformat() if stats.last_round_at else None,
    }


def _parse(raw: object) -> WorkerStatus | None:
    if raw is None:
        return None
    try:
        found = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        at = found.get("monitor_round_at")
        return WorkerStatus(
            host=str(found["host"])[:255],
            pid=int(found["pid"]),
            active_since=datetime.fromisoformat(found["active_since"]),
            monitor_rounds=int(found["monitor_rounds"]),
            monitor_batch_ms=float(found["monitor_batch_ms"]),
            monitor_round_at=datetime.fromisoformat(at) if at else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        log.warning("the worker's status in Redis is unreadable")
        return None
