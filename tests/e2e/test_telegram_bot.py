"""The Telegram bot over a real server, through python-telegram-bot against the fake Bot API: linking
(wrong, reused, expired codes, bounded attempts), notifications of a real trade (exact numbers), the
commands of a linked chat, an unlinked chat, 429 with retry_after, a blocked bot, and a restart that
sends nothing twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.conftest import free_port
from tests.e2e.api_clients import SubscribedPlatform
from tests.fakes.telegram_api import FakeTelegram
from tests.seeding import Seeded
from tests.support import ServedRuntime, make_runtime, pin_prices, seed_marketplace
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.tables import users
from tradewire.domain.money import fmt
from tradewire.logs import configure, redact
from tradewire.services.telegram.commands import DISABLED, UNLINKED

NOTICE_MARKS = ("📡", "✅", "🏁", "❌", "🛑", "🤖", "🚨", "⚠️", "⏸️", "🔌")
CHAT = 424242
OTHER_CHAT = 515151


def _runtime(tmp_path: Path, fake: FakeTelegram, **settings: Any) -> Any:
    options: dict[str, Any] = {
        "telegram_token": fake.token,
        "telegram_api_url": fake.url,
        "telegram_poll_timeout_s": 1,
        "telegram_notify_interval_s": 0.1,
        "telegram_chat_rate": "20/second",
        **settings,
    }
    runtime = make_runtime(tmp_path, **options)
    pin_prices(runtime, {"BTC/USDT": "60000"})
    return runtime


class Platform(SubscribedPlatform):
    """A served runtime with a webhook strategy and two paper subscribers, and the fake Bot API."""

    def __init__(self, served: ServedRuntime, seeded: Seeded, fake: FakeTelegram) -> None:
        super().__init__(served, seeded)
        self.fake = fake

    def link(self, chat_id: int = CHAT, headers: dict[str, str] | None = None) -> None:
        response = self.api("POST", "/telegram/link", headers)
        assert response.status_code == 201, response.text
        before = len(self.fake.sent(chat_id))
        self.fake.user_says(chat_id, f"/start {response.json()['code']}")
        assert "Linked to" in self.fake.wait_for(chat_id, before + 1)[-1].text

    def say(self, chat_id: int, text: str) -> str:
        """What the bot answers `text` in the chat (notifications sent meanwhile aside)."""
        before = len(self.fake.sent(chat_id))
        self.fake.user_says(chat_id, text)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            answers = [
                m.text for m in self.fake.sent(chat_id)[before:] if not m.text.startswith(NOTICE_MARKS)
            ]
            if answers:
                return answers[0]
            time.sleep(0.02)
        raise AssertionError(f"no answer to {text!r}")


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def platform(tmp_path: Path, fake: FakeTelegram) -> Iterator[Platform]:
    runtime = _runtime(tmp_path, fake)
    seeded = seed_marketplace(runtime.engine, [{}, {}])
    with ServedRuntime(runtime, free_port()) as served:
        fake.wait_until(lambda: runtime.telegram.bot is not None and runtime.telegram.bot.username)
        yield Platform(served, seeded, fake)


def _texts_after(fake: FakeTelegram, chat_id: int, start: int, count: int) -> list[str]:
    return [m.text for m in fake.wait_for(chat_id, start + count)[start:]]


# -- start-up and linking ------------------------------------------------------------------------------


def test_the_bot_starts_with_its_commands_and_no_webhook(platform: Platform) -> None:
    fake = platform.fake
    assert fake.calls_of("getMe") and fake.calls_of("deleteWebhook")
    assert {c["command"] for c in fake.commands} >= {
        "status",
        "positions",
        "profit",
        "balance",
        "close",
        "halt",
    }
    status = platform.api("GET", "/telegram").json()
    assert status["enabled"] is True and status["linked"] is False
    assert all(status["notifications"].values())


def test_a_code_links_the_chat_once(platform: Platform) -> None:
    response = platform.api("POST", "/telegram/link")
    code = response.json()["code"]
    assert response.json()["bot_username"] == "tradewire_test_bot"
    assert platform.say(CHAT, f"/start {code}").startswith("Linked to tv-test-sub1")
    assert platform.api("GET", "/telegram").json()["linked"] is True
    # Used: another chat cannot take it.
    assert "wrong, used or expired" in platform.say(OTHER_CHAT, f"/start {code}")
    assert platform.say(OTHER_CHAT, "/status") == UNLINKED


def test_a_wrong_code_links_nothing_and_attempts_are_bounded(platform: Platform) -> None:
    for _ in range(5):
        assert "wrong, used or expired" in platform.say(OTHER_CHAT, "/start ABCDEFGHJK")
    code = platform.api("POST", "/telegram/link").json()["code"]
    # The sixth attempt is refused unchecked, the right code too.
    assert "Too many attempts" in platform.say(OTHER_CHAT, f"/start {code}")
    assert platform.api("GET", "/telegram").json()["linked"] is False
    assert platform.say(CHAT, f"/start {code}").startswith("Linked to")


def test_an_expired_code_links_nothing(tmp_path: Path, fake: FakeTelegram) -> None:
    runtime = _runtime(tmp_path, fake, telegram_link_code_minutes=0.005)  # 0.3 s
    seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        platform = Platform(served, Seeded(0, 0, "tv-test", [], [], []), fake)
        code = platform.api("POST", "/telegram/link").json()["code"]
        time.sleep(0.5)
        assert "wrong, used or expired" in platform.say(CHAT, f"/start {code}")
        assert platform.api("GET", "/telegram").json()["linked"] is False


def test_a_new_code_replaces_the_previous_one(platform: Platform) -> None:
    first = platform.api("POST", "/telegram/link").json()["code"]
    second = platform.api("POST", "/telegram/link").json()["code"]
    assert "wrong, used or expired" in platform.say(CHAT, f"/start {first}")
    assert platform.say(CHAT, f"/start {second}").startswith("Linked to")


def test_an_unlinked_chat_gets_one_short_answer_and_nothing_else(platform: Platform) -> None:
    platform.link(CHAT)
    platform.alert("buy")
    for command in ("/status", "/positions", "/halt", "/close 1", "hello"):
        assert platform.say(OTHER_CHAT, command) == UNLINKED
    time.sleep(0.5)
    assert len(platform.fake.sent(OTHER_CHAT)) == 5  # the answers, no notification
    subscriptions = platform.api("GET", "/subscriptions").json()
    assert all(s["trading_state"] == "ACTIVE" for s in subscriptions)


def test_unlink_from_the_api_and_from_the_chat(platform: Platform) -> None:
    platform.link(CHAT)
    assert platform.api("DELETE", "/telegram/link").status_code == 204
    assert platform.say(CHAT, "/status") == UNLINKED
    assert platform.api("DELETE", "/telegram/link").status_code == 404
    platform.link(CHAT)
    assert "unlinked" in platform.say(CHAT, "/unlink")
    assert platform.api("GET", "/telegram").json()["linked"] is False


def test_without_a_token_there_is_no_bot(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        headers = served.token("tv-test-sub1")
        response = httpx.post(f"{served.url}/api/v1/telegram/link", headers=headers)
        assert response.status_code == 409
        assert httpx.get(f"{served.url}/api/v1/telegram", headers=headers).json()["enabled"] is False


# -- notifications -------------------------------------------------------------------------------------


def _position(platform: Platform, status: str) -> dict[str, Any]:
    rows = platform.api("GET", f"/positions?status={status}").json()
    return dict(rows[0])


def test_a_trade_is_notified_with_exact_numbers(platform: Platform) -> None:
    platform.link(CHAT)
    start = len(platform.fake.sent(CHAT))
    platform.alert("buy")
    signal, entry = _texts_after(platform.fake, CHAT, start, 2)
    assert signal.startswith("📡 Signal #1: buy BTC/USDT")
    fill = platform.api("GET", "/orders").json()[0]
    assert entry.startswith(f"✅ Entry filled: bought {fill['filled']} BTC/USDT @ {fill['average']} USDT")
    platform.served.run(_set_price(platform, "63000"))
    platform.alert("sell")
    closed = _position(platform, "closed")
    texts = _texts_after(platform.fake, CHAT, start + 2, 2)
    assert texts[0].startswith("📡 Signal #2: sell BTC/USDT")
    assert texts[1] == (
        f"🏁 Position #{closed['id']} BTC/USDT closed (SIGNAL): realised PnL {closed['realized_pnl']} USDT, "
        f"fees {closed['fees']} USDT (account #{closed['account_id']})"
    )
    assert Decimal(closed["realized_pnl"]) > 0
    # The other subscriber has no chat: nothing was sent anywhere else.
    assert {c.params["chat_id"] for c in platform.fake.calls_of("sendMessage")} == {str(CHAT)}


async def _set_price_async(platform: Platform, price: str) -> None:
    platform.served.runtime.feed.set_price("BTC/USDT", Decimal(price))


def _set_price(platform: Platform, price: str) -> Any:
    return _set_price_async(platform, price)


def test_notifications_switched_off_are_not_sent(platform: Platform) -> None:
    platform.link(CHAT)
    response = platform.api("PATCH", "/telegram/notifications", json={"signal_received": False})
    assert response.json()["notifications"]["signal_received"] is False
    assert response.json()["notifications"]["entry_filled"] is True
    start = len(platform.fake.sent(CHAT))
    platform.alert("buy")
    texts = _texts_after(platform.fake, CHAT, start, 1)
    time.sleep(0.5)
    assert texts[0].startswith("✅ Entry filled")
    assert len(platform.fake.sent(CHAT)) == start + 1
    bad = platform.api("PATCH", "/telegram/notifications", json={"daily_summary": True})
    assert bad.status_code == 422


def test_a_refused_entry_is_notified_with_the_rule(platform: Platform) -> None:
    sub = platform.api("GET", "/subscriptions").json()[0]
    patch = {"risk_limits": {"max_position_quote": "1", "cooldown_s": 0}}
    assert platform.api("PATCH", f"/subscriptions/{sub['id']}", json=patch).status_code == 200
    platform.link(CHAT)
    start = len(platform.fake.sent(CHAT))
    platform.alert("buy")
    texts = _texts_after(platform.fake, CHAT, start, 2)
    [intent] = platform.api("GET", "/intents").json()
    assert intent["status"] == "rejected"
    assert texts[1] == (
        f"🛑 Entry refused by risk (intent #{intent['id']}, subscription #{sub['id']}): {intent['reason']}"
    )


def _lose_money(platform: Platform) -> dict[str, Any]:
    """A round trip bought at 60,000 and sold at 54,000: the position, closed at a loss today."""
    platform.alert("buy")
    platform.served.run(_set_price(platform, "54000"))
    platform.alert("sell")
    closed = _position(platform, "closed")
    assert Decimal(closed["realized_pnl"]) < 0
    return closed


def _limits(platform: Platform, **limits: str) -> int:
    sub = platform.api("GET", "/subscriptions").json()[0]
    patch = {"risk_limits": {"cooldown_s": 0, **limits}}
    response = platform.api("PATCH", f"/subscriptions/{sub['id']}", json=patch)
    assert response.status_code == 200, response.text
    return int(sub["id"])


def test_the_daily_loss_limit_reached_is_notified_once_a_day(platform: Platform) -> None:
    closed = _lose_money(platform)
    loss = fmt(Decimal(closed["fees"]) - Decimal(closed["realized_pnl"]))  # net of fees
    sub_id = _limits(platform, daily_loss_quote="1", drawdown_warn_pct="99", drawdown_pause_pct="99")
    platform.link(CHAT)
    start = len(platform.fake.sent(CHAT))

    platform.alert("buy")
    texts = _texts_after(platform.fake, CHAT, start, 3)
    [intent] = [i for i in platform.api("GET", "/intents").json() if i["status"] == "rejected"]
    day = datetime.now(UTC).date().isoformat()
    [told] = [t for t in texts if t.startswith("🚨")]
    assert told.startswith(
        f"🚨 Daily loss limit reached on account #{closed['account_id']}: lost {loss} USDT on {day} (UTC), "
        "limit 1 USDT (the smaller of 5% of equity "
    )
    assert told.endswith(f"No new entries until 00:00 UTC (subscription #{sub_id}, intent #{intent['id']})")
    assert any(t.startswith("🛑 Entry refused by risk") and "daily_loss" in t for t in texts)

    # Refused again the same day: the refusal is told, the limit not again.
    platform.alert("buy")
    again = _texts_after(platform.fake, CHAT, start + 3, 2)
    time.sleep(0.5)
    assert [t.split()[0] for t in again] == ["📡", "🛑"]
    assert len(platform.fake.sent(CHAT)) == start + 5
    # And it can be switched off like the others.
    response = platform.api("PATCH", "/telegram/notifications", json={"daily_loss": False})
    assert response.json()["notifications"]["daily_loss"] is False


def test_a_drawdown_warns_then_pauses_and_both_are_notified(platform: Platform) -> None:
    closed = _lose_money(platform)
    lost = fmt(Decimal(closed["fees"]) - Decimal(closed["realized_pnl"]))
    sub_id = _limits(platform, drawdown_warn_pct="0.01", drawdown_pause_pct="99")
    platform.link(CHAT)
    start = len(platform.fake.sent(CHAT))

    platform.alert("buy")  # warned, and it trades
    texts = _texts_after(platform.fake, CHAT, start, 3)
    [warning] = [t for t in texts if t.startswith("⚠️")]
    assert warning.startswith(
        f"⚠️ Drawdown warning, subscription #{sub_id} (account #{closed['account_id']}): "
    )
    assert f"% of equity, results {lost} USDT below their peak of 0 USDT (now -{lost} USDT); " in warning
    assert warning.endswith("warning at 0.01%, entries pause at 99%")
    assert any(t.startswith("✅ Entry filled") for t in texts)

    _limits(platform, drawdown_warn_pct="0.01", drawdown_pause_pct="0.02")
    platform.alert("buy")  # paused
    texts = _texts_after(platform.fake, CHAT, start + 3, 3)
    [pause] = [t for t in texts if t.startswith("⏸️")]
    subscription = platform.api("GET", f"/subscriptions/{sub_id}").json()
    assert subscription["trading_state"] == "REDUCING"
    assert pause.startswith(f"⏸️ Subscription #{sub_id} paused, exits only: drawdown ")
    assert pause.endswith(
        f"% reached 0.02% (account #{closed['account_id']}), results {lost} USDT below their peak of 0 USDT "
        f"(now -{lost} USDT). /resume {sub_id} (or its trading state ACTIVE) resumes entries"
    )
    # Paused already: the next entry is refused by the trading state, and no pause is told again.
    platform.alert("buy")
    again = _texts_after(platform.fake, CHAT, start + 6, 2)
    time.sleep(0.5)
    assert [t.split()[0] for t in again] == ["📡", "🛑"] and "trading_state" in again[1]
    assert len(platform.fake.sent(CHAT)) == start + 8


def test_429_is_honoured_with_its_retry_after(platform: Platform) -> None:
    platform.link(CHAT)
    platform.fake.fail_next("sendMessage", 429, retry_after=1)
    start = len(platform.fake.sent(CHAT))
    platform.alert("buy")
    _texts_after(platform.fake, CHAT, start, 2)
    sends = platform.fake.calls_of("sendMessage")
    refused = next(c for c in sends if c.status == 429)
    after = [c for c in sends if c.at > refused.at]
    assert after and after[0].at - refused.at >= 0.95
    assert [c.status for c in after[:2]] == [200, 200]


def test_a_blocked_bot_unlinks_the_chat(platform: Platform) -> None:
    platform.link(CHAT)
    platform.fake.block(CHAT)
    platform.alert("buy")
    platform.fake.wait_until(lambda: platform.api("GET", "/telegram").json()["linked"] is False)
    assert any(c.status == 403 for c in platform.fake.calls_of("sendMessage"))


def test_restart_sends_nothing_twice_and_what_happened_meanwhile_once(
    tmp_path: Path, fake: FakeTelegram
) -> None:
    runtime = _runtime(tmp_path, fake)
    seeded = seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        platform = Platform(served, seeded, fake)
        platform.link(CHAT)
        start = len(fake.sent(CHAT))
        platform.alert("buy")
        _texts_after(fake, CHAT, start, 2)
    runtime.engine.dispose()
    # While the server is down nothing is sent; a new process on the same database goes on from the
    # stored cursor.
    runtime = _runtime(tmp_path, fake)
    with ServedRuntime(runtime, free_port()) as served:
        platform = Platform(served, seeded, fake)
        platform.sent = 1
        platform.alert("sell")
        fake.wait_for(CHAT, start + 4)
        time.sleep(1.0)
    texts = fake.texts(CHAT)[start:]
    assert len(texts) == 4, texts
    assert len(set(texts)) == 4
    assert [t[0] for t in texts] == ["📡", "✅", "📡", "🏁"]


# -- commands ------------------------------------------------------------------------------------------


def test_read_commands(platform: Platform) -> None:
    platform.link(CHAT)
    assert platform.say(CHAT, "/help").startswith("Tradewire commands:")
    status = platform.say(CHAT, "/status")
    sub = platform.api("GET", "/subscriptions").json()[0]
    assert f"#{sub['id']} tv-test on paper (paper): ACTIVE, trading ACTIVE" in status
    assert platform.say(CHAT, "/positions") == "No open positions."
    platform.alert("buy")
    position = _position(platform, "open")
    positions = platform.say(CHAT, "/positions")
    assert f"#{position['id']} BTC/USDT {position['amount']} @ {position['avg_entry']} USDT" in positions
    balance = platform.say(CHAT, "/balance")
    found = platform.api("GET", f"/accounts/{position['account_id']}/balance").json()
    assert f"equity {found['equity']} USDT" in balance
    assert platform.say(CHAT, "/profit") == "No positions closed in the last 7 days."
    assert platform.say(CHAT, "/profit 0").startswith("Usage: /profit")
    assert platform.say(CHAT, "/profit 99999999999999999999").startswith("Usage: /profit")
    assert platform.say(CHAT, "/nonsense") == "Unknown command. /help lists them."


def test_close_asks_to_confirm_and_the_button_closes(platform: Platform) -> None:
    platform.link(CHAT)
    platform.alert("buy")
    position = _position(platform, "open")
    start = len(platform.fake.sent(CHAT))
    platform.fake.user_says(CHAT, f"/close {position['id']}")
    asked = next(m for m in platform.fake.wait_for(CHAT, start + 1)[start:] if m.reply_markup)
    assert asked.text.startswith(f"Close position #{position['id']}")
    buttons = asked.reply_markup["inline_keyboard"][0]  # type: ignore[index]
    assert [b["callback_data"] for b in buttons] == [f"close:{position['id']}", f"keep:{position['id']}"]
    # A double tap: one exit order.
    platform.fake.user_presses(CHAT, asked.message_id, f"close:{position['id']}")
    platform.fake.user_presses(CHAT, asked.message_id, f"close:{position['id']}")
    platform.fake.wait_until(lambda: "closing" in _message(platform.fake, CHAT, asked.message_id))
    platform.fake.wait_until(lambda: _position(platform, "closed")["close_reason"] == "MANUAL")
    platform.fake.wait_until(lambda: len(platform.fake.calls_of("answerCallbackQuery")) == 2)
    sells = [o for o in platform.api("GET", "/orders").json() if o["side"] == "sell"]
    assert len(sells) == 1
    assert "closing" in _message(platform.fake, CHAT, asked.message_id)


def _message(fake: FakeTelegram, chat_id: int, message_id: int) -> str:
    return next(m.text for m in fake.sent(chat_id) if m.message_id == message_id)


def test_a_button_for_someone_elses_position_closes_nothing(platform: Platform) -> None:
    platform.link(CHAT)
    platform.link(OTHER_CHAT, platform.served.token("tv-test-sub2"))
    platform.alert("buy")
    theirs = _position(platform, "open")  # sub1's
    start = len(platform.fake.sent(OTHER_CHAT))
    asked = platform.say(OTHER_CHAT, f"/close {theirs['id']}")
    assert asked == f"No position {theirs['id']}."
    # A forged press with sub1's position id from sub2's chat.
    platform.fake.user_presses(OTHER_CHAT, 99999, f"close:{theirs['id']}")
    platform.fake.wait_until(lambda: len(platform.fake.calls_of("answerCallbackQuery")) >= 1)
    time.sleep(0.3)
    assert _position(platform, "open")["id"] == theirs["id"]
    # Data we never made is refused.
    platform.fake.user_presses(OTHER_CHAT, 99999, "close:-1")
    platform.fake.user_presses(OTHER_CHAT, 99999, "x" * 64)
    platform.fake.wait_until(lambda: len(platform.fake.calls_of("answerCallbackQuery")) >= 3)
    assert len(platform.fake.sent(OTHER_CHAT)) >= start + 1


def test_pause_resume_and_halt(platform: Platform) -> None:
    platform.link(CHAT)
    sub = platform.api("GET", "/subscriptions").json()[0]
    paused = f"Subscription #{sub['id']} (tv-test) is PAUSED, trading ACTIVE."
    assert platform.say(CHAT, f"/pause {sub['id']}") == paused
    assert platform.api("GET", f"/subscriptions/{sub['id']}").json()["status"] == "PAUSED"
    resumed = f"Subscription #{sub['id']} (tv-test) is ACTIVE, trading ACTIVE."
    assert platform.say(CHAT, f"/resume {sub['id']}") == resumed
    assert platform.say(CHAT, "/pause 999999") == "no subscription 999999"
    assert platform.say(CHAT, "/pause x").startswith("Usage: /pause ID")
    other = platform.served.token("tv-test-sub2")
    their_sub = platform.api("GET", "/subscriptions", other).json()[0]
    assert platform.say(CHAT, f"/pause {their_sub['id']}") == f"no subscription {their_sub['id']}"
    halted = platform.say(CHAT, "/halt")
    assert halted.startswith(f"HALTED 1 subscriptions (#{sub['id']}): no orders at all")
    assert platform.say(CHAT, "/halt").startswith("Nothing to halt")
    assert platform.api("GET", f"/subscriptions/{sub['id']}").json()["trading_state"] == "HALTED"
    assert platform.api("GET", "/subscriptions", other).json()[0]["trading_state"] == "ACTIVE"
    # /resume lifts the halt (as it lifts a drawdown pause): entries trade again.
    assert platform.say(CHAT, f"/resume {sub['id']}") == resumed
    assert platform.api("GET", f"/subscriptions/{sub['id']}").json()["trading_state"] == "ACTIVE"


def test_the_token_never_reaches_the_logs(
    tmp_path: Path, fake: FakeTelegram, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("DEBUG")
    runtime = _runtime(tmp_path, fake)
    seeded = seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        platform = Platform(served, seeded, fake)
        platform.link(CHAT)
        fake.fail_next("sendMessage", 429, retry_after=1)
        platform.alert("buy")
        fake.wait_for(CHAT, 3)
        fake.block(CHAT)
        platform.alert("sell")
        fake.wait_until(lambda: platform.api("GET", "/telegram").json()["linked"] is False)
    logged = capsys.readouterr().err
    assert "sendMessage" in logged or "telegram" in logged  # it did log, at DEBUG
    assert fake.token not in logged
    assert fake.token.split(":", 1)[1] not in logged


def test_a_bot_token_is_blanked_wherever_it_appears() -> None:
    token = "123456789:AAH-abcdefghijklmnopqrstuvwxyz0123456"
    assert token not in redact(f"POST https://api.telegram.org/bot{token}/getUpdates 200")
    assert redact(f"token {token} rejected").count("***") == 1


def test_the_daily_summary_comes_once_a_day(tmp_path: Path, fake: FakeTelegram) -> None:
    runtime = _runtime(tmp_path, fake, telegram_summary_interval_s=0.2)
    seeded = seed_marketplace(runtime.engine, [{}])
    with ServedRuntime(runtime, free_port()) as served:
        platform = Platform(served, seeded, fake)
        platform.link(CHAT)
        assert (
            platform.api(
                "PUT", "/telegram/summary", json={"hour": 0, "time_zone": "Mars/Olympus"}
            ).status_code
            == 422
        )
        assert platform.api("PUT", "/telegram/summary", json={"hour": 24}).status_code == 422
        platform.alert("buy")
        platform.served.run(_set_price(platform, "61000"))
        platform.alert("sell")
        start = len(fake.sent(CHAT))
        response = platform.api(
            "PUT", "/telegram/summary", json={"hour": 0, "time_zone": "Pacific/Kiritimati"}
        )
        assert response.json()["daily_summary"]["hour"] == 0
        platform.fake.wait_until(lambda: any(t.startswith("📊") for t in fake.texts(CHAT)[start:]))
        closed = _position(platform, "closed")
        [summary] = [t for t in fake.texts(CHAT) if t.startswith("📊")]
        assert "(Pacific/Kiritimati)" in summary
        net = Decimal(closed["realized_pnl"]) - Decimal(closed["fees"])
        assert (
            f"Closed 1 (USDT): realised {closed['realized_pnl']}, fees {closed['fees']}, net {net}" in summary
        )
        time.sleep(0.6)
        day = platform.api("GET", "/telegram").json()["daily_summary"]["last_sent_on"]
        assert day is not None
    runtime.engine.dispose()
    runtime = _runtime(tmp_path, fake, telegram_summary_interval_s=0.2)
    with ServedRuntime(runtime, free_port()):
        time.sleep(1.0)
    assert len([t for t in fake.texts(CHAT) if t.startswith("📊")]) == 1  # not again after a restart


def test_a_disabled_user_commands_nothing(platform: Platform) -> None:
    platform.link(CHAT)
    engine = platform.served.runtime.engine
    members = SqlMembers(engine)
    user = members.user_by_name("tv-test-sub1")
    assert user is not None
    with write_transaction(engine) as conn:
        conn.execute(update(users).where(users.c.id == user.id).values(disabled_at=datetime.now(UTC)))
    assert platform.say(CHAT, "/halt") == DISABLED
    assert platform.say(CHAT, "/status") == DISABLED
    assert all(s.trading_state.value == "ACTIVE" for s in members.subscriptions(user.id))
