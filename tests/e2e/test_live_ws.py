"""The live channel over a real server (uvicorn, the `websockets` client): authentication, each user's
own events only, resuming with `since` (no gap, no duplicate), and a slow client cut off (4408)
while a fast one keeps receiving."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import free_port
from tests.e2e.live_client import LiveClient, stored_ids, token_of
from tests.seeding import Seeded
from tests.support import (
    PASSWORD,
    ServedRuntime,
    make_runtime,
    pin_prices,
    seed_marketplace,
    send_alert,
)
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.events import save_events
from tradewire.domain.events import Event, Topic
from tradewire.domain.risk_alerts import BreakerOpening
from tradewire.runtime import Runtime


class Served:
    """A served runtime with a provider's webhook strategy and two paper subscribers."""

    def __init__(self, served: ServedRuntime, seeded: Seeded) -> None:
        self.served = served
        self.seeded = seeded
        self.url = served.url
        self.engine = served.runtime.engine
        self.provider = token_of(served.token("provider-tv-test"))
        self.subscribers = [token_of(served.token(f"tv-test-sub{n}")) for n in (1, 2)]
        self.sent = 0

    def alert(self, action: str = "buy") -> None:
        """A webhook alert handled to the end (routed, ordered, filled); each has its own id, so none
        is taken for a repeat of an earlier one."""
        self.sent += 1
        send_alert(self.url, action, self.sent)
        self.served.settle()

    async def trade(self, *actions: str) -> None:
        for action in actions:
            await asyncio.to_thread(self.alert, action)


def _runtime(tmp_path: Path, **settings: Any) -> Runtime:
    runtime = make_runtime(tmp_path, ws_auth_timeout_s=1.0, ws_catch_up_s=0.5, **settings)
    pin_prices(runtime, {"BTC/USDT": "60000"})
    return runtime


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Served]:
    runtime = _runtime(tmp_path)
    seeded = seed_marketplace(runtime.engine, [{}, {}])
    with ServedRuntime(runtime, free_port()) as served:
        yield Served(served, seeded)


async def _closed_with(url: str, first: str | bytes | None) -> int | None:
    """Connect, send `first` (None: nothing), and return the close code the server answers with."""
    async with connect(url.replace("http://", "ws://") + "/api/v1/ws") as ws:
        if first is not None:
            await ws.send(first)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        return closed.value.rcvd.code if closed.value.rcvd else None


async def test_anything_but_a_valid_token_first_closes_with_4401(platform: Served) -> None:
    url, token = platform.url, platform.subscribers[0]
    assert await _closed_with(url, json.dumps({"op": "auth", "token": token + "x"})) == 4401
    assert await _closed_with(url, json.dumps({"op": "auth", "token": None})) == 4401
    assert (
        await _closed_with(url, json.dumps({"op": "subscribe", "topics": ["orders"], "since": None})) == 4401
    )
    assert await _closed_with(url, b"\x00binary") == 4401
    assert await _closed_with(url, "not json") == 4401
    # Over ws_max_message_bytes: refused by the protocol layer (1009), before anything is parsed.
    assert await _closed_with(url, json.dumps({"op": "auth", "token": "x" * 10_000})) == 1009
    assert await _closed_with(url, None) == 4401  # nothing within ws_auth_timeout_s

    client = await LiveClient.open(url, token, ["orders"])  # a valid token: ready, then subscribed
    assert client.since == 0
    await client.close()


async def test_bad_requests_get_an_error_and_change_nothing(platform: Served) -> None:
    client = await LiveClient.open(platform.url, platform.subscribers[0], ["orders"])
    await client.send({"op": "subscribe", "topics": ["orders", "secrets"], "since": None})
    assert "unknown topic 'secrets'" in (await client.reply())["error"]
    await client.send({"op": "subscribe", "topics": ["orders"], "since": -1})
    assert "since" in (await client.reply())["error"]
    await client.send({"op": "subscribe", "topics": ["orders"], "since": True})
    assert "since" in (await client.reply())["error"]
    await client.send({"op": "subscribe", "topics": "orders", "since": None})
    assert "topics" in (await client.reply())["error"]
    await client.send({"op": "dance"})
    assert "unknown op" in (await client.reply())["error"]
    await client.send({"op": "subscribe", "topics": ["orders"], "since": None, "batch": "yes"})
    assert "batch: true or false" in (await client.reply())["error"]
    await client.send({"op": "ping"})
    assert await client.reply() == {"op": "pong"}

    await platform.trade("buy")  # still subscribed to orders only, as before the bad requests
    first = platform.seeded.subscriber_ids[0]
    await client.read_until(lambda got: any(e["data"].get("state") == "filled" for e in got))
    assert {e["topic"] for e in client.received} == {"orders"}
    assert set(client.ids) < set(stored_ids(platform.engine, first))
    await client.close()

    # A message over ws_max_message_bytes (4 KiB) is refused by the protocol layer: closed with 1009.
    big = await LiveClient.open(platform.url, platform.subscribers[0], ["orders"])
    await big.send({"op": "subscribe", "topics": ["orders"] * 5000, "since": None})
    with pytest.raises(ConnectionClosed) as closed:
        await big.reply()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_each_user_receives_its_own_events_and_the_provider_only_its_signals(platform: Served) -> None:
    seeded = platform.seeded
    clients = [
        await LiveClient.open(platform.url, token, since=0)
        for token in [platform.provider, *platform.subscribers]
    ]
    await platform.trade("buy", "sell")

    users = [seeded.provider_id, *seeded.subscriber_ids]
    for client, user_id in zip(clients, users, strict=True):
        expected = stored_ids(platform.engine, user_id)
        await client.read_ids(expected[-1])
        assert client.ids == expected  # everything of its own user, in order, once
    provider, first, second = clients
    assert {e["topic"] for e in provider.received} == {"signals", "provider"}
    assert all("account_id" not in e["data"] and "order_id" not in e["data"] for e in provider.received)
    assert [e["data"]["subscriptions"] for e in provider.received if e["topic"] == "provider"] == [2, 2]
    for client, account_id in zip((first, second), seeded.account_ids, strict=True):
        topics = {e["topic"] for e in client.received}
        assert {"signals", "intents", "orders", "fills", "positions"} <= topics
        accounts = {e["data"]["account_id"] for e in client.received if "account_id" in e["data"]}
        assert accounts == {account_id}
    closes = [e for e in first.received if e["topic"] == "positions" and e["type"] == "closed"]
    assert len(closes) == 1 and closes[0]["data"]["amount"] == "0"
    for client in clients:
        await client.close()


async def test_a_client_resuming_with_since_gets_exactly_what_it_missed_then_live_events(
    platform: Served,
) -> None:
    user_id, token = platform.seeded.subscriber_ids[0], platform.subscribers[0]
    client = await LiveClient.open(platform.url, token)
    assert client.since == 0
    await platform.trade("buy")
    await client.read_ids(stored_ids(platform.engine, user_id)[-1])
    before = client.received[: len(client.received) // 2]  # it saw only half before leaving
    await client.close()

    await platform.trade("sell")  # while it is away
    again = await LiveClient.open(platform.url, token, since=before[-1]["id"])
    await platform.trade("buy")  # live, after it came back
    expected = stored_ids(platform.engine, user_id)
    await again.read_ids(expected[-1])
    assert [e["id"] for e in before] + again.ids == expected
    await again.close()


async def test_a_slow_client_is_closed_with_4408_while_a_fast_one_gets_everything(tmp_path: Path) -> None:
    runtime = _runtime(tmp_path, ws_send_queue=20, ws_close_timeout_s=30)
    seeded = seed_marketplace(runtime.engine, [{}])
    user_id = seeded.subscriber_ids[0]
    with ServedRuntime(runtime, free_port()) as served:
        token = token_of(served.token("tv-test-sub1"))
        fast = await LiveClient.open(served.url, token, ["backtests"])
        # A client that stops reading: its library buffers a message, then its small socket fills up.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        sock.connect(("127.0.0.1", int(served.url.rsplit(":", 1)[1])))
        slow = await LiveClient.open(
            served.url, token, ["backtests"], max_queue=1, sock=sock, compression=None
        )
        padding = "x" * 10_000  # sent uncompressed to the slow client (it declines compression)
        for batch in range(80):  # 8 MB in all: more than the sockets between them hold
            made = [Event(user_id, Topic.BACKTESTS, "progress", {"n": n, "pad": padding}) for n in range(10)]
            with write_transaction(runtime.engine) as conn:
                last = save_events(conn, made, runtime.clock.now())
            runtime.events.published(last)
            await fast.read_ids(last[user_id], timeout=20)
            assert fast.ids == list(range(1, 10 * (batch + 1) + 1))
        assert runtime.events.clients == 1  # the slow one was cut off, the fast one stayed

        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(slow.connection.recv(), 30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
        await fast.close()


async def test_a_client_resuming_after_a_server_restart_misses_nothing_and_sees_nothing_twice(
    tmp_path: Path,
) -> None:
    first_runtime = _runtime(tmp_path)
    seeded = seed_marketplace(first_runtime.engine, [{}, {}])
    user_id = seeded.subscriber_ids[0]
    with ServedRuntime(first_runtime, free_port()) as served:
        platform = Served(served, seeded)
        token = platform.subscribers[0]
        client = await LiveClient.open(platform.url, token)
        await platform.trade("buy")
        await client.read_ids(stored_ids(platform.engine, user_id)[-1])
        seen = client.received[:3]  # it had read only these when the server went down
        await platform.trade("sell")
    with pytest.raises(ConnectionClosed):  # the server went away under it
        while True:
            await asyncio.wait_for(client.connection.recv(), 10)

    second_runtime = _runtime(tmp_path)  # the same database (and token secret) under var/
    with ServedRuntime(second_runtime, free_port()) as served:
        platform = Served(served, seeded)
        platform.sent = 100
        await platform.trade("buy")  # before the client is back
        again = await LiveClient.open(platform.url, token, since=seen[-1]["id"])
        await platform.trade("sell")  # after
        expected = stored_ids(platform.engine, user_id)
        await again.read_ids(expected[-1])
        assert [e["id"] for e in seen] + again.ids == expected
        assert len(expected) > 30  # four trades' events
        await again.close()


async def test_signing_out_or_changing_the_password_closes_the_sessions_sockets_with_4401(
    tmp_path: Path,
) -> None:
    """A stream lives as long as the sign-in session it authenticated with: after a sign-out (or a
    password change, which ends every session of the user) nothing more is sent, and the socket is
    closed 4401; another user's stream goes on."""
    runtime = _runtime(tmp_path, ws_session_check_s=0.2)
    seeded = seed_marketplace(runtime.engine, [{}, {}])
    with ServedRuntime(runtime, free_port()) as served:
        platform = Served(served, seeded)
        first, second = platform.subscribers
        leaving = await LiveClient.open(platform.url, first, ["orders"])
        again = await LiveClient.open(platform.url, first, ["orders"])  # a second client, same session
        other = await LiveClient.open(platform.url, second, ["orders"])

        answer = await asyncio.to_thread(
            httpx.post, f"{platform.url}/api/v1/auth/logout", headers={"Authorization": f"Bearer {first}"}
        )
        assert answer.status_code == 204
        for client in (leaving, again):
            with pytest.raises(ConnectionClosed) as closed:
                await client.read_until(lambda _: False, timeout=5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        assert await _closed_with(platform.url, json.dumps({"op": "auth", "token": first})) == 4401

        await platform.trade("buy")  # the other user's stream is untouched
        await other.read_until(lambda got: any(e["data"].get("state") == "filled" for e in got))

        login = {"current_password": PASSWORD, "new_password": "Another-Long-Passw0rd!"}
        changed = await asyncio.to_thread(
            httpx.post,
            f"{platform.url}/api/v1/auth/password",
            json=login,
            headers={"Authorization": f"Bearer {second}"},
        )
        assert changed.status_code == 200, changed.text
        with pytest.raises(ConnectionClosed) as closed:
            await other.read_until(lambda _: False, timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_risk_alerts_are_a_topic_of_their_own_for_the_accounts_owner(platform: Served) -> None:
    first = platform.seeded.subscriber_ids[0]
    client = await LiveClient.open(platform.url, platform.subscribers[0], ["risk"])
    other = await LiveClient.open(platform.url, platform.subscribers[1], ["risk"])
    await platform.trade("buy")  # orders, fills, positions: not risk
    opening = BreakerOpening(platform.seeded.account_ids[0], "binance", 5, 30.0, "network_error")
    store = platform.served.runtime.store
    assert await asyncio.to_thread(store.breaker_opened, opening, datetime.now(UTC))

    await client.read_until(lambda got: bool(got))
    [event] = client.received
    assert (event["topic"], event["type"], event["data"]["account_id"]) == (
        "risk",
        "breaker_open",
        opening.account_id,
    )
    assert event["id"] == stored_ids(platform.engine, first)[-1]
    await asyncio.sleep(0.3)
    assert other.received == []  # the second subscriber owns another account
    await client.close()
    await other.close()


async def test_a_paper_accounts_balances_are_told_after_each_change_to_its_owner_only(
    platform: Served,
) -> None:
    client = await LiveClient.open(platform.url, platform.subscribers[0], ["balances"])
    other = await LiveClient.open(platform.url, platform.provider, ["balances"])  # owns no paper account
    await platform.trade("buy")

    await client.read_until(lambda got: bool(got))
    await asyncio.sleep(0.3)
    [event] = client.received
    account_id = platform.seeded.account_ids[0]
    assert (event["topic"], event["type"], event["data"]["account_id"]) == ("balances", "changed", account_id)
    headers = {"Authorization": f"Bearer {platform.subscribers[0]}"}
    balance = httpx.get(f"{platform.url}/api/v1/accounts/{account_id}/balance", headers=headers).json()
    told = event["data"]["assets"]
    assert set(told) == {"BTC", "USDT"}
    for asset, amounts in told.items():
        mine = balance["assets"][asset]
        assert (amounts["free"], amounts["used"], amounts["total"]) == (
            mine["free"],
            mine["used"],
            mine["total"],
        )
    assert other.received == []
    await client.close()
    await other.close()


async def test_a_batch_subscriber_gets_what_waits_in_one_frame_in_order_and_nothing_else_changes(
    platform: Served,
) -> None:
    first = platform.seeded.subscriber_ids[0]
    batched = await LiveClient.open(platform.url, platform.subscribers[0], since=0, batch=True)
    single = await LiveClient.open(platform.url, platform.subscribers[0], since=0)
    await platform.trade("buy", "sell")

    expected = stored_ids(platform.engine, first)
    await batched.read_ids(expected[-1])
    await single.read_ids(expected[-1])

    assert batched.ids == single.ids == expected  # the same events, in order, once
    assert batched.received == single.received
    assert batched.batches and max(batched.batches) > 1  # several frames went out as one message
    assert single.frames >= len(single.received) + 2  # one each, after ready and subscribed
    assert batched.frames < single.frames
    await batched.close()
    await single.close()


@pytest.mark.parametrize("deflate", [False, True])
async def test_permessage_deflate_is_used_only_when_the_server_is_set_to(
    tmp_path: Path, deflate: bool
) -> None:
    """A browser asks for permessage-deflate; the server compresses (CPU for every frame of every
    client) only with TRADEWIRE_WS_DEFLATE, and the events arrive either way."""
    runtime = _runtime(tmp_path, ws_deflate=deflate)
    seeded = seed_marketplace(runtime.engine, [{}, {}])
    with ServedRuntime(runtime, free_port()) as served:
        platform = Served(served, seeded)
        client = await LiveClient.open(
            platform.url, platform.subscribers[0], ["orders"], compression="deflate"
        )
        try:
            extensions = (
                client.connection.response.headers.get("Sec-WebSocket-Extensions")
                if client.connection.response
                else None
            )
            assert (extensions is not None and "permessage-deflate" in extensions) is deflate
            await platform.trade("buy")
            await client.read_until(lambda got: any(e["data"].get("state") == "filled" for e in got))
        finally:
            await client.connection.close()
