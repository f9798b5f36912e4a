"""The bus on Redis Streams: one stream per topic, one consumer group per (topic, handler).

Every handler type gets every message (a group each); the processes running a handler share its
group, so each message is handled by one of them. Delivery is at least once: a message is acked only
after its handler succeeded; a failed one stays pending and is claimed again (XAUTOCLAIM) once it has
been idle `claim_idle_s`, which also hands a dead consumer's messages to a live one. A message that
has been delivered `max_deliveries` times without success goes to the dead-letter stream
`<prefix>:dead` with its topic and error, and is acked. Handlers are idempotent and the database is
the truth: a message Redis loses (or one never published because Redis was down) is made good by the
pipeline's sweep.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from tradewire.ports import Handler

log = logging.getLogger("tradewire.bus")

_BODY = "body"
# Remove a consumer only while it holds no pending message (atomically: a script).
_DELETE_IF_EMPTY = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
"""


@dataclass(slots=True)
class _Subscription:
    topic: str
    stream: str
    group: str
    handler: Handler


def _handler_name(handler: Handler) -> str:
    """A name that is the same in every process running this handler: a bound method's class (the
    instance's, so subclasses get groups of their own) and name, or a function's qualified name."""
    owner = getattr(handler, "__self__", None)
    if owner is not None:
        kind = type(owner)
        return f"{kind.__module__}.{kind.__qualname__}.{getattr(handler, '__name__', 'handler')}"
    module = getattr(handler, "__module__", None) or type(handler).__module__
    name = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    return f"{module}.{name}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisStreamsBus:
    """At-least-once delivery through Redis Streams consumer groups (see the module's docstring)."""

    def __init__(
        self,
        url: str,
        prefix: str = "tradewire",
        *,
        max_deliveries: int = 5,
        claim_idle_s: float = 30.0,
        maxlen: int = 100_000,
        consumer: str | None = None,
        block_ms: int = 1000,
        batch: int = 64,
        retry_base_s: float = 0.2,
        retry_max_s: float = 10.0,
        socket_timeout_s: float = 5.0,
        gone_after_s: float = 3600.0,
        publish_timeout_s: float = 1.0,
    ) -> None:
        if max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1")
        self._redis: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=socket_timeout_s,
            # a blocking read waits block_ms on the server: the socket must wait longer than that
            socket_timeout=socket_timeout_s + block_ms / 1000,
        )
        self.prefix = prefix
        self.dead_letter_stream = f"{prefix}:dead"
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self._max_deliveries = max_deliveries
        self._claim_idle_ms = max(1, int(claim_idle_s * 1000))
        self._maxlen = maxlen
        self._block_ms = block_ms
        self._batch = batch
        self._retry_base = retry_base_s
        self._retry_max = retry_max_s
        self._gone_after_ms = int(gone_after_s * 1000)  # a consumer not reading this long: its process died
        self._publish_timeout = publish_timeout_s
        self._subscriptions: list[_Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._redis_problem: str | None = None

    def stream(self, topic: str) -> str:
        return f"{self.prefix}:{topic}"

    def subscribe(self, topic: str, handler: Handler) -> None:
        group = _handler_name(handler)
        stream = self.stream(topic)
        if any(s.stream == stream and s.group == group for s in self._subscriptions):
            raise ValueError(f"{group} already subscribes to {topic} on this bus")
        subscription = _Subscription(topic, stream, group, handler)
        self._subscriptions.append(subscription)
        if self._tasks:  # already started: start this consumer too
            self._tasks.append(asyncio.get_running_loop().create_task(self._consume(subscription)))

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        """Append the message to the topic's stream; with Redis unreachable, log and return (the
        database holds what the message points at, and the sweep finds it)."""
        body = json.dumps(dict(message), separators=(",", ":"))
        try:
            async with asyncio.timeout(self._publish_timeout):  # a Redis that hangs holds no request up
                await self._redis.xadd(
                    self.stream(topic), {_BODY: body}, maxlen=self._maxlen, approximate=True
                )
        except (RedisError, OSError) as exc:  # TimeoutError is an OSError
            self._redis_problem = f"Redis unreachable: {type(exc).__name__}: {exc}"
            log.warning(
                "bus: could not publish to %s (%s); the sweep will catch up", topic, self._redis_problem
            )
        else:
            if not self._subscriptions:  # a consumer clears the flag on its next read otherwise
                self._redis_problem = None

    async def start(self) -> None:
        """Create the consumer groups (new ones start at the stream's end) and start consuming. Redis
        unreachable: each consumer keeps trying with backoff, and problem() says so."""
        for subscription in self._subscriptions:
            try:
                await self._create_group(subscription, "$")
            except (RedisError, OSError) as exc:
                self._redis_problem = f"Redis unreachable: {type(exc).__name__}: {exc}"
                log.warning("bus: Redis unreachable at start (%s); consumers will retry", self._redis_problem)
                break
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._consume(s)) for s in self._subscriptions]

    async def stop(self) -> None:
        """Stop consuming; a message being handled stays pending and another consumer claims it."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._forget_idle_consumer()
        await self._redis.aclose()

    def problem(self) -> str | None:
        """Why messages would not be handled now (not started, a consumer ended, Redis unreachable),
        or None (/health)."""
        if self._subscriptions and not self._tasks:
            return "not started"
        ended = sorted(
            {s.topic for task, s in zip(self._tasks, self._subscriptions, strict=False) if task.done()}
        )
        if ended:
            return f"consumers ended: {', '.join(ended)}"
        return self._redis_problem

    async def drain(self, poll_s: float = 0.02) -> None:
        """Wait until every group of this bus has nothing pending and nothing unread (tests, benchmarks).

        Handlers that publish do so before their message is acked, so no message falls in between."""
        while True:
            try:
                if all([await self._settled(s) for s in self._subscriptions]):
                    return
            except (RedisError, OSError) as exc:
                log.debug("bus: drain could not read the groups: %s", exc)
            await asyncio.sleep(poll_s)

    async def dead_letters(self) -> list[dict[str, str]]:
        """The dead-letter stream's entries, oldest first (operators, tests)."""
        entries: Any = await self._redis.xrange(self.dead_letter_stream)
        return [{_text(k): _text(v) for k, v in fields.items()} | {"id": _text(i)} for i, fields in entries]

    async def _settled(self, subscription: _Subscription) -> bool:
        try:
            groups: Any = await self._redis.xinfo_groups(subscription.stream)
            stream: Any = await self._redis.xinfo_stream(subscription.stream)
        except ResponseError:  # no such stream (nothing published yet, or a consumer recreates it)
            return True
        for group in groups:
            if _text(group["name"]) == subscription.group:
                unread = _stream_id(group["last-delivered-id"]) < _stream_id(stream["last-generated-id"])
                return int(group["pending"]) == 0 and not unread
        return int(stream["length"]) == 0  # the group is being recreated: only an empty stream is settled

    async def _create_group(self, subscription: _Subscription, start_id: str) -> None:
        try:
            await self._redis.xgroup_create(
                subscription.stream, subscription.group, id=start_id, mkstream=True
            )
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _consume(self, subscription: _Subscription) -> None:
        delay = self._retry_base
        next_claim = 0.0
        while True:
            try:
                if time.monotonic() >= next_claim:
                    await self._claim(subscription)
                    next_claim = time.monotonic() + self._claim_idle_ms / 2000
                block = max(1, min(self._block_ms, int((next_claim - time.monotonic()) * 1000)))
                response: Any = await self._redis.xreadgroup(
                    subscription.group,
                    self.consumer,
                    {subscription.stream: ">"},
                    count=self._batch,
                    block=block,
                )
                self._redis_problem = None
                delay = self._retry_base
                for _stream, entries in response or []:
                    for message_id, fields in entries:
                        await self._handle(subscription, _text(message_id), fields, deliveries=1)
            except asyncio.CancelledError:
                raise
            except ResponseError as exc:
                if "NOGROUP" in str(exc):  # Redis lost the stream (restarted, flushed): all in it is new
                    log.warning(
                        "bus: group %s on %s is gone; creating it again",
                        subscription.group,
                        subscription.stream,
                    )
                    try:
                        await self._create_group(subscription, "0")
                        continue
                    except (RedisError, OSError) as again:
                        exc = again  # type: ignore[assignment]
                self._redis_problem = f"Redis error: {exc}"
                log.warning(
                    "bus: consumer of %s failed (%s); retrying in %.1f s", subscription.topic, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
            except (RedisError, OSError) as exc:
                self._redis_problem = f"Redis unreachable: {type(exc).__name__}: {exc}"
                log.warning(
                    "bus: consumer of %s: %s; retrying in %.1f s",
                    subscription.topic,
                    self._redis_problem,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

    async def _claim(self, subscription: _Subscription) -> None:
        """Take over the messages idle for claim_idle_s: failed ones (ours or another consumer's) and
        those of a consumer that died; each is handled again, or dead-lettered past max_deliveries."""
        start = "0-0"
        while True:
            reply = await self._redis.xautoclaim(
                subscription.stream,
                subscription.group,
                self.consumer,
                min_idle_time=self._claim_idle_ms,
                start_id=start,
                count=self._batch,
            )
            start, entries = _text(reply[0]), reply[1]
            present = [(_text(i), fields) for i, fields in entries if fields]
            if present:
                details = await self._redis.xpending_range(
                    subscription.stream,
                    subscription.group,
                    min=present[0][0],
                    max=present[-1][0],
                    count=len(present) + 1000,  # and ours pending in between
                    consumername=self.consumer,
                )
                deliveries = {_text(d["message_id"]): int(d["times_delivered"]) for d in details}
                for message_id, fields in present:
                    count = deliveries.get(message_id) or await self._deliveries(subscription, message_id)
                    if count is None:  # acked meanwhile (by a consumer that was only slow)
                        continue
                    if count > self._max_deliveries:
                        error = f"delivered {count - 1} times without success (the handler never finished)"
                        await self._dead_letter(subscription, message_id, fields, error, count - 1)
                    else:
                        await self._handle(subscription, message_id, fields, deliveries=count)
            if start == "0-0":
                break
        await self._forget_gone_consumers(subscription)

    async def _deliveries(self, subscription: _Subscription, message_id: str) -> int | None:
        """How many times a pending message was delivered (XPENDING), None when it is not pending."""
        details = await self._redis.xpending_range(
            subscription.stream, subscription.group, min=message_id, max=message_id, count=1
        )
        return int(details[0]["times_delivered"]) if details else None

    async def _handle(
        self, subscription: _Subscription, message_id: str, fields: Mapping[Any, Any], deliveries: int
    ) -> None:
        try:
            raw = fields.get(_BODY.encode(), fields.get(_BODY))
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise ValueError("the message body is not a JSON object")
        except (TypeError, ValueError) as exc:
            await self._dead_letter(
                subscription, message_id, fields, f"unreadable message: {exc}", deliveries
            )
            return
        keep_alive = asyncio.get_running_loop().create_task(self._keep_claimed(subscription, message_id))
        try:
            await subscription.handler(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception(
                "bus: handler %s for %s failed (delivery %d of %d)",
                subscription.group,
                subscription.topic,
                deliveries,
                self._max_deliveries,
            )
            if deliveries >= self._max_deliveries:
                await self._dead_letter(
                    subscription, message_id, fields, f"{type(exc).__name__}: {exc}", deliveries
                )
            return  # pending: claimed again once idle for claim_idle_s
        finally:
            keep_alive.cancel()
        await self._redis.xack(subscription.stream, subscription.group, message_id)

    async def _keep_claimed(self, subscription: _Subscription, message_id: str) -> None:
        """While a handler runs past a third of claim_idle_s, reset its message's idle time so no other
        consumer claims a message that is still being handled (XCLAIM JUSTID counts no delivery)."""
        while True:
            await asyncio.sleep(self._claim_idle_ms / 3000)
            try:
                await self._redis.xclaim(
                    subscription.stream, subscription.group, self.consumer, 0, [message_id], justid=True
                )
            except (RedisError, OSError):
                log.debug("bus: could not keep %s claimed", message_id)

    async def _dead_letter(
        self,
        subscription: _Subscription,
        message_id: str,
        fields: Mapping[Any, Any],
        error: str,
        deliveries: int,
    ) -> None:
        raw = fields.get(_BODY.encode(), fields.get(_BODY))
        entry = {
            "topic": subscription.topic,
            "group": subscription.group,
            "message_id": message_id,
            "body": _text(raw) if raw is not None else "",
            "error": error[:2000],
            "deliveries": str(deliveries),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_letter_stream, entry, maxlen=self._maxlen, approximate=True)  # type: ignore[arg-type]
            pipe.xack(subscription.stream, subscription.group, message_id)
            await pipe.execute()
        log.error(
            "bus: %s message %s for %s dead-lettered after %d deliveries: %s",
            subscription.topic,
            message_id,
            subscription.group,
            deliveries,
            error,
        )

    async def _forget_gone_consumers(self, subscription: _Subscription) -> None:
        """Remove the group's consumers that hold nothing and have not read for gone_after_s: processes
        that died, whose messages were claimed. Redis (7.0) counts a live consumer idle while its
        blocking reads find nothing, so one may be removed too; holding nothing, it loses nothing, and
        its next delivery creates it again."""
        consumers: Any = await self._redis.xinfo_consumers(subscription.stream, subscription.group)
        for consumer in consumers:
            if int(consumer["pending"]) == 0 and int(consumer["idle"]) > self._gone_after_ms:
                # checked again and removed in one step: a message it reads meanwhile is not lost
                await self._delete_if_empty(subscription, consumer["name"])

    async def _delete_if_empty(self, subscription: _Subscription, consumer: str | bytes) -> None:
        await self._redis.eval(_DELETE_IF_EMPTY, 1, subscription.stream, subscription.group, consumer)

    async def _forget_idle_consumer(self) -> None:
        """Remove this consumer from its groups when it holds nothing pending (a consumer with pending
        messages stays, so that they can be claimed)."""
        for subscription in self._subscriptions:
            try:
                await self._delete_if_empty(subscription, self.consumer)
            except (RedisError, OSError):
                return


def _stream_id(value: Any) -> tuple[int, int]:
    milliseconds, _, sequence = _text(value).partition("-")
    return int(milliseconds), int(sequence or 0)
