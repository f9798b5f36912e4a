"""The in-process bus: asyncio queues, at-least-once delivery with retries, idempotent handlers."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from tradewire.ports import Handler

log = logging.getLogger("tradewire.bus")


class InProcessBus:
    """One queue and one consumer task per (topic, handler); a failed handler is retried with backoff."""

    def __init__(self, max_attempts: int = 5, retry_base_s: float = 0.2) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._queues: list[tuple[asyncio.Queue[Mapping[str, Any]], Handler, str]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._max_attempts = max_attempts
        self._retry_base = retry_base_s

    def subscribe(self, topic: str, handler: Handler) -> None:
        queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        self._handlers[topic].append(handler)
        self._queues.append((queue, handler, topic))
        if self._tasks:  # already started: start this consumer too
            self._tasks.append(asyncio.get_running_loop().create_task(self._consume(queue, handler, topic)))

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        for queue, _handler, queue_topic in self._queues:
            if queue_topic == topic:
                queue.put_nowait(dict(message))

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._consume(q, h, t)) for q, h, t in self._queues]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def problem(self) -> str | None:
        """Why messages would not be handled now (not started, a consumer ended), or None (/health)."""
        if self._queues and not self._tasks:
            return "not started"
        ended = sorted(
            {topic for task, (_q, _h, topic) in zip(self._tasks, self._queues, strict=False) if task.done()}
        )
        return f"consumers ended: {', '.join(ended)}" if ended else None

    async def drain(self) -> None:
        """Wait until every queued message has been handled (tests, benchmarks, shutdown)."""
        for queue, _handler, _topic in self._queues:
            await queue.join()

    async def _consume(self, queue: asyncio.Queue[Mapping[str, Any]], handler: Handler, topic: str) -> None:
        while True:
            message = await queue.get()
            try:
                for attempt in range(1, self._max_attempts + 1):
                    try:
                        await handler(message)
                        break
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception(
                            "handler for %s failed (attempt %d of %d)", topic, attempt, self._max_attempts
                        )
                        if attempt == self._max_attempts:
                            log.error("giving up on %s message %s; the sweep will catch up", topic, message)
                        else:
                            await asyncio.sleep(self._retry_base * 2 ** (attempt - 1))
            finally:
                queue.task_done()
