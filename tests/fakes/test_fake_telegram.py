"""The fake Bot API against the real python-telegram-bot client: the object shapes it parses, getUpdates'
offset and long-polling semantics, and Telegram's error answers as the library maps them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter

from tests.fakes.telegram_api import BOT_USERNAME, FakeTelegram


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    client = Bot(fake.token, base_url=f"{fake.url}/bot")
    async with client:  # initialize: getMe
        yield client


async def test_get_me_and_a_message_round_trip(fake: FakeTelegram, bot: Bot) -> None:
    assert bot.username == BOT_USERNAME
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="close:1")]])
    sent = await bot.send_message(11, "hello", reply_markup=markup)
    assert sent.chat.id == 11 and sent.text == "hello" and sent.from_user is not None
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "close:1"
    edited = await bot.edit_message_text("bye", chat_id=11, message_id=sent.message_id)
    assert not isinstance(edited, bool) and edited.text == "bye" and edited.edit_date is not None
    assert fake.texts(11) == ["bye"]
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("bye", chat_id=11, message_id=sent.message_id)


async def test_updates_are_gone_once_a_higher_offset_confirms_them(fake: FakeTelegram, bot: Bot) -> None:
    first = fake.user_says(5, "/start ABC")
    fake.user_presses(5, 1, "close:9")
    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [first, first + 1]
    message = updates[0].message
    assert message is not None and message.text == "/start ABC" and message.chat.type == "private"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6
    query = updates[1].callback_query
    assert query is not None and query.data == "close:9" and query.from_user.id == 5
    assert [u.update_id for u in await bot.get_updates(offset=first + 1)] == [first + 1]
    assert await bot.get_updates(offset=first + 2) == ()
    assert fake.pending_updates == 0
    assert await bot.answer_callback_query(query.id, "ok")
    assert fake.answered(query.id) is not None


async def test_long_polling_waits_for_an_update(fake: FakeTelegram, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, fake.user_says, 6, "hi")
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    assert 0.2 < time.monotonic() - started < 4
    assert updates[0].message is not None and updates[0].message.text == "hi"
    started = time.monotonic()
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=1) == ()
    assert time.monotonic() - started >= 0.9


async def test_errors_as_telegram_sends_them(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter) as limited:
        await bot.send_message(7, "x")
    assert "Retry in 3" in str(limited.value)
    fake.block(7)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(7, "x")
    fake.forget(8)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(8, "x")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(9, " ")
    wrong = Bot("1:wrong-token-wrong-token-wrong-token-xx", base_url=f"{fake.url}/bot")
    with pytest.raises(InvalidToken):
        await wrong.initialize()


def test_the_raw_answers_have_the_bot_api_shape(fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", 429, retry_after=3)
    answer = httpx.post(f"{fake.url}/bot{fake.token}/sendMessage", json={"chat_id": 1, "text": "x"})
    assert answer.status_code == 429
    assert answer.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    answer = httpx.post(f"{fake.url}/bot1:nope/getMe")
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    answer = httpx.post(f"{fake.url}/bot{fake.token}/sendMessage", data={"chat_id": "2", "text": "form"})
    assert answer.json()["ok"] is True and answer.json()["result"]["chat"] == {
        "id": 2,
        "type": "private",
        "first_name": "User2",
        "username": "user2",
    }
