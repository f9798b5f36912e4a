"""Live delivery of the events outbox to connected clients (the WebSocket channel's core).

The database is the truth: a client's stream is "its user's events numbered above the last one it was
sent, in order", read from the outbox. A commit's announcement (EventNotifier) only wakes delivery
early; a periodic catch-up compares each connected user's last number with what was sent, so a lost
announcement (or one from another process, later) only delays delivery. A commit of this process
announces its events themselves: a user whose clients were sent everything up to the first of them
is served from those, without reading them back (numbers are per user and without gaps, so that is
exactly what follows). Any other user with news is read from the outbox: one round reads the events
of every such user in one query. Each event is encoded once and handed to each of the user's clients
whose topics it matches. Each client has a bounded queue drained by its own sender: a client
that falls behind by more than the bound is cut off (its sender closes it) and never slows the rest.
A client lives as long as the sign-in session it authenticated with: signing out, a password change
(or anything else that revokes the session) ends its stream within `session_check_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from tradewire.domain.events import StoredEvent
from tradewire.ports import Clock, EventLog
from tradewire.services.loops import every

log = logging.getLogger("tradewire.live")


class Listener:
    """One connected client: its user, its topics, the last event number it was sent or skipped, and
    its queue of messages (bounded: beyond `limit` it is marked overflowed and its queue dropped)."""

    def __init__(self, user_id: int, limit: int, session_id: str | None = None) -> None:
        self.user_id = user_id
        self.limit = limit
        self.session_id = session_id  # the sign-in session it authenticated with
        self.topics: frozenset[str] = frozenset()
        self.cursor = 0
        self.subscribed = False
        self.batch = False  # what waits goes out in one frame (api/ws.py)
        self.overflowed = False
        self.signed_out = False
        self.pushed: dict[str, str] = {}  # per topic, the content of the last message pushed (push)
        # Set when it overflows (its connection is closed 4408) or its session ends (4401).
        self.cut = asyncio.Event()
        self._queue: deque[str] = deque()
        self._ready = asyncio.Event()

    def offer(self, message: str) -> bool:
        """Queue a message for the client; False once it is overflowed (it is being cut off)."""
        if self.overflowed or self.signed_out:
            return False
        if len(self._queue) >= self.limit:
            self.overflowed = True
            self._queue.clear()
            self._ready.set()
            self.cut.set()
            return False
        self._queue.append(message)
        self._ready.set()
        return True

    def sign_out(self) -> None:
        """Its session ended (signed out, password changed, user disabled): nothing more is sent."""
        self.signed_out = True
        self._queue.clear()
        self._ready.set()
        self.cut.set()

    async def take(self, timeout_s: float) -> list[str]:
        """Every queued message, waiting up to `timeout_s` for one ([] when none came, or once the
        client is overflowed)."""
        if not self._queue and not self.overflowed and not self.signed_out:
            self._ready.clear()
            try:
                # A timer, not asyncio.wait_for (a task more per wait: every client waits after
                # each frame, thousands per fan-out).
                async with asyncio.timeout(timeout_s):
                    await self._ready.wait()
            except TimeoutError:
                return []
        taken = list(self._queue)
        self._queue.clear()
        return taken


@dataclass(eq=False)
class EventHub:
    """Connected clients by user, and the rounds that bring them their users' new events."""

    log: EventLog
    clock: Clock
    queue_limit: int = 1000  # messages waiting for one client before it is cut off
    catch_up_s: float = 2.0  # how often every connected user's stream is checked against the outbox
    page: int = 5000  # events read per round
    clients_per_turn: int = 100  # clients handed their events before the event loop's next turn
    retention: timedelta = timedelta(hours=48)
    prune_every_s: float = 300.0
    prune_batch: int = 5000
    # Which of the clients' sign-in sessions are still alive; checked every `session_check_s`, and a
    # client whose session ended is cut off (None: sessions are not checked).
    live_sessions: Callable[[Collection[str]], Awaitable[set[str]]] | None = None
    session_check_s: float = 10.0
    _listeners: dict[int, set[Listener]] = field(init=False, default_factory=dict)
    _dirty: set[int] = field(init=False, default_factory=set)  # users to read from the outbox
    _direct: dict[int, list[StoredEvent]] = field(init=False, default_factory=dict)  # announced with them
    _wake: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _loop: asyncio.AbstractEventLoop | None = field(init=False, default=None)

    # -- the notifier (ports/events.EventNotifier) ------------------------------------------------------

    def published(self, last_ids: Mapping[int, int], events: Sequence[StoredEvent] = ()) -> None:
        """Users with new events committed (from any thread): their clients are served soon, from
        `events` where they are given and follow on from what the clients were sent."""
        loop = self._loop
        if loop is None or not last_ids:
            return
        try:
            loop.call_soon_threadsafe(self._announced, dict(last_ids), tuple(events))
        except RuntimeError:  # the loop has closed: nobody is listening
            return

    def _announced(self, last_ids: Mapping[int, int], events: Sequence[StoredEvent] = ()) -> None:
        """Note the announced users that a subscribed client has not been sent up to the announced
        number: with their events, when the commit gave them, else to be read. An announcement of what
        was already sent costs no round: the relay's copy of this process's own commit (split
        processes), or a commit read by a round already."""
        news = {
            user_id
            for user_id, last in last_ids.items()
            if any(li.subscribed and li.cursor < last for li in self._listeners.get(user_id, ()))
        }
        if not news:
            return
        given: set[int] = set()
        for event in events:
            if event.user_id in news:
                kept = self._direct.setdefault(event.user_id, [])
                if len(kept) < self.page:  # beyond: read from the outbox instead
                    kept.append(event)
                given.add(event.user_id)
        for user_id in given:
            if len(self._direct[user_id]) >= self.page:
                del self._direct[user_id]
                self._dirty.add(user_id)
        self._dirty.update(news - given)
        self._wake.set()

    def _mark(self, users: Iterable[int]) -> None:
        news = [u for u in users if u in self._listeners]
        if news:
            self._dirty.update(news)
            self._wake.set()

    # -- clients ----------------------------------------------------------------------------------------

    @property
    def clients(self) -> int:
        return sum(len(listeners) for listeners in self._listeners.values())

    def connect(self, user_id: int, session_id: str | None = None) -> Listener:
        listener = Listener(user_id, self.queue_limit, session_id)
        self._listeners.setdefault(user_id, set()).add(listener)
        return listener

    def disconnect(self, listener: Listener) -> None:
        mine = self._listeners.get(listener.user_id)
        if mine is None:
            return
        mine.discard(listener)
        if not mine:
            del self._listeners[listener.user_id]

    def watching(self, topic: str) -> set[int]:
        """The users with a subscribed client that takes `topic`."""
        return {
            user_id
            for user_id, mine in self._listeners.items()
            if any(li.subscribed and topic in li.topics for li in mine)
        }

    def push(self, user_id: int, topic: str, message: str, content: str | None = None) -> int:
        """Queue a message that is not in the outbox (no id: nothing to resume; e.g. live marks) for
        the user's subscribed clients that take `topic`; returns how many took it. With `content`
        (what the message says, without its time), a client that was last pushed the same content on
        this topic is not sent it again."""
        taken = 0
        for listener in list(self._listeners.get(user_id, ())):
            if not listener.subscribed or topic not in listener.topics:
                continue
            if content is not None and listener.pushed.get(topic) == content:
                continue
            if listener.offer(message):
                taken += 1
                if content is not None:
                    listener.pushed[topic] = content
        return taken

    async def subscribe(self, listener: Listener, topics: Collection[str], since: int | None) -> int:
        """Send the client `topics` from after event `since` (None: from now on, or from where it is
        if it subscribed before); returns the number it continues from."""
        last = (await asyncio.to_thread(self.log.last_event_ids, [listener.user_id])).get(listener.user_id, 0)
        if since is not None:
            listener.cursor = min(since, last)  # a number never written yet cannot have been seen
        elif not listener.subscribed:
            listener.cursor = last
        listener.topics = frozenset(topics)
        listener.subscribed = True
        self._mark([listener.user_id])
        return listener.cursor

    # -- delivery ---------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve clients until `stop` is set: a round on every announcement, a catch-up every
        `catch_up_s`, and the outbox pruned of events older than the retention."""
        self._loop = asyncio.get_running_loop()
        loop = asyncio.get_running_loop()
        chores = [loop.create_task(every(self.prune_every_s, stop, self.prune, "pruning old events", log))]
        if self.live_sessions is not None:
            checking = every(self.session_check_s, stop, self.check_sessions, "checking sessions", log)
            chores.append(loop.create_task(checking))
        next_catch_up = time.monotonic() + self.catch_up_s
        try:
            while not stop.is_set():
                timeout = max(0.0, next_catch_up - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                try:
                    if time.monotonic() >= next_catch_up:
                        next_catch_up = time.monotonic() + self.catch_up_s
                        await self.catch_up()
                    await self.deliver()
                except Exception:
                    log.exception("live delivery round failed; the next catch-up retries")
                    await asyncio.sleep(min(1.0, self.catch_up_s))
        finally:
            self._loop = None
            for chore in chores:
                chore.cancel()
            await asyncio.gather(*chores, return_exceptions=True)

    async def check_sessions(self) -> int:
        """Cut off the clients whose sign-in session has ended; returns how many."""
        if self.live_sessions is None:
            return 0
        clients = [li for mine in self._listeners.values() for li in mine if li.session_id is not None]
        if not clients:
            return 0
        live = await self.live_sessions({li.session_id for li in clients if li.session_id})
        ended = [li for li in clients if li.session_id not in live]
        for listener in ended:
            listener.sign_out()
        return len(ended)

    async def catch_up(self) -> None:
        """Mark every connected user whose outbox holds events beyond what their clients were sent."""
        behind = self._cursors(list(self._listeners))
        if not behind:
            return
        last = await asyncio.to_thread(self.log.last_event_ids, list(behind))
        self._mark(u for u, cursor in behind.items() if last.get(u, 0) > cursor)

    async def deliver(self) -> None:
        """One round: the users announced with their events are served from them; the other marked
        users' new events are read; all are queued for their clients."""
        self._wake.clear()
        direct, self._direct = self._direct, {}
        dirty, self._dirty = self._dirty, set()
        # Per user: the cursor its events follow on from, and the events.
        served: dict[int, tuple[int, list[StoredEvent]]] = {}
        for user_id, given in direct.items():
            if user_id in dirty:
                continue  # read: the outbox may hold more than the announcement gave
            after = self._cursors([user_id]).get(user_id)
            if after is None:
                continue  # no subscribed client left
            follows = _following(given, after)
            if follows is None:
                dirty.add(user_id)  # a gap (an earlier commit not announced yet): read
            else:
                served[user_id] = (after, follows)
        await self._serve(served)  # first: nothing to wait for
        read = self._cursors(dirty)
        if not read:
            return
        found = await asyncio.to_thread(self.log.events_after, read, self.page)
        if len(found) >= self.page:  # a full page: the last user read, and those after, go again
            self._mark(u for u in read if u >= found[-1].user_id)
        by_user: dict[int, list[StoredEvent]] = {}
        for event in found:
            by_user.setdefault(event.user_id, []).append(event)
        await self._serve({user_id: (after, by_user.get(user_id, [])) for user_id, after in read.items()})

    async def _serve(self, served: Mapping[int, tuple[int, list[StoredEvent]]]) -> None:
        """Hand each user's events (following on from the cursor given with them) to its clients."""
        woken = 0
        for user_id, (after, events) in served.items():
            woken += self._hand_out(user_id, after, events)
            if woken >= self.clients_per_turn:
                # The clients woken so far send before more are woken. An event loop that writes out
                # at the end of its turn (uvloop, which `tradewire serve` runs on) otherwise held every
                # frame of a round until the last client's was made: ~100 ms for 2,000 clients.
                woken = 0
                await asyncio.sleep(0)

    def _hand_out(self, user_id: int, after: int, found: list[StoredEvent]) -> int:
        """Queue the user's events for its clients; returns how many clients were given any."""
        messages = [(e.id, e.topic, e.message()) for e in found]
        woken = 0
        for listener in list(self._listeners.get(user_id, ())):
            if not listener.subscribed:
                continue
            if listener.cursor < after:  # it subscribed from further back meanwhile: read again
                self._mark([user_id])
                continue
            given = False
            for number, topic, message in messages:
                if number <= listener.cursor:
                    continue
                if topic in listener.topics:
                    if not listener.offer(message):
                        break
                    given = True
                listener.cursor = number
            woken += given
        return woken

    def _cursors(self, users: Iterable[int]) -> dict[int, int]:
        """For each user with subscribed clients, the lowest number any of them was sent."""
        cursors: dict[int, int] = {}
        for user_id in users:
            subscribed = [li.cursor for li in self._listeners.get(user_id, ()) if li.subscribed]
            if subscribed:
                cursors[user_id] = min(subscribed)
        return cursors

    async def prune(self) -> int:
        """Delete events older than the retention, `prune_batch` at a time (at most ten batches a
        round, so pruning a backlog never holds the database long)."""
        before = self.clock.now() - self.retention
        deleted = 0
        for _ in range(10):
            n = await asyncio.to_thread(self.log.prune_events, before, self.prune_batch)
            deleted += n
            if n < self.prune_batch:
                break
        if deleted:
            log.info("pruned %d events older than %s", deleted, before.isoformat())
        return deleted


def _following(given: list[StoredEvent], after: int) -> list[StoredEvent] | None:
    """The events of `given` (one user's, announced by commits in any order) numbered above `after`,
    in order, when they follow on from it without a gap ([] when none is above it); None when an
    event between is missing (a commit not announced yet, or announced without its events)."""
    above = sorted({e.id: e for e in given if e.id > after}.values(), key=lambda e: e.id)
    for expected, event in enumerate(above, start=after + 1):
        if event.id != expected:
            return None
    return above
