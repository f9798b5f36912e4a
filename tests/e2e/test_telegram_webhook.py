"""The Telegram bot in webhook mode (TRADEWIRE_TELEGRAM_WEBHOOK_URL), over a real server through
python-telegram-bot and the fake Bot API, which POSTs updates as Telegram does (through a stand-in for
the TLS proxy in front): the webhook is registered with a secret token, updates are answered as with
polling (linking, commands), an update delivered twice is handled once, and the route refuses a wrong
or missing token, a body that is no update, and exists only in webhook mode."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.fakes.telegram_api import FakeTelegram
from tests.support import ServedRuntime, make_runtime, seed_marketplace

CHAT = 626262
PUBLIC = "https://tradewire.example"
HOOK = f"{PUBLIC}/api/v1/telegram/updates"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _runtime(tmp_path: Path, fake: FakeTelegram, **settings: Any) -> Any:
    return make_runtime(
        tmp_path,
        telegram_token=fake.token,
        telegram_api_url=fake.url,
        telegram_notify_interval_s=0.1,
        telegram_chat_rate="20/second",
        **settings,
    )


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def served(tmp_path: Path, fake: FakeTelegram) -> Iterator[ServedRuntime]:
    runtime = _runtime(tmp_path, fake, telegram_webhook_url=HOOK)
    seed_marketplace(runtime.engine, [{}])
    port = free_port()
    fake.proxy(PUBLIC, f"http://127.0.0.1:{port}")
    with ServedRuntime(runtime, port) as server:
        fake.wait_until(lambda: fake.webhook[0] == HOOK and runtime.telegram.bot.username)
        yield server


def _answer(fake: FakeTelegram, text: str) -> str:
    before = len(fake.sent(CHAT))
    fake.user_says(CHAT, text)
    return fake.wait_for(CHAT, before + 1)[before].text


def test_updates_arrive_by_webhook_with_its_secret_and_are_answered(
    served: ServedRuntime, fake: FakeTelegram
) -> None:
    headers = served.token("tv-test-sub1")
    code = httpx.post(f"{served.url}/api/v1/telegram/link", headers=headers, timeout=10).json()["code"]

    assert _answer(fake, f"/start {code}").startswith("Linked to tv-test-sub1")
    assert _answer(fake, "/status").startswith("Subscriptions:")

    url, secret = fake.webhook
    assert url == HOOK and len(secret) == 64
    [registered] = fake.calls_of("setWebhook")
    assert registered.params["secret_token"] == secret
    assert fake.calls_of("getUpdates") == [] and fake.calls_of("deleteWebhook") == []
    assert all(status == 200 for _, status in fake.deliveries())
    assert httpx.get(f"{served.url}/api/v1/telegram", headers=headers, timeout=10).json()["linked"]


def test_an_update_delivered_twice_is_handled_once(served: ServedRuntime, fake: FakeTelegram) -> None:
    fake.user_says(CHAT, "/help")
    fake.wait_for(CHAT, 1)
    update_id = fake.deliveries()[-1][0]
    _, secret = fake.webhook
    again = {
        "update_id": update_id,
        "message": {
            "message_id": 99,
            "date": int(time.time()),
            "chat": {"id": CHAT, "type": "private", "first_name": "T"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "T"},
            "text": "/help",
        },
    }

    repeated = httpx.post(
        f"{served.url}/api/v1/telegram/updates", json=again, headers={SECRET_HEADER: secret}
    )
    time.sleep(0.5)

    assert repeated.status_code == 200
    assert len(fake.sent(CHAT)) == 1  # the unlinked chat's one answer, not two


def test_the_route_refuses_a_wrong_or_missing_token_and_what_is_no_update(
    served: ServedRuntime, fake: FakeTelegram
) -> None:
    route = f"{served.url}/api/v1/telegram/updates"
    _, secret = fake.webhook
    update = {"update_id": 5, "message": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}

    assert httpx.post(route, json=update).status_code == 401
    assert httpx.post(route, json=update, headers={SECRET_HEADER: "x" * 64}).status_code == 401
    assert httpx.post(route, content=b"{no json", headers={SECRET_HEADER: secret}).status_code == 400
    assert httpx.post(route, json=[1, 2], headers={SECRET_HEADER: secret}).status_code == 400
    assert httpx.post(route, json={"no": "update"}, headers={SECRET_HEADER: secret}).status_code == 400


def test_in_polling_mode_there_is_no_webhook_route(tmp_path: Path, fake: FakeTelegram) -> None:
    runtime = _runtime(tmp_path, fake, telegram_poll_timeout_s=1)
    with ServedRuntime(runtime, free_port()) as served:
        fake.wait_until(lambda: runtime.telegram.bot.username)
        answer = httpx.post(f"{served.url}/api/v1/telegram/updates", json={"update_id": 1})

    assert answer.status_code == 404
    assert fake.calls_of("deleteWebhook") and fake.calls_of("setWebhook") == []


def test_a_webhook_url_must_be_https() -> None:
    from pydantic import ValidationError

    from tradewire.config import Settings

    with pytest.raises(ValidationError):
        Settings(telegram_webhook_url="http://tradewire.example/api/v1/telegram/updates")
