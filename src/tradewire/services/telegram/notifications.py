"""Notifications to linked chats, fed by the events outbox.

Each user's events are numbered without gaps (adapters/store/events.py), so a chat's cursor, the last
event handled for it, is all the queue there is: a chat's worker reads the user's events after it, sends
the ones the user wants (domain/notices.py says which events are notifications and their text) and
moves the cursor past each one once Telegram has accepted it (events the user does not want move it
too). Delivery is at least once, and a restart sends nothing twice: the cursor is stored after each send.

Sending runs in its own tasks, never in the trading path, within Telegram's limits (a moving window:
1 message a second per chat, 30 a second in all, both settings); a 429 pauses every chat for its
`retry_after`; a chat that blocked the bot (or no longer exists) is unlinked; a message Telegram
refuses for what it is is skipped (logged), so one message never holds up the rest.

Confirm before trade rides the same queue: an entry proposed to a subscription that confirms on
Telegram is asked in the chat with Confirm and Decline buttons whatever the notification settings (the
message is kept with the cursor's move, in one transaction), and each later event of that intent
(confirmed, declined, expired, ordered, refused) edits the message to tell it. The buttons themselves
are answered by services/telegram/commands.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from tradewire.domain.events import StoredEvent
from tradewire.domain.notices import notice_from_data, stored_data
from tradewire.domain.telegram import (
    answered_text,
    confirm_data,
    decline_data,
    outcome_of,
    prompt_of,
)
from tradewire.ports.events import EventLog
from tradewire.ports.rate_limits import RateLimiter
from tradewire.ports.telegram import (
    Button,
    ChatGone,
    ChatLink,
    MessageRefused,
    Messenger,
    MessengerUnavailable,
    Prompt,
    RetryLater,
    TelegramLinks,
)
from tradewire.services.loops import OutboxWorkers

log = logging.getLogger("tradewire.telegram")

_T = TypeVar("_T")

CHAT_TIER = "telegram_chat"  # messages per chat
ALL_TIER = "telegram_all"  # messages of the bot in all
PROMPTS_KEPT = timedelta(days=2)  # a question waits a day at most (confirmation_timeout_s)
PRUNE_EVERY_S = 3600.0


@dataclass(eq=False)
class Notifications(OutboxWorkers):
    """Workers that bring each linked chat its user's notifications."""

    name: ClassVar[str] = "tradewire.telegram"

    links: TelegramLinks
    events: EventLog
    messenger: Messenger
    pace: RateLimiter  # tiers CHAT_TIER (key: the chat) and ALL_TIER (key: "all"), exact windows
    poll_s: float = 1.0  # how often linked users' outboxes are checked for news
    page: int = 200  # events one worker reads at a time
    concurrency: int = 8  # requests out at once (the bot's connection pool)
    sent: int = 0  # messages Telegram accepted (for metrics and benchmarks)
    _workers: dict[int, tuple[int, asyncio.Task[None]]] = field(default_factory=dict)  # user: chat, task
    _paused_until: float = 0.0  # monotonic time before which nothing is sent (a 429's retry_after)
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict)  # one sender at a time per chat
    _inflight: asyncio.Semaphore = field(init=False)
    _gate: asyncio.Lock = field(default_factory=asyncio.Lock)  # one sender at a time checks the bot's room
    _out: int = 0  # requests out now
    _pruned: float = float("-inf")  # monotonic time old questions were last dropped
    # The store is read and written on a thread of its own: a backlog's cursor writes never queue in
    # the default executor ahead of what the API and the trading loop hand to it.
    _io: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="telegram-store")
    )

    def __post_init__(self) -> None:
        self._inflight = asyncio.Semaphore(self.concurrency)

    async def round(self) -> None:
        """Start a worker for each linked chat whose user has events beyond its cursor (one per chat;
        a chat linked elsewhere since stops its worker)."""
        links = await self._store(self.links.links)
        linked = {link.user_id: link for link in links}
        chats = {link.chat_id for link in links}
        for chat_id in [c for c, lock in self._locks.items() if c not in chats and not lock.locked()]:
            del self._locks[chat_id]
        for user_id, (chat_id, task) in list(self._workers.items()):
            link = linked.get(user_id)
            if task.done() or link is None or link.chat_id != chat_id:
                task.cancel()
                del self._workers[user_id]
        if time.monotonic() - self._pruned >= PRUNE_EVERY_S:
            self._pruned = time.monotonic()
            await self._store(self.links.forget_prompts, datetime.now(UTC) - PROMPTS_KEPT)
        if not links:
            return
        last = await self._store(self.events.last_event_ids, list(linked))
        loop = asyncio.get_running_loop()
        for link in links:
            if last.get(link.user_id, 0) > link.last_event_id and link.user_id not in self._workers:
                task = loop.create_task(self._drain(link))
                self._workers[link.user_id] = (link.chat_id, task)

    async def _drain(self, link: ChatLink) -> None:
        """Send the chat its user's notifications after its cursor, page by page."""
        user_id, chat_id, cursor = link.user_id, link.chat_id, link.last_event_id
        try:
            while True:
                found = await self._store(self.events.events_after, {user_id: cursor}, self.page)
                if not found:
                    return
                settings = (await self._store(self.links.notice_settings, [user_id])).get(user_id, {})
                page = [(event, stored_data(event.data)) for event in found]
                prompts = await self._prompts(page)
                handled = cursor  # events up to here are done, not yet stored
                for event, data in page:
                    if data is None:
                        handled = event.id
                        continue
                    asked = prompt_of(event.topic, event.type, data)
                    if asked is not None:
                        prompt = await self._ask(link, *asked)
                        if prompt is not None:
                            if not await self._store(
                                self.links.prompt_sent, user_id, prompt, event.id, datetime.now(UTC)
                            ):
                                return  # unlinked meanwhile
                            prompts[prompt.intent_id] = prompt
                            handled = cursor = event.id
                            continue
                    outcome = outcome_of(event.topic, event.type, data)
                    if outcome is not None and (asked_before := prompts.get(outcome[0])) is not None:
                        await self._tell(asked_before, outcome[1])
                    made = notice_from_data(event.topic, event.type, data)
                    if made is None or not settings.get(made[0].value, True):
                        handled = event.id
                        continue
                    try:
                        await self._send(chat_id, made[1])
                    except MessageRefused as exc:
                        log.warning(
                            "telegram refused notification of event %s/%s: %s", user_id, event.id, exc
                        )
                    handled = event.id
                    if not await self._store(self.links.advance, user_id, chat_id, handled):
                        return  # unlinked meanwhile
                    cursor = handled
                if handled > cursor:
                    if not await self._store(self.links.advance, user_id, chat_id, handled):
                        return
                    cursor = handled
        except ChatGone as exc:
            log.info("telegram chat of user %s unreachable (%s): unlinked", user_id, exc)
            await self._store(self.links.unlink_chat, chat_id)
        except MessengerUnavailable as exc:
            log.warning("telegram unavailable (%s); notifications of user %s wait", exc, user_id)

    async def _prompts(self, page: Sequence[tuple[StoredEvent, dict[str, Any] | None]]) -> dict[int, Prompt]:
        """The questions asked before for the intents whose outcomes are on this page (one read)."""
        intent_ids = [
            found[0]
            for event, data in page
            if data is not None and (found := outcome_of(event.topic, event.type, data)) is not None
        ]
        return await self._store(self.links.prompts, intent_ids) if intent_ids else {}

    async def _ask(self, link: ChatLink, intent_id: int, text: str) -> Prompt | None:
        """Ask the chat to confirm an entry; the question sent, or None when Telegram refused it."""
        buttons = (Button("Confirm", confirm_data(intent_id)), Button("Decline", decline_data(intent_id)))
        try:
            message_id = await self._send(link.chat_id, text, buttons)
        except MessageRefused as exc:
            log.warning("telegram refused the question of intent %s: %s", intent_id, exc)
            return None
        return Prompt(intent_id, link.chat_id, message_id, text)

    async def _tell(self, prompt: Prompt, line: str) -> None:
        """Edit a question's message to tell what became of its intent (its buttons go)."""
        text = answered_text(prompt.text, line)
        try:
            await self._paced(
                prompt.chat_id, lambda: self.messenger.edit(prompt.chat_id, prompt.message_id, text)
            )
        except MessageRefused as exc:  # deleted by its user, say: nothing to tell it on
            log.warning("telegram refused to edit the question of intent %s: %s", prompt.intent_id, exc)

    async def deliver(self, chat_id: int, text: str) -> bool:
        """Send one message outside the outbox (the daily summary) within the same limits; False when
        it was not sent (Telegram unavailable; a chat that is gone is unlinked). A message Telegram
        refuses for what it is counts as done."""
        try:
            await self._send(chat_id, text)
        except ChatGone as exc:
            log.info("telegram chat %s unreachable (%s): unlinked", chat_id, exc)
            await self._store(self.links.unlink_chat, chat_id)
            return False
        except MessageRefused as exc:
            log.warning("telegram refused a message to chat %s: %s", chat_id, exc)
        except MessengerUnavailable as exc:
            log.warning("telegram unavailable (%s); the message waits", exc)
            return False
        return True

    async def _send(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> int:
        """Send a message within the limits; its id."""
        return await self._paced(chat_id, lambda: self.messenger.send(chat_id, text, buttons))

    async def _paced(self, chat_id: int, call: Callable[[], Awaitable[_T]]) -> _T:
        """Make one request to the chat (a message sent or edited) within the limits as Telegram
        sees requests arrive. A request is counted in its chat's and the bot's windows once Telegram
        has answered it; a new one goes out only while the answered ones of the last window plus those
        still out are below the limit, so whatever the network's delays no window at Telegram's end
        holds more. At most `concurrency` requests are out at once. A 429 pauses all sending for its
        retry_after, then the same request is tried again."""
        key = str(chat_id)
        async with self._locks.setdefault(chat_id, asyncio.Lock()):  # one message out per chat
            while True:
                await self._wait_pause()
                await self._room(CHAT_TIER, key, out=0)
                async with self._inflight:
                    async with self._gate:
                        await self._room(ALL_TIER, "all", out=self._out)
                        self._out += 1
                    try:
                        result = await call()
                    except RetryLater as exc:
                        self._out -= 1
                        self._paused_until = max(self._paused_until, time.monotonic() + exc.retry_after)
                        log.warning("telegram asked to wait %s s", exc.retry_after)
                        continue
                    except BaseException:
                        self._out -= 1
                        raise
                    try:  # counted before it stops being out: never neither
                        await self.pace.hit(ALL_TIER, "all")
                    finally:
                        self._out -= 1
                    await self.pace.hit(CHAT_TIER, key)
                self.sent += 1
                return result

    async def _wait_pause(self) -> None:
        while (left := self._paused_until - time.monotonic()) > 0:
            await asyncio.sleep(left)

    async def _room(self, tier: str, key: str, out: int) -> None:
        """Wait until `key`'s answered messages in the window of `tier`, plus `out` still out, are
        below its limit."""
        while True:
            decision = await self.pace.peek(tier, key)
            if decision.allowed and decision.remaining > out:
                return
            # The oldest answered one leaves the window then; one still out may be answered sooner.
            await asyncio.sleep(max(0.005, min(decision.reset_at - decision.now, 0.05 if out else 1.0)))
