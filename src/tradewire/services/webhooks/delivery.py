"""Outgoing webhooks fed by the events outbox, like the Telegram notifications
(services/telegram/notifications.py).

Each user's events are numbered without gaps, so a hook's cursor (the last of its user's events handled
for it) is all the queue there is: a worker per enabled hook reads the events after its cursor, posts
the ones that are notifications it wants (domain/webhooks.py makes the body, signs it) and moves the
cursor past each one once it is done with it. Delivery is at least once (a receiver drops repeats by
X-Tradewire-Event-Id), and a restart sends nothing twice: the cursor is stored after each event.

A failed post is tried again after a growing wait (5xx, 408, timeouts, connection errors:
`retry_base_s`, then twice that, …, `tries` in all; a 429 waits its Retry-After) and then skipped
(logged); any other answer (4xx, a redirect) or an address the server must not call skips it at once.
Each hook has its own worker, so a slow or dead endpoint delays only its own later events, never another
hook's; none of this is in the trading path, and the store is read and written on a thread of its own.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

from tradewire.domain.events import StoredEvent
from tradewire.domain.notices import stored_data
from tradewire.domain.webhooks import (
    Verdict,
    backoff_s,
    body_of,
    headers_of,
    message_of,
    retry_after_s,
    url_problem,
    verdict_of,
)
from tradewire.ports.events import EventLog
from tradewire.ports.two_factor import SecretSealer
from tradewire.ports.webhooks import AddressRefused, HookStore, HookTarget, Poster, Unreachable
from tradewire.services.loops import OutboxWorkers
from tradewire.services.webhooks.setup import secret_context

log = logging.getLogger("tradewire.webhooks")


UNREADABLE_WAIT_S = 300.0  # a hook whose secret cannot be unsealed is tried again this much later


@dataclass(eq=False)
class Deliveries(OutboxWorkers):
    """Workers that bring each enabled hook its user's notifications."""

    name: ClassVar[str] = "tradewire.webhooks"

    hooks: HookStore
    events: EventLog
    poster: Poster
    sealer: SecretSealer | None
    allow_http: bool = False
    poll_s: float = 1.0  # how often hooks' outboxes are checked for news
    page: int = 200  # events one worker reads at a time
    tries: int = 6  # posts of one event at most
    retry_base_s: float = 20.0  # the first wait; doubled each time (20 … 320: about 10 minutes)
    jitter: Callable[[], float] = field(default=lambda: random.uniform(0.9, 1.1))  # noqa: S311
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    delivered: int = 0  # posts answered 2xx
    skipped: int = 0  # notifications given up on
    _workers: dict[int, tuple[HookTarget, asyncio.Task[None]]] = field(default_factory=dict)
    _unreadable: dict[int, float] = field(default_factory=dict)  # hook: monotonic time to try again
    _io: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="webhooks-store")
    )

    async def round(self) -> None:
        """Start a worker for each enabled hook whose user has events beyond its cursor; stop the
        workers of hooks deleted, turned off or changed since (a changed one starts again)."""
        targets = {t.hook.id: t for t in await self._store(self.hooks.deliverable)}
        for hook_id, (running, task) in list(self._workers.items()):
            now = targets.get(hook_id)
            if task.done() or now is None or _setup(now) != _setup(running):
                task.cancel()
                del self._workers[hook_id]
        if not targets:
            return
        users = {t.hook.user_id for t in targets.values()}
        last = await self._store(self.events.last_event_ids, users)
        loop = asyncio.get_running_loop()
        for hook_id, target in targets.items():
            hook = target.hook
            if hook_id in self._workers or last.get(hook.user_id, 0) <= hook.last_event_id:
                continue
            if self._unreadable.get(hook_id, 0.0) > time.monotonic():
                continue
            self._workers[hook_id] = (target, loop.create_task(self._worker(target)))

    async def _worker(self, target: HookTarget) -> None:
        try:
            await self._drain(target)
        except Exception:  # the store unreachable, say: the next round starts it again
            log.exception("webhook %s delivery failed; retrying next round", target.hook.id)

    def _secret(self, target: HookTarget) -> str | None:
        hook = target.hook
        if self.sealer is None:
            problem = "the server has no encryption key"
        else:
            try:
                return self.sealer.decrypt(target.secret_enc, secret_context(hook.id))
            except ValueError as exc:
                problem = str(exc)
        log.warning(
            "webhook %s of user %s: its secret cannot be read (%s); waits", hook.id, hook.user_id, problem
        )
        self._unreadable[hook.id] = time.monotonic() + UNREADABLE_WAIT_S
        return None

    async def _drain(self, target: HookTarget) -> None:
        """Post the hook its user's notifications after its cursor, page by page."""
        hook = target.hook
        problem = url_problem(hook.url, self.allow_http)
        if problem is not None:
            log.warning("webhook %s of user %s not sent to: url %s", hook.id, hook.user_id, problem)
            self._unreadable[hook.id] = time.monotonic() + UNREADABLE_WAIT_S
            return
        secret = self._secret(target)
        if secret is None:
            return
        cursor = hook.last_event_id
        while True:
            found = await self._store(self.events.events_after, {hook.user_id: cursor}, self.page)
            if not found:
                return
            handled = cursor
            for event in found:
                sent = await self._deliver(target, secret, event)
                handled = event.id
                if sent:  # stored after each post: a restart posts nothing twice
                    if not await self._store(self.hooks.advance, hook.id, handled, hook.url):
                        return  # deleted, turned off or pointed elsewhere meanwhile
                    cursor = handled
            if handled > cursor:
                if not await self._store(self.hooks.advance, hook.id, handled, hook.url):
                    return
                cursor = handled

    async def _deliver(self, target: HookTarget, secret: str, event: StoredEvent) -> bool:
        """Post one event's notification, trying again as the answers allow; whether a post was made
        (False: not a notification the hook wants)."""
        hook = target.hook
        data = stored_data(event.data)
        message = (
            None
            if data is None
            else message_of(event.topic, event.type, event.id, event.ts, data, hook.notices)
        )
        if message is None:
            return False
        body = body_of(hook.kind, message)
        delivery_id = f"{hook.user_id}-{event.id}"
        for attempt in range(1, self.tries + 1):
            headers = headers_of(secret, body, delivery_id, int(time.time()))
            try:
                answer = await self.poster.post(hook.url, body, headers)
            except AddressRefused as exc:
                return self._skip(hook.id, event, f"address refused: {exc}")
            except Unreachable as exc:
                reason, wait = str(exc), backoff_s(attempt, self.retry_base_s) * self.jitter()
            else:
                verdict = verdict_of(answer.status)
                if verdict is Verdict.DONE:
                    self.delivered += 1
                    return True
                reason = f"answered {answer.status}: {answer.body[:200]}".strip()
                if verdict is Verdict.REFUSED:
                    return self._skip(hook.id, event, reason)
                if answer.status == 429:
                    wait = retry_after_s(answer.retry_after)
                else:
                    wait = backoff_s(attempt, self.retry_base_s) * self.jitter()
            if attempt == self.tries:
                return self._skip(hook.id, event, f"{reason} ({self.tries} tries)")
            log.info(
                "webhook %s, event %s/%s: %s; try %s in %.1f s",
                hook.id, hook.user_id, event.id, reason, attempt + 1, wait,
            )  # fmt: skip
            await self.sleep(wait)
        return True  # not reached

    def _skip(self, hook_id: int, event: StoredEvent, reason: str) -> bool:
        self.skipped += 1
        log.warning("webhook %s skipped event %s/%s: %s", hook_id, event.user_id, event.id, reason)
        return True


def _setup(target: HookTarget) -> tuple[object, ...]:
    """What a worker was started with, besides the cursor."""
    hook = target.hook
    return (hook.url, hook.kind, tuple(sorted(hook.notices.items())), target.secret_enc)
