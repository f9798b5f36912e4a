"""The Telegram webhook (authenticated by its secret token) answers 400 to every body that is no
Telegram update, never 500: found by fuzzing the update's fields."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import free_port
from tests.fakes.telegram_api import FakeTelegram
from tests.support import ServedRuntime, make_runtime

PUBLIC = "https://tradewire.example"
HOOK = f"{PUBLIC}/api/v1/telegram/updates"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CHAT = {"id": 1, "type": "private"}


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The webhook route of a server in webhook mode, and its secret token."""
    with FakeTelegram() as fake:
        runtime = make_runtime(
            tmp_path_factory.mktemp("telegram"),
            telegram_token=fake.token,
            telegram_api_url=fake.url,
            telegram_webhook_url=HOOK,
        )
        port = free_port()
        fake.proxy(PUBLIC, f"http://127.0.0.1:{port}")
        with ServedRuntime(runtime, port) as served:
            fake.wait_until(lambda: fake.webhook[0] == HOOK and runtime.telegram.bot.username)
            yield f"{served.url}/api/v1/telegram/updates", fake.webhook[1]
        runtime.engine.dispose()


NO_UPDATES = [
    b'{"update_id": 7, "message": "hello"}',  # AttributeError in the update's parser
    b'{"update_id": 8, "message": {"message_id": 1, "date": 100000000000000000000, "chat": {"id": 1, '
    b'"type": "private"}}}',  # OverflowError: a date past any time_t
    b'{"update_id": 9, "callback_query": {"id": "x", "from": "me", "chat_instance": "c"}}',
    b"[" * 100_000 + b"]" * 100_000,  # RecursionError in json.loads
    b'{"update_id": 10, "a": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
]


@pytest.mark.parametrize(
    "body", NO_UPDATES, ids=["str-message", "huge-date", "str-from", "deep", "deep-field"]
)
def test_a_body_that_is_no_update_is_400_not_500(hook: tuple[str, str], body: bytes) -> None:
    route, secret = hook
    answer = httpx.post(route, content=body, headers={SECRET_HEADER: secret}, timeout=20)
    assert answer.status_code == 400, answer.text
