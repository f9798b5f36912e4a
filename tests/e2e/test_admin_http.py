"""Over HTTP: what admins do. Users listed by page and role; a disabled user's tokens refused from
the next request, sign-in refused until enabled, their subscriptions taking no entries while their
stop losses still close positions, their strategies' alerts refused; the last active admin kept; the
platform's trading state (a halt) enforced for every subscription and kept across a restart; every
execution across users with whose it is; roles and what a subscriber may not publish."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import free_port
from tests.support import (
    PASSPHRASE,
    PASSWORD,
    ServedRuntime,
    make_runtime,
    now,
    pin_prices,
    quick_hash,
    until,
)
from tradewire.domain.members import Role
from tradewire.runtime import Runtime

ADMIN = "/api/v1/admin"


@dataclass
class Platform:
    served: ServedRuntime
    http: httpx.Client
    ids: dict[str, int]  # user ids by name
    strategy: dict[str, Any]
    subscriptions: dict[str, int]  # by subscriber

    def token(self, name: str) -> dict[str, str]:
        return self.served.token(name)

    def alert(self, **fields: str) -> int:
        body = {"passphrase": PASSPHRASE, "ticker": "BTCUSDT", **fields}
        response = self.http.post(f"/api/v1/webhooks/tradingview/{self.strategy['slug']}", json=body)
        assert response.status_code == 202, response.text
        self.served.settle()
        return int(response.json()["signal_id"])

    def intent(self, name: str, signal_id: int) -> dict[str, Any]:
        [found] = [
            i
            for i in self.http.get("/api/v1/intents", headers=self.token(name)).json()
            if i["signal_id"] == signal_id
        ]
        return found  # type: ignore[no-any-return]


def _users(runtime: Runtime) -> dict[str, int]:
    roles = {"root": Role.ADMIN, "provider": Role.PROVIDER, "alice": Role.SUBSCRIBER, "bob": Role.SUBSCRIBER}
    return {
        name: runtime.members.create_user(name, quick_hash(PASSWORD), now(), role)
        for name, role in roles.items()
    }


def _platform(served: ServedRuntime, ids: dict[str, int]) -> Platform:
    http = httpx.Client(base_url=served.url, timeout=10)
    strategy = http.post(
        "/api/v1/strategies",
        headers=served.token("provider"),
        json={"name": "tv", "slug": "tv-admin", "passphrase": PASSPHRASE, "is_public": True},
    ).json()
    subscriptions = {}
    for name in ("alice", "bob"):
        headers = served.token(name)
        account = http.post("/api/v1/accounts", headers=headers, json={"name": "paper"}).json()
        subscribed = http.post(
            "/api/v1/subscriptions",
            headers=headers,
            json={
                "strategy_id": strategy["id"],
                "account_id": account["id"],
                "risk_limits": {"cooldown_s": 0},
                "exit_rules": {"stop_loss_pct": "2"},
            },
        )
        assert subscribed.status_code == 201, subscribed.text
        subscriptions[name] = subscribed.json()["id"]
    return Platform(served, http, ids, strategy, subscriptions)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    runtime = make_runtime(tmp_path, monitor_interval_s=0.05)
    pin_prices(runtime, {"BTC/USDT": "50000"})
    ids = _users(runtime)
    with ServedRuntime(runtime, free_port()) as served:
        yield _platform(served, ids)


def test_admins_list_users_by_page_and_role_and_nobody_else_may(platform: Platform) -> None:
    http, root = platform.http, platform.token("root")

    first = http.get(f"{ADMIN}/users", params={"limit": 3}, headers=root).json()
    rest = http.get(f"{ADMIN}/users", params={"before_id": first[-1]["id"]}, headers=root).json()
    subscribers = http.get(f"{ADMIN}/users", params={"role": "subscriber"}, headers=root).json()

    assert [u["username"] for u in first + rest] == ["bob", "alice", "provider", "root"]
    assert {u["username"] for u in subscribers} == {"alice", "bob"}
    assert all("password_hash" not in u for u in first + rest)
    assert http.get(f"{ADMIN}/users", headers=platform.token("provider")).status_code == 403
    assert http.get(f"{ADMIN}/users").status_code == 401
    assert http.get("/api/v1/me", headers=root).json()["role"] == "admin"


def test_a_disabled_user_is_signed_out_at_once_and_cannot_sign_in_until_enabled(platform: Platform) -> None:
    http, root, alice_id = platform.http, platform.token("root"), platform.ids["alice"]
    signed_in = http.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}).json()
    bearer = {"Authorization": f"Bearer {signed_in['access_token']}"}
    assert http.get("/api/v1/me", headers=bearer).status_code == 200

    disabled = http.post(f"{ADMIN}/users/{alice_id}/disable", headers=root)

    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert http.get("/api/v1/me", headers=bearer).status_code == 401  # the very next request
    refreshed = http.post("/api/v1/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})
    assert refreshed.status_code == 401
    refused = http.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD})
    assert refused.status_code == 401 and "disabled" in refused.json()["detail"]
    wrong = http.post("/api/v1/auth/token", data={"username": "alice", "password": "not it at all"})
    assert "disabled" not in wrong.json()["detail"]  # said only to whoever knows the password

    enabled = http.post(f"{ADMIN}/users/{alice_id}/enable", headers=root)
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    assert http.get("/api/v1/me", headers=bearer).status_code == 401  # the old session stays ended
    assert http.get("/api/v1/me", headers=platform.token("alice")).status_code == 200


def test_the_last_active_admin_is_kept_and_admins_cannot_disable_themselves(platform: Platform) -> None:
    http, root, root_id = platform.http, platform.token("root"), platform.ids["root"]

    myself = http.post(f"{ADMIN}/users/{root_id}/disable", headers=root)
    demoted = http.put(f"{ADMIN}/users/{root_id}/role", headers=root, json={"role": "provider"})

    assert myself.status_code == 409 and "themselves" in myself.text
    assert demoted.status_code == 409 and "last active admin" in demoted.text
    promoted = http.put(
        f"{ADMIN}/users/{platform.ids['provider']}/role", headers=root, json={"role": "admin"}
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert (
        http.put(f"{ADMIN}/users/{root_id}/role", headers=root, json={"role": "provider"}).status_code == 200
    )
    assert http.get(f"{ADMIN}/users", headers=root).status_code == 403  # a provider from the next request
    assert http.get(f"{ADMIN}/users/99999", headers=platform.token("provider")).status_code == 404


def test_a_disabled_user_s_subscription_takes_no_entry_but_its_stop_loss_still_closes(
    platform: Platform,
) -> None:
    http, root = platform.http, platform.token("root")
    assert platform.intent("alice", platform.alert(action="buy"))["status"] == "done"
    [position] = http.get("/api/v1/positions", headers=platform.token("alice")).json()
    until(lambda: position["id"] in platform.served.runtime.monitor.book, "the monitor to watch its stop", 10)

    http.post(f"{ADMIN}/users/{platform.ids['alice']}/disable", headers=root).raise_for_status()
    signal_id = platform.alert(action="buy", comment="another entry")

    alice_intent = platform.served.run(
        platform.served.runtime.records.intents(platform.ids["alice"], signal_id, _page())
    )
    assert alice_intent[0]["status"] == "rejected"
    assert "disabled owner's subscription is REDUCING: exits only" in alice_intent[0]["reason"]
    assert platform.intent("bob", signal_id)["status"] == "done"  # others trade on

    pin_prices(platform.served.runtime, {"BTC/USDT": "48000"})  # through alice's 2 % stop loss
    until(lambda: _position_status(platform, position["id"]) == "closed", "the position closed", 10)


def test_a_disabled_provider_s_strategy_refuses_its_alerts(platform: Platform) -> None:
    http, root = platform.http, platform.token("root")
    http.post(f"{ADMIN}/users/{platform.ids['provider']}/disable", headers=root).raise_for_status()

    body = {"passphrase": PASSPHRASE, "ticker": "BTCUSDT", "action": "buy"}
    refused = http.post(f"/api/v1/webhooks/tradingview/{platform.strategy['slug']}", json=body)
    wrong = http.post(
        f"/api/v1/webhooks/tradingview/{platform.strategy['slug']}", json={**body, "passphrase": "nope-nope"}
    )

    assert refused.status_code == 403 and "disabled" in refused.text
    assert wrong.status_code == 401  # a stranger learns nothing about the owner
    http.post(f"{ADMIN}/users/{platform.ids['provider']}/enable", headers=root).raise_for_status()
    assert platform.intent("alice", platform.alert(action="buy"))["status"] == "done"


def test_a_platform_halt_stops_every_subscription_and_survives_a_restart(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    pin_prices(runtime, {"BTC/USDT": "50000"})
    ids = _users(runtime)
    with ServedRuntime(runtime, free_port()) as served:
        platform = _platform(served, ids)
        root = platform.token("root")
        assert platform.http.get(f"{ADMIN}/trading", headers=root).json()["state"] == "ACTIVE"
        refused = platform.http.put(
            f"{ADMIN}/trading", headers=platform.token("provider"), json={"state": "HALTED"}
        )
        assert refused.status_code == 403

        halted = platform.http.put(
            f"{ADMIN}/trading", headers=root, json={"state": "HALTED", "reason": "exchange incident"}
        )
        assert halted.status_code == 200
        signal_id = platform.alert(action="buy")
        for name in ("alice", "bob"):
            intent = platform.intent(name, signal_id)
            assert intent["status"] == "rejected"
            assert "platform trading is HALTED: no orders at all" in intent["reason"]

    restarted = make_runtime(tmp_path)
    pin_prices(restarted, {"BTC/USDT": "50000"})
    with ServedRuntime(restarted, free_port()) as served:
        platform = _platform_again(served, ids, platform)
        root = platform.token("root")
        shown = platform.http.get(f"{ADMIN}/trading", headers=root).json()
        assert (
            shown["state"] == "HALTED"
            and shown["reason"] == "exchange incident"
            and shown["changed_by"] == "root"
        )
        assert (
            platform.intent("alice", platform.alert(action="buy", comment="after restart"))["status"]
            == "rejected"
        )

        platform.http.put(f"{ADMIN}/trading", headers=root, json={"state": "ACTIVE"}).raise_for_status()
        resumed = platform.alert(action="buy", comment="resumed")
        assert platform.intent("alice", resumed)["status"] == "done"
        assert platform.intent("bob", resumed)["status"] == "done"


def test_admins_see_every_execution_with_its_user_account_and_strategy(platform: Platform) -> None:
    http, root = platform.http, platform.token("root")
    platform.alert(action="buy")
    platform.alert(action="sell", market_position="flat")

    everything = http.get(f"{ADMIN}/executions", headers=root).json()
    alice_only = http.get(
        f"{ADMIN}/executions", params={"user_id": platform.ids["alice"]}, headers=root
    ).json()
    page = http.get(
        f"{ADMIN}/executions", params={"limit": 1, "before_id": everything[0]["id"]}, headers=root
    ).json()

    assert len(everything) == 4 and {o["username"] for o in everything} == {"alice", "bob"}
    assert {(o["strategy_slug"], o["account_name"], o["exchange"]) for o in everything} == {
        ("tv-admin", "paper", "paper")
    }
    assert [o["side"] for o in alice_only] == ["sell", "buy"] and all(
        o["username"] == "alice" for o in alice_only
    )
    assert [o["id"] for o in page] == [everything[1]["id"]]
    assert not any("api_key" in key or "secret" in key for o in everything for key in o)
    bad = http.get(f"{ADMIN}/executions", params={"since": "2030-01-02", "until": "2030-01-01"}, headers=root)
    assert bad.status_code == 422
    assert http.get(f"{ADMIN}/executions", headers=platform.token("alice")).status_code == 403


def test_a_subscriber_may_run_private_strategies_but_not_publish(platform: Platform) -> None:
    http, root, provider_id = platform.http, platform.token("root"), platform.ids["provider"]
    strategy_id = platform.strategy["id"]

    blocked = http.put(f"{ADMIN}/users/{provider_id}/role", headers=root, json={"role": "subscriber"})
    assert blocked.status_code == 409 and "public strategies" in blocked.text
    provider = platform.token("provider")
    http.patch(
        f"/api/v1/strategies/{strategy_id}", headers=provider, json={"is_public": False}
    ).raise_for_status()
    assert (
        http.put(f"{ADMIN}/users/{provider_id}/role", headers=root, json={"role": "subscriber"}).status_code
        == 200
    )

    assert http.get("/api/v1/me", headers=provider).json()["role"] == "subscriber"
    public = http.post("/api/v1/strategies", headers=provider, json={"name": "p", "is_public": True})
    again = http.patch(f"/api/v1/strategies/{strategy_id}", headers=provider, json={"is_public": True})
    private = http.post("/api/v1/strategies", headers=provider, json={"name": "mine"})
    assert public.status_code == 403 and "subscribers cannot publish" in public.text
    assert again.status_code == 403
    assert private.status_code == 201


def _platform_again(served: ServedRuntime, ids: dict[str, int], before: Platform) -> Platform:
    return Platform(
        served, httpx.Client(base_url=served.url, timeout=10), ids, before.strategy, before.subscriptions
    )


def _position_status(platform: Platform, position_id: int) -> str:
    rows = platform.served.run(
        platform.served.runtime.records.positions(platform.ids["alice"], None, _page())
    )
    return str(next(p.row["status"] for p in rows if p.row["id"] == position_id))


def _page() -> Any:
    from tradewire.domain.records import Page

    return Page(100)


def test_a_disabled_user_s_live_channel_is_closed(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path, ws_session_check_s=0.2)
    ids = _users(runtime)
    with ServedRuntime(runtime, free_port()) as served:
        token = served.token("alice")["Authorization"].removeprefix("Bearer ")
        root = served.token("root")

        async def closed_after_disable() -> int | None:
            url = served.url.replace("http://", "ws://") + "/api/v1/ws"
            async with connect(url) as ws:
                await ws.send(json.dumps({"op": "auth", "token": token}))
                assert json.loads(await ws.recv()) == {"op": "ready"}
                async with httpx.AsyncClient(base_url=served.url) as http:
                    (
                        await http.post(f"{ADMIN}/users/{ids['alice']}/disable", headers=root)
                    ).raise_for_status()
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                except ConnectionClosed as closed:
                    return closed.rcvd.code if closed.rcvd else None

        assert asyncio.run(closed_after_disable()) == 4401
