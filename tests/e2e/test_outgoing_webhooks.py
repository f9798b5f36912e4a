"""Outgoing webhooks over a real server: a real trade's notifications reach a local receiver signed with
the secret shown at creation (the HMAC checked here), as Discord, Slack and JSON bodies; a 500 is tried
again, a 400 skipped; a restart sends nothing twice; private and loopback addresses are refused when
not allowed; another user's hook ids answer 404; creation and deletion are audited."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.e2e.api_clients import SubscribedPlatform
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.support import ServedRuntime, make_runtime, pin_prices, seed_marketplace
from tradewire.adapters.secrets_box import generate_key

KEY = generate_key()


def _runtime(tmp_path: Path, **settings: Any) -> Any:
    options: dict[str, Any] = {
        "encryption_key": KEY,
        "webhooks_allow_private": True,
        "webhooks_interval_s": 0.1,
        "webhooks_retry_base_s": 0.2,
        "webhooks_timeout_s": 2.0,
        **settings,
    }
    runtime = make_runtime(tmp_path, **options)
    pin_prices(runtime, {"BTC/USDT": "60000"})
    return runtime


class Platform(SubscribedPlatform):
    def hook(self, url: str, kind: str = "json", **body: Any) -> dict[str, Any]:
        response = self.api("POST", "/webhooks/outgoing", json={"url": url, "kind": kind, **body})
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    runtime = _runtime(tmp_path)
    seeded = seed_marketplace(runtime.engine, [{}, {}])
    with ServedRuntime(runtime, free_port()) as served:
        yield Platform(served, seeded)


async def _set_price(platform: Platform, price: str) -> None:
    platform.served.runtime.feed.set_price("BTC/USDT", Decimal(price))


def test_a_trade_reaches_each_kind_signed_with_the_secret_shown_once(
    platform: Platform, receiver: WebhookReceiver
) -> None:
    made = {kind: platform.hook(f"{receiver.url}/{kind}", kind) for kind in ("json", "discord", "slack")}
    assert all(h["secret"].startswith("whsec_") for h in made.values())
    listed = platform.api("GET", "/webhooks/outgoing").json()
    assert [h["id"] for h in listed] == [h["id"] for h in made.values()]
    assert all("secret" not in h for h in listed) and all(all(h["notices"].values()) for h in listed)

    platform.alert("buy")
    platform.served.run(_set_price(platform, "63000"))
    platform.alert("sell")

    events = [r.json["event"] for r in receiver.wait_for(4, "/json")]
    assert [(e["topic"], e["type"]) for e in events] == [
        ("signals", "received"),
        ("fills", "new"),
        ("signals", "received"),
        ("positions", "closed"),
    ]
    closed = next(p for p in platform.api("GET", "/positions").json() if p["status"] == "closed")
    assert events[3]["data"]["realized_pnl"] == closed["realized_pnl"] and Decimal(closed["realized_pnl"]) > 0
    json_bodies = receiver.on("/json")
    assert json_bodies[3].json["text"] == (
        f"🏁 Position #{closed['id']} BTC/USDT closed (SIGNAL): realised PnL {closed['realized_pnl']} USDT, "
        f"fees {closed['fees']} USDT (account #{closed['account_id']})"
    )
    discord = receiver.wait_for(4, "/discord")
    slack = receiver.wait_for(4, "/slack")
    assert [r.json for r in discord] == [{"content": r.json["text"]} for r in json_bodies]
    assert [r.json for r in slack] == [{"text": r.json["text"]} for r in json_bodies]
    for kind, hook in made.items():
        seen = receiver.on(f"/{kind}")
        assert all(r.signed_by(hook["secret"]) for r in seen)
        assert not any(r.signed_by(made["json" if kind != "json" else "slack"]["secret"]) for r in seen)
        assert len({r.headers["x-tradewire-event-id"] for r in seen}) == 4
    # The second subscriber has no hook: nothing else arrived.
    time.sleep(0.3)
    assert len(receiver.received) == 12


def test_a_500_is_tried_again_and_a_400_skipped(platform: Platform, receiver: WebhookReceiver) -> None:
    hook = platform.hook(f"{receiver.url}/h", "json", notices={"signal_received": False})
    receiver.error(500, "/h", times=2, message="upstream down")
    platform.alert("buy")  # the entry's fill: 500, 500, then 204
    seen = receiver.wait_for(3, "/h")
    assert [r.status for r in seen] == [500, 500, 204]
    assert seen[2].at - seen[1].at >= 0.3  # the second wait is twice the first (0.2 s)
    assert len({r.raw for r in seen}) == 1 and all(r.signed_by(hook["secret"]) for r in seen)

    receiver.error(400, "/h", message="Invalid Webhook Token")
    platform.served.run(_set_price(platform, "61000"))
    platform.alert("sell")  # the close: refused, skipped at once
    platform.alert("buy")  # the next fill arrives
    later = receiver.wait_for(5, "/h")
    assert [(r.status, r.json["event"]["topic"]) for r in later[3:]] == [(400, "positions"), (204, "fills")]
    time.sleep(0.5)
    assert len(receiver.on("/h")) == 5


def test_a_429_waits_its_retry_after(platform: Platform, receiver: WebhookReceiver) -> None:
    platform.hook(f"{receiver.url}/h", "discord", notices={"signal_received": False})
    receiver.too_many("1", "/h")
    platform.alert("buy")
    seen = receiver.wait_for(2, "/h")
    assert [r.status for r in seen] == [429, 204]
    assert seen[1].at - seen[0].at >= 0.95  # not the 0.2 s backoff


def test_the_test_endpoint_sends_one_signed_message(platform: Platform, receiver: WebhookReceiver) -> None:
    hook = platform.hook(f"{receiver.url}/t", "discord")
    answer = platform.api("POST", f"/webhooks/outgoing/{hook['id']}/test")
    assert answer.status_code == 200 and answer.json() == {
        "delivered": True,
        "status_code": 204,
        "detail": "delivered",
    }
    [seen] = receiver.on("/t")
    assert seen.signed_by(hook["secret"]) and "test message" in seen.json["content"]
    receiver.error(500, "/t")
    failed = platform.api("POST", f"/webhooks/outgoing/{hook['id']}/test").json()
    assert (
        failed["delivered"] is False and failed["status_code"] == 500 and "scripted 500" in failed["detail"]
    )
    assert len(receiver.on("/t")) == 2  # no retries for a test


def test_changes_and_deletion_stop_what_is_sent_and_are_audited(
    platform: Platform, receiver: WebhookReceiver
) -> None:
    hook = platform.hook(f"{receiver.url}/a", "json")
    changed = platform.api(
        "PATCH",
        f"/webhooks/outgoing/{hook['id']}",
        json={"url": f"{receiver.url}/b", "notices": {"signal_received": False}},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["url"].endswith("/b") and changed.json()["notices"]["signal_received"] is False
    platform.alert("buy")
    assert [r.json["event"]["topic"] for r in receiver.wait_for(1, "/b")] == ["fills"]
    assert platform.api("DELETE", f"/webhooks/outgoing/{hook['id']}").status_code == 204
    platform.served.run(_set_price(platform, "61000"))
    platform.alert("sell")
    time.sleep(0.5)
    assert receiver.on("/a") == [] and len(receiver.on("/b")) == 1
    trail = platform.api("GET", "/audit").json()
    actions = [(e["action"], e["target_id"]) for e in trail if e["action"].startswith("webhook.")]
    assert sorted(actions) == [("webhook.created", hook["id"]), ("webhook.deleted", hook["id"])]
    assert hook["secret"] not in str(trail)


def test_another_users_hook_ids_answer_404(platform: Platform, receiver: WebhookReceiver) -> None:
    hook = platform.hook(f"{receiver.url}/mine", "json")
    other = platform.served.token("tv-test-sub2")
    for method, path, body in [
        ("PATCH", f"/webhooks/outgoing/{hook['id']}", {"enabled": False}),
        ("DELETE", f"/webhooks/outgoing/{hook['id']}", None),
        ("POST", f"/webhooks/outgoing/{hook['id']}/test", None),
        ("PATCH", f"/webhooks/outgoing/{hook['id'] + 100}", {"enabled": False}),
    ]:
        assert platform.api(method, path, other, json=body).status_code == 404, (method, path)
    assert platform.api("GET", "/webhooks/outgoing", other).json() == []
    assert receiver.received == []
    assert platform.api("GET", "/webhooks/outgoing").json()[0]["enabled"] is True


def test_bounds_give_clear_4xx_and_change_nothing(platform: Platform, receiver: WebhookReceiver) -> None:
    for body in [
        {"url": "https://x.example/" + "a" * 2048, "kind": "json"},
        {"url": f"{receiver.url}/x", "kind": "teams"},
        {"url": f"{receiver.url}/x", "kind": "json", "notices": {"daily_summary": True}},
        {"url": f"{receiver.url}/x", "kind": "json", "secret": "mine"},
        {"url": "ftp://x.example/", "kind": "json"},
    ]:
        assert platform.api("POST", "/webhooks/outgoing", json=body).status_code == 422, body
    for i in range(5):
        platform.hook(f"{receiver.url}/{i}")
    sixth = platform.api("POST", "/webhooks/outgoing", json={"url": f"{receiver.url}/6", "kind": "json"})
    assert sixth.status_code == 409 and "most allowed" in sixth.json()["detail"]
    assert len(platform.api("GET", "/webhooks/outgoing").json()) == 5


def test_restart_sends_nothing_twice(tmp_path: Path, receiver: WebhookReceiver) -> None:
    runtime = _runtime(tmp_path)
    seeded = seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        platform = Platform(served, seeded)
        platform.hook(f"{receiver.url}/h", "json")
        platform.alert("buy")
        receiver.wait_for(2, "/h")
        time.sleep(0.3)
    runtime.engine.dispose()
    runtime = _runtime(tmp_path)
    with ServedRuntime(runtime, free_port()) as served:
        platform = Platform(served, seeded)
        platform.sent = 1
        platform.served.run(_set_price(platform, "61000"))
        platform.alert("sell")
        receiver.wait_for(4, "/h")
        time.sleep(0.5)
    seen = receiver.on("/h")
    assert [r.json["event"]["id"] for r in seen] == sorted({r.json["event"]["id"] for r in seen})
    assert [(r.json["event"]["topic"]) for r in seen] == ["signals", "fills", "signals", "positions"]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://10.0.0.8/x",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/x",
    ],
)
def test_private_addresses_are_refused_when_not_allowed(tmp_path: Path, url: str) -> None:
    runtime = _runtime(tmp_path, webhooks_allow_private=False)
    seeded = seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        platform = Platform(served, seeded)
        refused = platform.api("POST", "/webhooks/outgoing", json={"url": url, "kind": "json"})
        assert refused.status_code == 422 and "not a public address" in refused.json()["detail"]
        plain = platform.api(
            "POST", "/webhooks/outgoing", json={"url": "http://hooks.example.com/", "kind": "json"}
        )
        assert plain.status_code == 422 and "https://" in plain.json()["detail"]
        assert platform.api("GET", "/webhooks/outgoing").json() == []


def test_without_an_encryption_key_hooks_are_refused(tmp_path: Path, receiver: WebhookReceiver) -> None:
    runtime = _runtime(tmp_path, encryption_key=None)
    seeded = seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        platform = Platform(served, seeded)
        refused = platform.api(
            "POST", "/webhooks/outgoing", json={"url": f"{receiver.url}/x", "kind": "json"}
        )
        assert refused.status_code == 403 and "TRADEWIRE_ENCRYPTION_KEY" in refused.json()["detail"]
