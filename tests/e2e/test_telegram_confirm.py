"""Confirm before trade on Telegram, over a real server through python-telegram-bot and the fake Bot
API: a subscription with `confirmation: telegram` asks in the linked chat with Confirm and Decline
buttons (the order, its stop and target, the risk verdicts); Confirm gives one order however often it
is tapped, and from the API at the same time; Decline and the deadline give none; a restart while
waiting neither asks twice nor loses the question; the message is edited to tell each outcome."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.test_confirm_http import ShiftedClock
from tests.fakes.telegram_api import FakeTelegram, SentMessage
from tests.seeding import Seeded
from tests.support import ServedRuntime, make_runtime, pin_prices, seed_marketplace, send_alert

CHAT = 434343
ASKS = {
    "confirmation": "telegram",
    "confirmation_timeout_s": 120,
    "exit_rules": {"stop_loss_pct": "5", "take_profit_pct": "10"},
}


class Platform:
    """A served runtime whose first subscriber confirms on Telegram (linked to CHAT); the second
    subscriber does not ask."""

    def __init__(self, served: ServedRuntime, seeded: Seeded, fake: FakeTelegram) -> None:
        self.served, self.seeded, self.fake = served, seeded, fake
        self.headers = served.token("tv-test-sub1")
        self.alerts = 0

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.served.url}/api/v1{path}", headers=self.headers, timeout=10, **kw
        )

    def link(self) -> None:
        code = self.api("POST", "/telegram/link").json()["code"]
        before = len(self.fake.sent(CHAT))
        self.fake.user_says(CHAT, f"/start {code}")
        assert "Linked to" in self.fake.wait_for(CHAT, before + 1)[-1].text

    def buy(self) -> SentMessage:
        """An alert; the question it asks in the chat."""
        self.alerts += 1
        send_alert(self.served.url, "buy", self.alerts)
        self.served.settle()
        return self.question()

    def question(self, timeout: float = 10.0) -> SentMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            asked = [m for m in self.fake.sent(CHAT) if m.text.startswith("❓")]
            if asked:
                return asked[-1]
            time.sleep(0.02)
        raise AssertionError("no question asked")

    def message(self, message_id: int) -> SentMessage:
        return next(m for m in self.fake.sent(CHAT) if m.message_id == message_id)

    def intents(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/intents").json())

    def orders(self) -> list[dict[str, Any]]:
        return list(self.api("GET", "/orders").json())


def _runtime(tmp_path: Path, fake: FakeTelegram, clock: ShiftedClock) -> Any:
    runtime = make_runtime(
        tmp_path,
        clock=clock,
        telegram_token=fake.token,
        telegram_api_url=fake.url,
        telegram_poll_timeout_s=1,
        telegram_notify_interval_s=0.1,
        telegram_chat_rate="20/second",
    )
    pin_prices(runtime, {"BTC/USDT": "60000"})
    return runtime


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def platform(tmp_path: Path, fake: FakeTelegram, clock: ShiftedClock) -> Iterator[Platform]:
    runtime = _runtime(tmp_path, fake, clock)
    seeded = seed_marketplace(runtime.engine, [ASKS, {}])
    with ServedRuntime(runtime, free_port()) as served:
        fake.wait_until(lambda: runtime.telegram.bot is not None and runtime.telegram.bot.username)
        found = Platform(served, seeded, fake)
        found.link()
        yield found


def _buttons(message: SentMessage) -> list[tuple[str, str]]:
    assert message.reply_markup is not None
    return [(b["text"], b["callback_data"]) for b in message.reply_markup["inline_keyboard"][0]]


def test_the_question_carries_the_order_its_levels_and_the_risk_verdicts(platform: Platform) -> None:
    asked = platform.buy()

    [intent] = [i for i in platform.intents() if i["status"] == "awaiting_confirmation"]
    proposal = intent["proposal"]
    assert _buttons(asked) == [("Confirm", f"ok:{intent['id']}"), ("Decline", f"no:{intent['id']}")]
    lines = asked.text.splitlines()
    assert lines[0] == (
        f"❓ Confirm entry: buy {proposal['amount']} BTC/USDT (market) at 60000 USDT, about "
        f"{proposal['notional']} USDT?"
    )
    assert lines[1] == "Stop loss 57000, take profit 66000"
    passed = sum(1 for v in proposal["risk"] if v["passed"])
    assert f"Risk: {passed} of {len(proposal['risk'])} rules passed" in lines
    deadline = datetime.fromisoformat(intent["confirm_by"]).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert lines[-1] == (
        f"Answer by {deadline} (intent #{intent['id']}, subscription "
        f"#{intent['subscription_id']}); unanswered, nothing trades."
    )
    assert platform.orders() == []


def test_confirm_orders_once_however_often_it_is_tapped_and_the_message_tells_it(
    platform: Platform,
) -> None:
    asked = platform.buy()
    [(_, confirm), _decline] = _buttons(asked)

    taps = [platform.fake.user_presses(CHAT, asked.message_id, confirm) for _ in range(3)]
    platform.fake.wait_until(lambda: all(platform.fake.answered(t) for t in taps))
    platform.fake.wait_until(lambda: [o["state"] for o in platform.orders()] == ["filled"])
    [order] = platform.orders()
    platform.fake.wait_until(
        lambda: f"Ordered: order #{order['id']}" in platform.message(asked.message_id).text
    )

    notices = sorted(str(platform.fake.answered(t)["text"]) for t in taps)  # type: ignore[index]
    assert notices[0] == "Confirmed." and all("not awaiting confirmation" in n for n in notices[1:])
    edited = platform.message(asked.message_id)
    assert edited.text.startswith(asked.text) and edited.reply_markup is None
    time.sleep(0.5)  # more sweeps and notification rounds: still one order
    assert len(platform.orders()) == 1


def test_decline_trades_nothing_and_the_message_says_so(platform: Platform) -> None:
    asked = platform.buy()
    [_, (_, decline)] = _buttons(asked)

    tap = platform.fake.user_presses(CHAT, asked.message_id, decline)
    platform.fake.wait_until(lambda: platform.fake.answered(tap) is not None)
    platform.fake.wait_until(lambda: "Declined: nothing traded." in platform.message(asked.message_id).text)

    [intent] = platform.intents()
    assert (intent["status"], intent["reason"]) == ("rejected", "declined by tv-test-sub1: nothing traded")
    assert platform.orders() == []


def test_an_unanswered_question_expires_and_a_late_tap_trades_nothing(
    platform: Platform, clock: ShiftedClock
) -> None:
    asked = platform.buy()
    [(_, confirm), _decline] = _buttons(asked)

    clock.offset = timedelta(seconds=121)
    platform.fake.wait_until(
        lambda: "⌛ not confirmed within 120 s: nothing traded" in platform.message(asked.message_id).text
    )
    tap = platform.fake.user_presses(CHAT, asked.message_id, confirm)
    platform.fake.wait_until(lambda: platform.fake.answered(tap) is not None)
    platform.served.settle()

    assert "not confirmed within 120 s" in str(platform.fake.answered(tap)["text"])  # type: ignore[index]
    assert platform.orders() == []
    assert platform.message(asked.message_id).reply_markup is None


def test_an_api_confirm_and_a_tap_at_once_give_one_order(platform: Platform) -> None:
    asked = platform.buy()
    [(_, confirm), _decline] = _buttons(asked)
    intent_id = int(confirm.split(":")[1])

    tap = platform.fake.user_presses(CHAT, asked.message_id, confirm)
    by_api = platform.api("POST", f"/intents/{intent_id}/confirm")
    platform.fake.wait_until(lambda: platform.fake.answered(tap) is not None)
    platform.fake.wait_until(lambda: [o["state"] for o in platform.orders()] == ["filled"])

    notice = str(platform.fake.answered(tap)["text"])  # type: ignore[index]
    assert sorted([by_api.status_code == 200, notice == "Confirmed."]) == [False, True]  # one of them won
    platform.fake.wait_until(lambda: "Ordered: order #" in platform.message(asked.message_id).text)
    assert len(platform.orders()) == 1


def test_a_restart_while_waiting_asks_once_and_the_confirm_after_it_orders_once(
    tmp_path: Path, fake: FakeTelegram, clock: ShiftedClock
) -> None:
    runtime = _runtime(tmp_path, fake, clock)
    seeded = seed_marketplace(runtime.engine, [ASKS])
    with ServedRuntime(runtime, free_port()) as served:
        fake.wait_until(lambda: runtime.telegram.bot is not None and runtime.telegram.bot.username)
        first = Platform(served, seeded, fake)
        first.link()
        asked = first.buy()
    runtime.engine.dispose()
    restarted = _runtime(tmp_path, fake, clock)
    with ServedRuntime(restarted, free_port()) as served:
        fake.wait_until(lambda: restarted.telegram.bot is not None and restarted.telegram.bot.username)
        platform = Platform(served, seeded, fake)
        time.sleep(0.5)  # notification rounds and sweeps have run
        [(_, confirm), _decline] = _buttons(platform.message(asked.message_id))
        tap = fake.user_presses(CHAT, asked.message_id, confirm)
        fake.wait_until(lambda: [o["state"] for o in platform.orders()] == ["filled"])
        fake.wait_until(lambda: "Ordered: order #" in platform.message(asked.message_id).text)
        time.sleep(0.3)

        assert fake.answered(tap)["text"] == "Confirmed."  # type: ignore[index]
        assert len([m for m in fake.sent(CHAT) if m.text.startswith("❓")]) == 1  # asked once
        assert len(platform.orders()) == 1
