"""Outgoing webhooks' deliveries (services/webhooks/delivery.py) without a database or the network: the
hooks' twin (tests/fakes/memory_webhooks.py) with its outbox (tests/fakes/memory_telegram.py's
MemoryOutbox, the EventLog the hooks' cursors point into), a real secrets box, a poster that records
each request and answers as told, and a `sleep` that records the waits instead of waiting. Rounds are
run by hand and their workers awaited, so no test waits on the clock. The same behaviours over real
HTTP: tests/integration/test_webhook_deliveries.py."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.fakes.memory_webhooks import CLOSED, FILL, MemoryHooks
from tradewire.adapters.secrets_box import SecretBox, decode_key, generate_key
from tradewire.domain.events import StoredEvent
from tradewire.domain.webhooks import HookKind, signature
from tradewire.ports.webhooks import AddressRefused, Answer, HookChanges, NewHook, Unreachable
from tradewire.services.webhooks.delivery import Deliveries
from tradewire.services.webhooks.setup import secret_context

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
USER, OTHER = 7, 8
SECRET = "s3cret"
URL = "https://hooks.example.com/h"
ELSEWHERE = "https://hooks.example.com/elsewhere"
SIGNAL = {"signal_id": 1, "action": "buy", "symbol": "BTC/USDT"}
STEP_S = 2.0  # the longest a test waits for a worker to reach a point: a failure, not a hang


@dataclass(frozen=True)
class Posted:
    """One request as the poster got it."""

    url: str
    body: bytes
    headers: dict[str, str]

    @property
    def event_id(self) -> int:
        """The event a JSON hook's body carries."""
        return int(json.loads(self.body)["event"]["id"])

    def signed_by(self, secret: str) -> bool:
        """Whether X-Tradewire-Signature is sha256=<hex HMAC-SHA256 of the raw body>, as the docs say."""
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("X-Tradewire-Signature", ""), expected)


@dataclass
class Held:
    """A URL's posts kept waiting: `arrived` once one is in, answered once `release` is set."""

    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class RecordingPoster:
    """The Poster port: records each post and answers with what is queued for its URL (an Answer, or
    an exception to raise: Unreachable, AddressRefused); 204 when nothing is queued. `on_post` runs as
    each request arrives (a user changing the hook meanwhile)."""

    posts: list[Posted] = field(default_factory=list)
    queued: dict[str, list[Answer | Exception]] = field(default_factory=dict)
    held: dict[str, Held] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)
    on_post: Callable[[Posted], None] | None = None

    def answer(self, url: str, *answers: Answer | Exception) -> None:
        self.queued.setdefault(url, []).extend(answers)

    def hold(self, url: str) -> Held:
        self.held[url] = Held()
        return self.held[url]

    def to(self, url: str) -> list[Posted]:
        return [p for p in self.posts if p.url == url]

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        posted = Posted(url, body, dict(headers))
        self.posts.append(posted)
        if self.on_post is not None:
            self.on_post(posted)
        held = self.held.get(url)
        if held is not None:
            held.arrived.set()
            await held.release.wait()
        queue = self.queued.get(url)
        answer = queue.pop(0) if queue else Answer(204)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def check(self, url: str) -> None:
        self.checked.append(url)


@dataclass
class Waits:
    """The deliveries' `sleep`: records each wait (`reached` is set) and returns at once while `gate`
    is set."""

    seconds: list[float] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        self.reached.set()
        await self.gate.wait()


def _box() -> SecretBox:
    return SecretBox(decode_key(generate_key()))


@dataclass
class Rig:
    """The stores, the secrets box, the poster and the waits of one test; the deliveries made on them."""

    hooks: MemoryHooks = field(default_factory=MemoryHooks)
    box: SecretBox = field(default_factory=_box)
    poster: RecordingPoster = field(default_factory=RecordingPoster)
    waits: Waits = field(default_factory=Waits)
    made: list[Deliveries] = field(default_factory=list)

    def hook(self, url: str = URL, kind: HookKind = HookKind.JSON, user: int = USER, **notices: bool) -> int:
        """A hook whose secret is SECRET sealed with the rig's box; its cursor after the user's last event."""

        def seal(hook_id: int) -> str:
            return self.box.encrypt(SECRET, secret_context(hook_id))

        return self.hooks.add_hook(user, NewHook(url, kind, notices), NOW, seal, 5).id

    def event(self, topic: str, type_: str, data: dict[str, Any], user: int = USER) -> int:
        return self.hooks.outbox.add(user, topic, type_, data)

    def cursor(self, hook_id: int) -> int:
        return self.hooks.rows[hook_id].hook.last_event_id

    def deliveries(self, **options: Any) -> Deliveries:
        """Deliveries over the rig's stores: waits recorded, jitter 1.0 unless told otherwise."""
        options.setdefault("jitter", lambda: 1.0)
        sealer = options.pop("sealer", self.box)
        made = Deliveries(self.hooks, self.hooks.outbox, self.poster, sealer, sleep=self.waits, **options)
        self.made.append(made)
        return made


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    made = Rig()
    yield made
    for deliveries in made.made:
        await deliveries.close()


def _task(deliveries: Deliveries, hook_id: int) -> asyncio.Task[None]:
    return deliveries._workers[hook_id][1]


async def _round(deliveries: Deliveries) -> None:
    """One round: it starts the workers and returns (a round that waited on them would fail here)."""
    await asyncio.wait_for(deliveries.round(), STEP_S)


async def _settle(deliveries: Deliveries, rounds: int = 2) -> None:
    """Rounds, each followed by its workers' end."""
    for _ in range(rounds):
        await _round(deliveries)
        tasks = [task for _, task in deliveries._workers.values()]
        await asyncio.wait_for(asyncio.gather(*tasks), STEP_S)


def _fill_then_close(rig: Rig) -> int:
    """A JSON hook at URL, then its user's fill and closed position (events 1 and 2); the hook's id."""
    hook_id = rig.hook()
    rig.event("fills", "new", FILL)
    rig.event("positions", "closed", CLOSED)
    return hook_id


async def _first_post_hanging(rig: Rig) -> tuple[int, Held, Deliveries]:
    """The hook of `_fill_then_close`, its deliveries started and its first post waiting for an answer."""
    hook_id = _fill_then_close(rig)
    held = rig.poster.hold(URL)
    deliveries = rig.deliveries()
    await _round(deliveries)
    await asyncio.wait_for(held.arrived.wait(), STEP_S)
    return hook_id, held, deliveries


# -- posting in order --------------------------------------------------------------------------------


async def test_notifications_are_posted_in_event_order_signed_and_the_cursor_follows_each(rig: Rig) -> None:
    json_hook = rig.hook(signal_received=False)
    discord = rig.hook(ELSEWHERE, HookKind.DISCORD)
    rig.event("signals", "received", SIGNAL)  # turned off for the JSON hook
    rig.event("orders", "updated", {"order_id": 11, "state": "open"})  # not a notification
    rig.event("fills", "new", FILL)
    rig.event("positions", "closed", CLOSED)
    rig.event("fills", "new", FILL)
    rig.event("fills", "new", FILL, user=OTHER)  # someone else's
    cursors: list[int] = []  # the JSON hook's stored cursor as each of its posts goes out
    rig.poster.on_post = lambda p: cursors.append(rig.cursor(json_hook)) if p.url == URL else None
    deliveries = rig.deliveries()

    await _settle(deliveries)

    posted = rig.poster.to(URL)
    assert [p.event_id for p in posted] == [3, 4, 5]
    assert cursors == [0, 3, 4]  # each event stored as handled before the next is posted
    assert rig.cursor(json_hook) == 5 and rig.cursor(discord) == 5
    assert [p.headers["X-Tradewire-Event-Id"] for p in posted] == [f"{USER}-3", f"{USER}-4", f"{USER}-5"]
    assert all(p.signed_by(SECRET) for p in rig.poster.posts)
    assert not posted[0].signed_by("another secret")
    assert all(p.headers["X-Tradewire-Signature"] == signature(SECRET, p.body) for p in rig.poster.posts)
    assert all(abs(int(p.headers["X-Tradewire-Timestamp"]) - time.time()) < 60 for p in rig.poster.posts)
    assert json.loads(posted[1].body)["event"]["data"]["realized_pnl"] == "12.345"
    assert [set(json.loads(p.body)) for p in rig.poster.to(ELSEWHERE)] == [{"content"}] * 4
    assert deliveries.delivered == 7 and deliveries.skipped == 0 and rig.waits.seconds == []
    assert rig.poster.checked == []  # the address is checked at connection, by the real poster


async def test_each_hook_gets_only_its_own_users_events(rig: Rig) -> None:
    mine, theirs = rig.hook(), rig.hook(ELSEWHERE, user=OTHER)
    rig.event("fills", "new", FILL, user=OTHER)
    rig.event("fills", "new", FILL)
    rig.event("positions", "closed", CLOSED, user=OTHER)

    await _settle(rig.deliveries())

    assert [p.headers["X-Tradewire-Event-Id"] for p in rig.poster.to(URL)] == [f"{USER}-1"]
    assert [p.headers["X-Tradewire-Event-Id"] for p in rig.poster.to(ELSEWHERE)] == [
        f"{OTHER}-1",
        f"{OTHER}-2",
    ]
    assert (rig.cursor(mine), rig.cursor(theirs)) == (1, 2)


async def test_events_that_are_no_notification_for_the_hook_move_the_cursor_without_a_post(rig: Rig) -> None:
    hook_id = rig.hook(signal_received=False, entry_filled=False)
    rig.event("orders", "updated", {"order_id": 11, "state": "open"})  # not a notification
    rig.event("signals", "received", SIGNAL)  # turned off
    rig.event("fills", "new", FILL)  # an entry fill: turned off
    garbled = StoredEvent(USER, 4, "fills", "new", NOW.isoformat(), "{not json")
    rig.hooks.outbox.events[USER].append(garbled)
    rig.event("backtests", "done", {})
    deliveries = rig.deliveries(page=2)  # the cursor moves across pages with nothing posted

    await _settle(deliveries)

    assert rig.poster.posts == [] and rig.cursor(hook_id) == 5
    assert deliveries.delivered == 0 and deliveries.skipped == 0  # passed over, not given up on

    rig.event("positions", "closed", CLOSED)
    await _settle(deliveries)
    assert [p.event_id for p in rig.poster.posts] == [6] and rig.cursor(hook_id) == 6


# -- trying again ------------------------------------------------------------------------------------


async def test_a_5xx_is_posted_again_after_growing_waits_and_the_cursor_moves_once(rig: Rig) -> None:
    hook_id = _fill_then_close(rig)
    rig.poster.answer(
        URL,
        Answer(500, body='{"error": "internal server error"}'),
        Answer(503, body='{"error": "upstream unavailable", "retry": true}'),
        Answer(200, body='{"ok": true}'),
    )
    cursors: list[int] = []
    rig.poster.on_post = lambda _: cursors.append(rig.cursor(hook_id))
    deliveries = rig.deliveries()

    await _settle(deliveries)

    assert [p.event_id for p in rig.poster.posts] == [1, 1, 1, 2]
    assert rig.waits.seconds == [20.0, 40.0]
    assert cursors == [0, 0, 0, 1]  # not moved while the first event was tried again
    first = rig.poster.posts[:3]
    assert len({p.body for p in first}) == 1  # the same body, and the same event id, every try
    assert {p.headers["X-Tradewire-Event-Id"] for p in first} == {f"{USER}-1"}
    assert all(p.signed_by(SECRET) for p in first)
    assert rig.cursor(hook_id) == 2 and deliveries.delivered == 2 and deliveries.skipped == 0


async def test_an_unreachable_endpoint_is_tried_again_after_waits_with_the_jitter(rig: Rig) -> None:
    hook_id = rig.hook()
    rig.event("fills", "new", FILL)
    rig.poster.answer(URL, Unreachable("timed out"), Unreachable("connection refused"))
    deliveries = rig.deliveries(jitter=lambda: 0.9, retry_base_s=10.0)

    await _settle(deliveries)

    assert [p.event_id for p in rig.poster.posts] == [1, 1, 1]
    assert rig.waits.seconds == pytest.approx([9.0, 18.0])
    assert rig.cursor(hook_id) == 1 and deliveries.delivered == 1


async def test_a_429_waits_its_retry_after_and_the_backoff_counts_on(rig: Rig) -> None:
    hook_id = rig.hook()
    rig.event("fills", "new", FILL)
    rig.poster.answer(
        URL,
        Answer(429, retry_after="7", body='{"error": "slow down"}'),
        Answer(500),
        Answer(429),  # no Retry-After: the default 30 s
    )
    deliveries = rig.deliveries()

    await _settle(deliveries)

    assert len(rig.poster.posts) == 4
    assert rig.waits.seconds == [7.0, 40.0, 30.0]  # the 500 was the second try: 2 × 20 s
    assert rig.cursor(hook_id) == 1 and deliveries.delivered == 1 and deliveries.skipped == 0


@pytest.mark.parametrize(
    "refusal",
    [
        Answer(400, body='{"message": "Invalid Webhook Token", "code": 50027}'),
        Answer(404, body="Not Found"),
        Answer(301),  # a redirect is not followed
        AddressRefused("10.0.0.7 is not a public address"),
    ],
    ids=["400", "404", "redirect", "address refused"],
)
async def test_a_refusal_skips_the_event_at_once_and_the_next_one_is_posted(
    rig: Rig, refusal: Answer | Exception
) -> None:
    hook_id = _fill_then_close(rig)
    rig.poster.answer(URL, refusal)
    deliveries = rig.deliveries()

    await _settle(deliveries)

    assert [p.event_id for p in rig.poster.posts] == [1, 2]
    assert rig.waits.seconds == [] and deliveries.skipped == 1 and deliveries.delivered == 1
    assert rig.cursor(hook_id) == 2


@pytest.mark.parametrize(
    "failure",
    [Answer(502, body='{"error": "bad gateway"}'), Unreachable("timed out")],
    ids=["502", "timeout"],
)
async def test_an_event_is_skipped_once_its_tries_run_out(rig: Rig, failure: Answer | Exception) -> None:
    hook_id = _fill_then_close(rig)
    rig.poster.answer(URL, failure, failure, failure)
    deliveries = rig.deliveries(tries=3)

    await _settle(deliveries)

    assert [p.event_id for p in rig.poster.posts] == [1, 1, 1, 2]
    assert rig.waits.seconds == [20.0, 40.0]  # no wait after the last try
    assert deliveries.skipped == 1 and deliveries.delivered == 1 and rig.cursor(hook_id) == 2


# -- restarts and changes ----------------------------------------------------------------------------


async def test_a_restart_posts_nothing_already_delivered(rig: Rig) -> None:
    hook_id = _fill_then_close(rig)
    first = rig.deliveries()
    await _settle(first)
    await first.close()

    rig.event("fills", "new", FILL)
    second = rig.deliveries()  # a new process: only the stores are shared
    await _settle(second)

    assert [p.event_id for p in rig.poster.posts] == [1, 2, 3]
    assert rig.cursor(hook_id) == 3 and second.delivered == 1


async def test_a_post_cut_short_by_a_stop_is_posted_again_after_the_restart(rig: Rig) -> None:
    """At least once: a post whose answer never came is not counted as done."""
    hook_id, _, first = await _first_post_hanging(rig)
    await first.close()  # the server stops with the first post in flight
    assert rig.cursor(hook_id) == 0

    del rig.poster.held[URL]
    await _settle(rig.deliveries())

    assert [p.event_id for p in rig.poster.posts] == [1, 1, 2]
    assert (
        rig.poster.posts[0].headers["X-Tradewire-Event-Id"]
        == rig.poster.posts[1].headers["X-Tradewire-Event-Id"]
    )
    assert rig.cursor(hook_id) == 2


@pytest.mark.parametrize("change", ["turned off", "deleted"])
async def test_a_hook_turned_off_or_deleted_while_it_drains_stops(rig: Rig, change: str) -> None:
    hook_id = rig.hook()
    for _ in range(3):
        rig.event("fills", "new", FILL)

    def changed(_: Posted) -> None:
        if change == "deleted":
            rig.hooks.delete_hook(USER, hook_id)
        else:
            rig.hooks.update_hook(USER, hook_id, HookChanges(enabled=False))

    rig.poster.on_post = changed
    deliveries = rig.deliveries()

    await _settle(deliveries)

    assert [p.event_id for p in rig.poster.posts] == [1]
    if change == "deleted":
        assert hook_id not in rig.hooks.rows
    else:
        assert rig.cursor(hook_id) == 0  # the first event's answer did not move it either
    assert not deliveries.busy


async def test_a_round_stops_the_worker_of_a_hook_turned_off_while_its_post_hangs(rig: Rig) -> None:
    hook_id, held, deliveries = await _first_post_hanging(rig)
    worker = _task(deliveries, hook_id)

    rig.hooks.update_hook(USER, hook_id, HookChanges(enabled=False))
    await _round(deliveries)
    held.release.set()
    await asyncio.gather(worker, return_exceptions=True)

    assert worker.cancelled() and not deliveries.busy
    assert [p.event_id for p in rig.poster.posts] == [1] and rig.cursor(hook_id) == 0


async def test_a_hook_changed_while_it_drains_starts_again_as_changed(rig: Rig) -> None:
    hook_id, _, deliveries = await _first_post_hanging(rig)

    rig.hooks.update_hook(USER, hook_id, HookChanges(notices={"entry_filled": False}))
    del rig.poster.held[URL]  # the first worker's post never gets its answer
    await _settle(deliveries)

    assert [p.event_id for p in rig.poster.posts] == [1, 2]  # the fill, now off, not posted again
    assert rig.cursor(hook_id) == 2 and deliveries.delivered == 1


async def test_a_hook_pointed_elsewhere_while_it_drains_starts_again_at_its_new_address(rig: Rig) -> None:
    hook_id = _fill_then_close(rig)

    def moved(posted: Posted) -> None:
        if posted.url == URL:
            rig.hooks.update_hook(USER, hook_id, HookChanges(url=ELSEWHERE))

    rig.poster.on_post = moved
    deliveries = rig.deliveries()

    await _settle(deliveries)

    assert [p.event_id for p in rig.poster.to(URL)] == [1]  # its answer does not move the new cursor
    assert [p.event_id for p in rig.poster.to(ELSEWHERE)] == [1, 2]
    assert rig.cursor(hook_id) == 2


@pytest.mark.parametrize(
    ("url", "broken", "fixed"),
    [
        (URL, {"sealer": None}, {}),  # the server has no encryption key
        (URL, {"sealer": _box()}, {}),  # sealed with a key the server does not have
        ("http://hooks.example.com/h", {}, {"allow_http": True}),  # an address it may not post to
    ],
    ids=["no sealer", "another key", "http"],
)
async def test_a_hook_that_cannot_be_posted_to_waits_and_posts_nothing(
    rig: Rig, url: str, broken: dict[str, Any], fixed: dict[str, Any]
) -> None:
    hook_id = rig.hook(url)
    rig.event("fills", "new", FILL)
    deliveries = rig.deliveries(**broken)

    await _settle(deliveries)
    deliveries.sealer, deliveries.allow_http = rig.box, True  # set right: still waiting its time
    await _settle(deliveries)

    assert rig.poster.posts == [] and rig.cursor(hook_id) == 0 and not deliveries.busy
    assert deliveries.delivered == 0 and deliveries.skipped == 0

    await _settle(rig.deliveries(**fixed))  # only that was in the way
    assert [p.event_id for p in rig.poster.posts] == [1] and rig.cursor(hook_id) == 1


# -- one hook beside another -------------------------------------------------------------------------


@pytest.mark.parametrize("stuck", ["waiting after a 500", "no answer yet"])
async def test_one_hooks_failing_endpoint_does_not_hold_back_another_hook(rig: Rig, stuck: str) -> None:
    down = rig.hook()
    other_user = rig.hook(ELSEWHERE, user=OTHER)
    same_user = rig.hook(ELSEWHERE + "/too")
    rig.event("fills", "new", FILL)
    rig.event("fills", "new", FILL, user=OTHER)
    if stuck == "no answer yet":
        reached = rig.poster.hold(URL).arrived
    else:
        rig.poster.answer(URL, Answer(500, body='{"error": "internal"}'))
        rig.waits.gate.clear()
        reached = rig.waits.reached
    deliveries = rig.deliveries()

    await _round(deliveries)
    others = [_task(deliveries, other_user), _task(deliveries, same_user)]
    await asyncio.wait_for(asyncio.gather(*others, reached.wait()), STEP_S)

    assert rig.cursor(other_user) == 1 and rig.cursor(same_user) == 1 and deliveries.delivered == 2
    assert rig.cursor(down) == 0 and not _task(deliveries, down).done()
    assert rig.waits.seconds == ([20.0] if stuck == "waiting after a 500" else [])

    rig.waits.gate.set()
    for held in rig.poster.held.values():
        held.release.set()
    await _settle(deliveries)
    assert rig.cursor(down) == 1 and deliveries.delivered == 3
