"""Outgoing webhooks over real HTTP: the deliveries against the in-memory outbox posting through
HttpPoster to a local receiver (tests/fakes/webhook_receiver.py): order, signatures, retries with
backoff, Retry-After, refusals, tries running out, timeouts, one slow endpoint beside fast ones, a
restart, and the address check at connection; and a new hook's trial post. The rules themselves (bodies,
signatures, what answers mean, URL checks) are unit-tested in tests/unit/test_webhooks.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.fakes.memory_members import FixedClock
from tests.fakes.memory_webhooks import CLOSED, FILL, MemoryHooks
from tests.fakes.webhook_receiver import WebhookReceiver
from tradewire.adapters.secrets_box import SecretBox, decode_key, generate_key
from tradewire.adapters.webhooks import HttpPoster
from tradewire.domain.members import Conflict, NotFound
from tradewire.domain.webhooks import HookKind
from tradewire.ports.webhooks import HookChanges, NewHook
from tradewire.services.webhooks.delivery import Deliveries
from tradewire.services.webhooks.setup import HookSetup, secret_context

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
USER, OTHER = 7, 8


def _box() -> SecretBox:
    return SecretBox(decode_key(generate_key()))


@pytest.fixture
async def poster() -> AsyncIterator[HttpPoster]:
    made = HttpPoster(timeout_s=0.5, allow_private=True)
    yield made
    await made.aclose()


# -- the setup -----------------------------------------------------------------------------------------


async def test_a_new_hook_gets_a_secret_shown_once_and_kept_sealed(receiver: WebhookReceiver) -> None:
    store, box = MemoryHooks(), _box()
    poster = HttpPoster(allow_private=True)
    setup = HookSetup(store, box, poster, FixedClock(NOW), allow_http=True, most=2)

    created = await setup.add(USER, NewHook(receiver.url + "/a", HookKind.JSON, {"signal_received": False}))

    sealed = store.hook(USER, created.hook.id).secret_enc
    assert created.secret.startswith("whsec_") and len(created.secret) > 40
    assert created.secret not in sealed
    assert box.decrypt(sealed, secret_context(created.hook.id)) == created.secret
    assert created.hook.notices == {"signal_received": False} and created.hook.enabled
    tried = await setup.trial(USER, created.hook.id)
    assert tried.delivered and tried.status == 204
    [seen] = receiver.received
    assert seen.signed_by(created.secret) and seen.json["event"]["type"] == "test"

    await setup.add(USER, NewHook(receiver.url + "/b", HookKind.SLACK))
    with pytest.raises(Conflict, match="most allowed"):
        await setup.add(USER, NewHook(receiver.url + "/c", HookKind.SLACK))
    assert len(await setup.hooks(USER)) == 2
    with pytest.raises(NotFound):
        await setup.trial(OTHER, created.hook.id)
    with pytest.raises(NotFound):
        await setup.change(OTHER, created.hook.id, HookChanges(enabled=False))
    with pytest.raises(NotFound):
        await setup.delete(OTHER, created.hook.id)
    await poster.aclose()


async def test_the_check_at_connection_refuses_a_private_address_whatever_was_checked_before(
    receiver: WebhookReceiver,
) -> None:
    """A name that resolved to a public address at creation and to loopback now (here: loopback all
    along, the hook kept as if checked) is refused when connecting: nothing reaches the receiver."""
    store, box = MemoryHooks(), _box()
    hook_id = _hook(store, box, receiver.url.replace("127.0.0.1", "localhost") + "/a")
    guarded = HttpPoster(timeout_s=1.0, allow_private=False)
    setup = HookSetup(store, box, guarded, FixedClock(NOW), allow_http=True)
    tried = await setup.trial(USER, hook_id)
    assert not tried.delivered and "not a public address" in tried.detail
    assert receiver.received == []
    await guarded.aclose()


# -- deliveries ----------------------------------------------------------------------------------------


async def _settle(deliveries: Deliveries, rounds: int = 3) -> None:
    """Rounds until the workers have nothing left."""
    for _ in range(rounds):
        await deliveries.round()
        for _ in range(1000):
            if not deliveries.busy:
                break
            await asyncio.sleep(0.01)


def _deliveries(
    store: MemoryHooks, box: SecretBox, poster: HttpPoster, waits: list[float], **kw: object
) -> Deliveries:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return Deliveries(
        store,
        store.outbox,
        poster,
        box,
        allow_http=True,
        jitter=lambda: 1.0,
        sleep=sleep,
        **kw,  # type: ignore[arg-type]
    )


def _fill_then_close(url: str) -> tuple[MemoryHooks, SecretBox, list[float], int]:
    """A store with one hook at `url` and two events for it (a fill, then a closed position); the
    waits list the deliveries will record; the hook's id."""
    store, box = MemoryHooks(), _box()
    hook_id = _hook(store, box, url)
    store.outbox.add(USER, "fills", "new", FILL)
    store.outbox.add(USER, "positions", "closed", CLOSED)
    return store, box, [], hook_id


def _hook(
    store: MemoryHooks,
    box: SecretBox,
    url: str,
    kind: HookKind = HookKind.JSON,
    user: int = USER,
    notices: dict[str, bool] | None = None,
) -> int:
    hook = store.add_hook(
        user, NewHook(url, kind, notices or {}), NOW, lambda i: box.encrypt("s3cret", secret_context(i)), 5
    )
    return hook.id


async def test_notifications_arrive_in_order_signed_and_the_cursor_follows(
    receiver: WebhookReceiver, poster: HttpPoster
) -> None:
    store, box, waits = MemoryHooks(), _box(), []
    hook_id = _hook(store, box, receiver.url + "/json", notices={"signal_received": False})
    discord = _hook(store, box, receiver.url + "/discord", HookKind.DISCORD)
    outbox = store.outbox
    outbox.add(USER, "signals", "received", {"signal_id": 1, "action": "buy", "symbol": "BTC/USDT"})
    outbox.add(USER, "orders", "updated", {"order_id": 11, "state": "open"})  # not a notification
    outbox.add(USER, "fills", "new", FILL)
    outbox.add(USER, "positions", "closed", CLOSED)
    outbox.add(OTHER, "fills", "new", FILL)  # someone else's
    deliveries = _deliveries(store, box, poster, waits)

    await _settle(deliveries)

    json_hook = receiver.on("/json")
    assert [r.json["event"]["id"] for r in json_hook] == [3, 4]  # the signal is turned off
    assert all(r.signed_by("s3cret") for r in receiver.received)
    assert not json_hook[0].signed_by("another")
    assert [r.headers["x-tradewire-event-id"] for r in json_hook] == [f"{USER}-3", f"{USER}-4"]
    assert all(abs(int(r.headers["x-tradewire-timestamp"]) - time.time()) < 60 for r in json_hook)
    assert json_hook[1].json["event"]["data"]["realized_pnl"] == "12.345"
    assert [set(r.json) for r in receiver.on("/discord")] == [{"content"}] * 3
    assert store.rows[hook_id].hook.last_event_id == 4
    assert store.rows[discord].hook.last_event_id == 4
    assert waits == []


async def test_a_5xx_is_tried_again_after_growing_waits_and_a_429_after_its_retry_after(
    receiver: WebhookReceiver, poster: HttpPoster
) -> None:
    store, box, waits = MemoryHooks(), _box(), []
    hook_id = _hook(store, box, receiver.url + "/h")
    store.outbox.add(USER, "fills", "new", FILL)
    receiver.error(500, "/h", times=2)
    receiver.too_many("3", "/h")
    receiver.error(503, "/h")
    deliveries = _deliveries(store, box, poster, waits, retry_base_s=2.0)

    await _settle(deliveries)

    assert [r.status for r in receiver.on("/h")] == [500, 500, 429, 503, 204]
    assert waits == [2.0, 4.0, 3.0, 16.0]
    bodies = {r.raw for r in receiver.on("/h")}
    assert len(bodies) == 1  # the same body, and the same event id, every try
    assert {r.headers["x-tradewire-event-id"] for r in receiver.on("/h")} == {f"{USER}-1"}
    assert store.rows[hook_id].hook.last_event_id == 1 and deliveries.delivered == 1


async def test_a_refusal_skips_the_event_and_the_next_one_is_sent(
    receiver: WebhookReceiver, poster: HttpPoster
) -> None:
    store, box, waits, hook_id = _fill_then_close(receiver.url + "/h")
    receiver.error(400, "/h", message="Invalid Webhook Token")
    deliveries = _deliveries(store, box, poster, waits)

    await _settle(deliveries)

    assert [(r.status, r.json["event"]["id"]) for r in receiver.on("/h")] == [(400, 1), (204, 2)]
    assert waits == [] and deliveries.skipped == 1
    assert store.rows[hook_id].hook.last_event_id == 2


async def test_an_event_is_skipped_once_its_tries_run_out(
    receiver: WebhookReceiver, poster: HttpPoster
) -> None:
    store, box, waits, hook_id = _fill_then_close(receiver.url + "/h")
    receiver.error(500, "/h", times=3)
    deliveries = _deliveries(store, box, poster, waits, tries=3, retry_base_s=1.0)

    await _settle(deliveries)

    assert [(r.status, r.json["event"]["id"]) for r in receiver.on("/h")] == [(500, 1)] * 3 + [(204, 2)]
    assert waits == [1.0, 2.0] and deliveries.skipped == 1
    assert store.rows[hook_id].hook.last_event_id == 2


async def test_timeouts_and_dead_endpoints_are_tried_again(
    receiver: WebhookReceiver, poster: HttpPoster
) -> None:
    store, box, waits = MemoryHooks(), _box(), []
    _hook(store, box, receiver.url + "/slow")
    _hook(store, box, "http://127.0.0.1:9/nobody-listens")
    store.outbox.add(USER, "fills", "new", FILL)
    receiver.slow(2.0, "/slow")  # past the poster's 0.5 s
    deliveries = _deliveries(store, box, poster, waits, tries=2, retry_base_s=1.0)

    await _settle(deliveries)

    assert len(receiver.on("/slow")) == 2  # the timeout, then the answer
    assert waits == [1.0, 1.0]  # one wait each: the slow one, the dead one
    assert deliveries.delivered == 1 and deliveries.skipped == 1


async def test_a_slow_endpoint_does_not_delay_another_hook(receiver: WebhookReceiver) -> None:
    store, box = MemoryHooks(), _box()
    _hook(store, box, receiver.url + "/slow")
    _hook(store, box, receiver.url + "/fast", user=OTHER)
    _hook(store, box, receiver.url + "/fast-too")
    store.outbox.add(USER, "fills", "new", FILL)
    store.outbox.add(OTHER, "fills", "new", FILL)
    slow_answers = receiver.hold("/slow")  # no answer until the others have arrived
    poster = HttpPoster(timeout_s=5.0, allow_private=True)
    deliveries = Deliveries(store, store.outbox, poster, box, allow_http=True)

    await deliveries.round()
    slow = await asyncio.to_thread(receiver.wait_for, 1, "/slow", 5.0)
    fast = await asyncio.to_thread(receiver.wait_for, 1, "/fast", 5.0)
    fast_too = await asyncio.to_thread(receiver.wait_for, 1, "/fast-too", 5.0)

    assert slow and fast and fast_too  # both arrived while /slow had its request and no answer
    slow_answers.set()
    await _settle(deliveries)
    assert deliveries.delivered == 3
    await deliveries.close()
    await poster.aclose()


async def test_a_restart_sends_nothing_twice_and_a_hook_turned_back_on_starts_from_now(
    receiver: WebhookReceiver, poster: HttpPoster
) -> None:
    store, box, waits = MemoryHooks(), _box(), []
    hook_id = _hook(store, box, receiver.url + "/h")
    store.outbox.add(USER, "fills", "new", FILL)
    first = _deliveries(store, box, poster, waits)
    await _settle(first)
    await first.close()

    store.outbox.add(USER, "positions", "closed", CLOSED)
    second = _deliveries(store, box, poster, waits)  # a new process: only the store is shared
    await _settle(second)
    assert [r.json["event"]["id"] for r in receiver.on("/h")] == [1, 2]

    store.update_hook(USER, hook_id, HookChanges(enabled=False))
    store.outbox.add(USER, "fills", "new", FILL)  # while off
    await _settle(second)
    store.update_hook(USER, hook_id, HookChanges(enabled=True))
    store.outbox.add(USER, "positions", "closed", CLOSED)
    await _settle(second)
    assert [r.json["event"]["id"] for r in receiver.on("/h")] == [1, 2, 4]
    await second.close()


async def test_an_address_refused_at_connection_is_skipped_without_retries(receiver: WebhookReceiver) -> None:
    store, box, waits = MemoryHooks(), _box(), []
    hook_id = _hook(store, box, receiver.url + "/h")
    store.outbox.add(USER, "fills", "new", FILL)
    guarded = HttpPoster(timeout_s=1.0, allow_private=False)
    deliveries = _deliveries(store, box, guarded, waits)

    await _settle(deliveries)

    assert receiver.received == [] and waits == [] and deliveries.skipped == 1
    assert store.rows[hook_id].hook.last_event_id == 1
    await deliveries.close()
    await guarded.aclose()


async def test_a_hook_whose_secret_cannot_be_read_waits(
    receiver: WebhookReceiver, poster: HttpPoster
) -> None:
    store, waits = MemoryHooks(), []
    hook_id = _hook(store, _box(), receiver.url + "/h")  # sealed with a key the server does not have
    store.outbox.add(USER, "fills", "new", FILL)
    deliveries = _deliveries(store, _box(), poster, waits)

    await _settle(deliveries)

    assert receiver.received == [] and store.rows[hook_id].hook.last_event_id == 0
    await deliveries.close()
