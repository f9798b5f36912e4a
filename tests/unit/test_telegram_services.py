"""Telegram without a database or a network: which events are notifications and their exact text,
commands and button data bounds, link codes (single use, expiry, bounded attempts), and the
notification workers (order, settings, 429, blocked chats, refused messages, outages, pacing)."""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.memory_members import FixedClock
from tests.fakes.memory_telegram import MemoryTelegramLinks
from tradewire.adapters.rate_limits import RateLimits
from tradewire.domain.notices import Notice, notice_of, notice_text, stored_data
from tradewire.domain.records import Page
from tradewire.domain.telegram import (
    CODE_LENGTH,
    DayResults,
    code_digest,
    confirm_data,
    decline_data,
    looks_like_code,
    new_link_code,
    outcome_of,
    parse_button,
    parse_command,
    prompt_of,
    summary_day,
    summary_text,
)
from tradewire.ports.telegram import (
    Button,
    ChatGone,
    MessageRefused,
    MessengerUnavailable,
    Prompt,
    RetryLater,
)
from tradewire.services.records import MarkedPosition
from tradewire.services.telegram.linking import LINK_TIER, Linking, TooManyAttempts
from tradewire.services.telegram.notifications import ALL_TIER, CHAT_TIER, Notifications
from tradewire.services.telegram.summaries import Summaries

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
USER, CHAT = 7, 700


# -- the domain ----------------------------------------------------------------------------------------


def test_events_become_notifications_only_where_they_mean_one() -> None:
    assert notice_of("signals", "received", {}) is Notice.SIGNAL_RECEIVED
    assert notice_of("fills", "new", {"side": "buy"}) is Notice.ENTRY_FILLED
    assert notice_of("fills", "new", {"side": "sell"}) is None  # the closed position tells the exit
    assert notice_of("positions", "closed", {}) is Notice.EXIT_FILLED
    assert notice_of("positions", "opened", {}) is None
    assert notice_of("orders", "updated", {"state": "rejected"}) is Notice.ORDER_FAILED
    assert notice_of("orders", "updated", {"state": "filled"}) is None
    assert notice_of("intents", "failed", {}) is Notice.ORDER_FAILED
    assert notice_of("intents", "rejected", {"details": {"risk": {}}}) is Notice.ENTRY_REFUSED
    assert notice_of("intents", "rejected", {"details": None}) is None  # skipped, not by a risk rule
    assert notice_of("bots", "changed", {}) is Notice.BOT_CHANGED
    assert notice_of("backtests", "done", {}) is None
    assert stored_data("not json") is None
    assert stored_data("[1]") is None and stored_data('{"a": 1}') == {"a": 1}


def test_texts_carry_the_stored_decimals_and_the_quote_currency() -> None:
    closed = {
        "position_id": 3,
        "symbol": "ETH/BTC",
        "close_reason": "TP",
        "realized_pnl": "0.000123456789012345",
        "fees": "0.0000001",
        "account_id": 2,
    }
    assert notice_text(Notice.EXIT_FILLED, closed) == (
        "🏁 Position #3 ETH/BTC closed (TP): realised PnL 0.000123456789012345 BTC, fees 0.0000001 BTC "
        "(account #2)"
    )
    fill = {
        "order_id": 5,
        "account_id": 1,
        "symbol": "BTC/USDT",
        "side": "buy",
        "amount": "0.00166",
        "price": "60000.1",
        "fee": "0.0996",
        "fee_currency": "USDT",
    }
    assert notice_text(Notice.ENTRY_FILLED, fill) == (
        "✅ Entry filled: bought 0.00166 BTC/USDT @ 60000.1 USDT, fee 0.0996 USDT (order #5, account #1)"
    )
    rejected = {"order_id": 9, "state": "rejected", "reason": "insufficient funds"}
    assert notice_text(Notice.ORDER_FAILED, rejected) == "❌ Order #9 rejected: insufficient funds"
    refused = {"intent_id": 4, "subscription_id": 2, "reason": "x" * 10_000, "details": {"risk": {}}}
    assert len(notice_text(Notice.ENTRY_REFUSED, refused)) == 4096
    bot = {"bot_id": 1, "status": "PAUSED", "enabled": False}
    assert notice_text(Notice.BOT_CHANGED, bot) == "🤖 Bot #1 stopped (subscription PAUSED)"


def test_commands_and_buttons_are_bounded() -> None:
    assert parse_command("/profit 30") == parse_command("/profit@tradewire_test_bot 30")
    assert parse_command("/Profit 30").name == "profit"
    assert parse_command("hello").name == ""
    assert parse_command("/" + "x" * 300).name == ""
    assert parse_command("/close " + "1" * 300).name == ""  # longer than any command we read
    assert parse_button("close:12") == ("close", 12)
    assert parse_button("keep:12") == ("keep", 12)
    for bad in (
        "close:0",
        "close:-1",
        "close:9223372036854775808",
        "close:1e3",
        "open:1",
        "close:",
        "",
        None,
    ):
        assert parse_button(bad) is None, bad
    assert parse_button("close:" + "1" * 70) is None


def test_codes_are_random_and_only_their_digest_is_kept() -> None:
    codes = {new_link_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == CODE_LENGTH and looks_like_code(c) for c in codes)
    code = next(iter(codes))
    assert code_digest(code) == code_digest(f"  {code.lower()} ") and code not in code_digest(code)
    assert not looks_like_code("ABC") and not looks_like_code("0" * CODE_LENGTH)


# -- linking -------------------------------------------------------------------------------------------


def _linking(links: MemoryTelegramLinks, clock: FixedClock, attempts: str = "5/15minutes") -> Linking:
    return Linking(links, clock, RateLimits({LINK_TIER: attempts}), code_ttl=timedelta(minutes=10))


async def test_a_code_links_once_and_starts_after_the_users_last_event() -> None:
    links, clock = MemoryTelegramLinks(), FixedClock(NOW)
    links.outbox.add(USER, "signals", "received", {})
    linking = _linking(links, clock)
    made = await linking.new_code(USER)
    assert made.expires_at == NOW + timedelta(minutes=10)
    assert made.code not in str(links.codes)
    assert await linking.link(CHAT, made.code) == USER
    assert links.link_of_user(USER) == links.link_of_chat(CHAT)
    assert links.by_user[USER].last_event_id == 1  # history is not replayed
    assert await linking.link(CHAT + 1, made.code) is None  # used


async def test_expired_wrong_and_replaced_codes_link_nothing() -> None:
    links, clock = MemoryTelegramLinks(), FixedClock(NOW)
    linking = _linking(links, clock, attempts="100/minute")
    old = await linking.new_code(USER)
    new = await linking.new_code(USER)
    assert await linking.link(CHAT, old.code) is None
    assert await linking.link(CHAT, "ABCDEFGHJK") is None
    assert await linking.link(CHAT, "not a code at all") is None
    clock.now_ = NOW + timedelta(minutes=10)
    assert await linking.link(CHAT, new.code) is None
    assert links.links() == []


async def test_attempts_per_chat_are_bounded_before_any_check() -> None:
    links, clock = MemoryTelegramLinks(), FixedClock(NOW)
    linking = _linking(links, clock, attempts="3/15minutes")
    made = await linking.new_code(USER)
    for _ in range(3):
        assert await linking.link(CHAT, "ABCDEFGHJK") is None
    with pytest.raises(TooManyAttempts):
        await linking.link(CHAT, made.code)
    assert await linking.link(CHAT + 1, made.code) == USER  # another chat is counted apart


async def test_a_chat_moves_to_the_user_of_its_latest_code() -> None:
    links, clock = MemoryTelegramLinks(), FixedClock(NOW)
    linking = _linking(links, clock)
    assert await linking.link(CHAT, (await linking.new_code(USER)).code) == USER
    assert await linking.link(CHAT, (await linking.new_code(USER + 1)).code) == USER + 1
    assert [li.user_id for li in links.links()] == [USER + 1]
    assert await linking.unlink_chat(CHAT) == USER + 1
    assert not await linking.unlink_user(USER + 1)


# -- notifications -------------------------------------------------------------------------------------


class Messenger:
    """Records what was sent; raises the scripted errors first."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, float]] = []
        self.buttons: dict[int, tuple[Button, ...]] = {}  # by message id
        self.edits: list[tuple[int, int, str]] = []
        self.script: list[Exception] = []

    async def send(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> int:
        if self.script:
            raise self.script.pop(0)
        self.sent.append((chat_id, text, time.monotonic()))
        self.buttons[len(self.sent)] = tuple(buttons)
        return len(self.sent)

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        if self.script:
            raise self.script.pop(0)
        self.edits.append((chat_id, message_id, text))

    def texts(self) -> list[str]:
        return [t for _, t, _ in self.sent]


def _fill(links: MemoryTelegramLinks, user_id: int, n: int) -> None:
    for i in range(n):
        links.outbox.add(
            user_id, "signals", "received", {"signal_id": i + 1, "action": "buy", "symbol": "BTC/USDT"}
        )


def _notifications(
    links: MemoryTelegramLinks, messenger: Messenger, chat: str = "1000/second", overall: str = "1000/second"
) -> Notifications:
    pace = RateLimits({CHAT_TIER: chat, ALL_TIER: overall}, exact=True)
    return Notifications(links, links.outbox, messenger, pace, poll_s=0.01, page=7)


def _linked(links: MemoryTelegramLinks, user_id: int = USER, chat_id: int = CHAT) -> None:
    links.add_link_code(user_id, f"d{user_id}", NOW, NOW + timedelta(days=1))
    assert links.use_link_code(f"d{user_id}", chat_id, NOW) == user_id


_T = TypeVar("_T")


class _VirtualTime:
    """time.time and time.monotonic (so asyncio's clock too) that jump to the next timer when the event
    loop has nothing to do but wait for it, and otherwise move a microsecond per reading (as time
    passes while code runs: no two readings are equal, as with a real clock). The code under test, the
    limits library among it, reads the same clocks and waits the same waits as in production, without
    the waiting. While a call handed to a thread (run_in_executor) is out, the loop waits for it in
    real time."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.elapsed = 0.0
        self.calls_out = 0
        wall, mono = time.time(), time.monotonic()
        monkeypatch.setattr(time, "time", lambda: wall + self._read())
        monkeypatch.setattr(time, "monotonic", lambda: mono + self._read())

    def _read(self) -> float:
        self.elapsed += 1e-6
        return self.elapsed

    def run(self, main: Coroutine[Any, Any, _T]) -> _T:
        clock = self

        class Selector(selectors.DefaultSelector):
            def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
                if timeout is None or clock.calls_out:
                    return super().select(timeout)
                ready = super().select(0)
                if not ready:
                    clock.elapsed += timeout
                return ready

        class Loop(asyncio.SelectorEventLoop):
            def run_in_executor(self, executor: Any, func: Any, *args: Any) -> Any:  # type: ignore[override]
                clock.calls_out += 1
                future = super().run_in_executor(executor, func, *args)
                future.add_done_callback(clock.call_back)
                return future

        with asyncio.Runner(loop_factory=lambda: Loop(Selector())) as runner:
            return runner.run(main)

    def call_back(self, _: object) -> None:
        self.calls_out -= 1


async def _drain(notifications: Notifications, rounds: int = 3) -> None:
    for _ in range(rounds):
        await notifications.round()
        while notifications.busy:
            await asyncio.sleep(0.005)


async def test_notifications_go_out_in_order_and_the_cursor_follows() -> None:
    links, messenger = MemoryTelegramLinks(), Messenger()
    links.outbox.add(USER, "signals", "received", {"signal_id": 0})  # before the link: never sent
    _linked(links)
    _fill(links, USER, 10)
    links.outbox.add(USER, "orders", "new", {})  # not a notification
    links.outbox.add(USER, "backtests", "done", {})
    notifications = _notifications(links, messenger)
    await _drain(notifications)
    assert [t.split(":")[0] for t in messenger.texts()] == [f"📡 Signal #{i}" for i in range(1, 11)]
    assert links.by_user[USER].last_event_id == 13
    await _drain(notifications)  # nothing new: nothing again
    assert len(messenger.sent) == 10


async def test_notices_switched_off_are_skipped_and_passed() -> None:
    links, messenger = MemoryTelegramLinks(), Messenger()
    _linked(links)
    links.set_notices(USER, {"signal_received": False})
    _fill(links, USER, 3)
    links.outbox.add(USER, "bots", "changed", {"bot_id": 1, "status": "ACTIVE", "enabled": True})
    await _drain(_notifications(links, messenger))
    assert messenger.texts() == ["🤖 Bot #1 running (subscription ACTIVE)"]
    assert links.by_user[USER].last_event_id == 4


def test_a_429_waits_its_retry_after_and_sends_the_same_message_once(monkeypatch: pytest.MonkeyPatch) -> None:
    links, messenger = MemoryTelegramLinks(), Messenger()
    _linked(links)
    _fill(links, USER, 2)
    messenger.script = [RetryLater(0.15)]
    virtual = _VirtualTime(monkeypatch)
    started = time.monotonic()
    virtual.run(_drain(_notifications(links, messenger)))
    assert [t.split(":")[0] for t in messenger.texts()] == ["📡 Signal #1", "📡 Signal #2"]
    assert messenger.sent[0][2] - started >= 0.15


async def test_a_blocked_bot_unlinks_the_chat() -> None:
    links, messenger = MemoryTelegramLinks(), Messenger()
    _linked(links)
    _fill(links, USER, 2)
    messenger.script = [ChatGone("Forbidden: bot was blocked by the user")]
    await _drain(_notifications(links, messenger))
    assert links.links() == [] and messenger.sent == []


async def test_a_refused_message_is_skipped_and_the_rest_go_out() -> None:
    links, messenger = MemoryTelegramLinks(), Messenger()
    _linked(links)
    _fill(links, USER, 3)
    messenger.script = [MessageRefused("Bad Request: message is too long")]
    await _drain(_notifications(links, messenger))
    assert [t.split(":")[0] for t in messenger.texts()] == ["📡 Signal #2", "📡 Signal #3"]


async def test_an_outage_resumes_where_it_stopped_without_duplicates() -> None:
    links, messenger = MemoryTelegramLinks(), Messenger()
    _linked(links)
    _fill(links, USER, 2)
    notifications = _notifications(links, messenger)
    await _drain(notifications, rounds=1)
    messenger.script = [MessengerUnavailable("connection refused")]
    _fill(links, USER, 2)
    await _drain(notifications, rounds=1)
    assert links.by_user[USER].last_event_id == 2
    # A new process (a restart) reads the stored cursor.
    await _drain(_notifications(links, messenger))
    assert [t.split(":")[0] for t in messenger.texts()] == [f"📡 Signal #{i}" for i in (1, 2, 1, 2)]
    assert links.by_user[USER].last_event_id == 4


def test_sending_keeps_to_the_per_chat_and_overall_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    links, messenger = MemoryTelegramLinks(), Messenger()
    for n in range(3):
        _linked(links, USER + n, CHAT + n)
        _fill(links, USER + n, 14)
    virtual = _VirtualTime(monkeypatch)  # two 1-second windows pass without being waited for
    notifications = _notifications(links, messenger, chat="10/second", overall="20/second")
    started = time.monotonic()
    virtual.run(_drain(notifications))
    elapsed = time.monotonic() - started
    assert len(messenger.sent) == 42
    assert elapsed >= 2.0  # 42 messages at 20/s overall: the 41st no earlier than 2 s after the 1st
    times = sorted(t for _, _, t in messenger.sent)
    assert all(times[i + 20] - times[i] >= 0.99 for i in range(len(times) - 20))
    for n in range(3):
        mine = sorted(t for c, _, t in messenger.sent if c == CHAT + n)
        assert all(mine[i + 10] - mine[i] >= 0.99 for i in range(len(mine) - 10))


# -- the daily summary ---------------------------------------------------------------------------------


def test_a_summary_is_due_once_a_day_from_its_hour_in_local_time() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    utc_evening = datetime(2026, 1, 5, 17, 30, tzinfo=UTC)  # 18:30 in Berlin
    assert summary_day(utc_evening.astimezone(berlin), 18, None) == "2026-01-05"
    assert summary_day(utc_evening.astimezone(berlin), 19, None) is None
    assert summary_day(utc_evening.astimezone(berlin), 18, "2026-01-05") is None
    assert summary_day(utc_evening.astimezone(berlin), 18, "2026-01-04") == "2026-01-05"
    late = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)  # already the 6th in Berlin
    assert summary_day(late.astimezone(berlin), 0, "2026-01-05") == "2026-01-06"


def test_a_summary_text_has_exact_numbers_per_quote() -> None:
    results = DayResults(
        {
            "USDT": (2, Decimal("12.500000000000000001"), Decimal("0.2")),
            "BTC": (1, Decimal("-0.001"), Decimal(0)),
        },
        3,
        {"USDT": Decimal("-4.25")},
        1,
    )
    assert summary_text("2026-01-05", "Europe/Berlin", results) == (
        "📊 Daily summary 2026-01-05 (Europe/Berlin)\n"
        "Closed 1 (BTC): realised -0.001, fees 0, net -0.001\n"
        "Closed 2 (USDT): realised 12.500000000000000001, fees 0.2, net 12.300000000000000001\n"
        "Open positions: 3, unrealised -4.25 USDT (1 without a price now)"
    )
    assert "No positions closed" in summary_text("2026-01-05", "UTC", DayResults({}, 0, {}, 0))


class Positions:
    """Closed and open positions as Records hands them out."""

    def __init__(self, closed: list[dict[str, Any]]) -> None:
        self.closed = closed

    async def positions(self, user_id: int, status: str | None, page: Page) -> list[MarkedPosition]:
        if status == "closed":
            rows = [r for r in self.closed if page.before_id is None or r["id"] < page.before_id]
            return [MarkedPosition(r, None) for r in rows[: page.limit]]
        return []


async def test_summaries_go_out_once_per_local_day() -> None:
    links, messenger = MemoryTelegramLinks(), Messenger()
    _linked(links)
    links.set_summary(USER, 18, "Europe/Berlin")
    clock = FixedClock(datetime(2026, 1, 5, 16, 59, tzinfo=UTC))  # 17:59 in Berlin
    closed = [
        {
            "id": 2,
            "symbol": "BTC/USDT",
            "realized_pnl": Decimal("5"),
            "fees": Decimal("0.1"),
            "closed_at": datetime(2026, 1, 5, 9, tzinfo=UTC),
        },
        {
            "id": 1,
            "symbol": "BTC/USDT",
            "realized_pnl": Decimal("7"),
            "fees": Decimal("0.1"),
            "closed_at": datetime(2026, 1, 3, 9, tzinfo=UTC),
        },  # older than 24 h
    ]
    summaries = Summaries(links, Positions(closed), _notifications(links, messenger), clock)
    assert await summaries.round() == 0
    clock.now_ = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
    assert await summaries.round() == 1
    assert await summaries.round() == 0
    assert messenger.texts() == [
        "📊 Daily summary 2026-01-05 (Europe/Berlin)\n"
        "Closed 1 (USDT): realised 5, fees 0.1, net 4.9\n"
        "Open positions: 0"
    ]
    assert links.summary[USER].last_sent_on == "2026-01-05"
    messenger.script = [MessengerUnavailable("down")]
    clock.now_ = datetime(2026, 1, 6, 17, 0, tzinfo=UTC)
    assert await summaries.round() == 0  # not sent: tried again at the next round
    assert await summaries.round() == 1


# -- confirm before trade ------------------------------------------------------------------------------

PROPOSED = {
    "intent_id": 41,
    "signal_id": 7,
    "subscription_id": 3,
    "status": "awaiting_confirmation",
    "via": "telegram",
    "confirm_by": "2026-12-06T14:05:09.5+00:00",
    "proposal": {
        "symbol": "ETH/USDC",
        "side": "buy",
        "amount": "0.0289",
        "order_type": "limit",
        "price": "3456.78",
        "limit_price": "3450",
        "notional": "99.705",
        "stop_loss": "3284",
        "take_profit": None,
        "risk": [
            {"rule": "daily_loss", "passed": True, "detail": "lost 0 today, limit 500"},
            {"rule": "risk_reward", "passed": True, "detail": "no target"},
        ],
        "confidence": 0.795,
        "sizing_note": "fixed 100 USDC",
    },
}


def test_a_proposal_to_a_telegram_subscription_is_a_question_with_its_numbers() -> None:
    asked = prompt_of("intents", "proposed", PROPOSED)

    assert asked is not None and asked[0] == 41
    assert asked[1].splitlines() == [
        "❓ Confirm entry: buy 0.0289 ETH/USDC (limit, limit 3450) at 3456.78 USDC, about 99.705 USDC?",
        "Stop loss 3284, take profit -",
        "Risk: 2 of 2 rules passed",
        "  ✓ daily_loss: lost 0 today, limit 500",
        "  ✓ risk_reward: no target",
        "Signal confidence: 0.795",
        "Sizing: fixed 100 USDC",
        "Answer by 2026-12-06 14:05:09 UTC (intent #41, subscription #3); unanswered, nothing trades.",
    ]
    assert prompt_of("intents", "proposed", {**PROPOSED, "via": "api"}) is None  # asked elsewhere
    assert prompt_of("intents", "proposed", {**PROPOSED, "intent_id": "41"}) is None
    assert prompt_of("intents", "proposed", {**PROPOSED, "proposal": "junk"}) is not None  # still asked
    assert parse_button(confirm_data(41)) == ("ok", 41) and parse_button(decline_data(41)) == ("no", 41)
    assert outcome_of("intents", "ordered", {"intent_id": 41, "order_id": 9}) == (
        41,
        "📤 Ordered: order #9.",
    )
    assert outcome_of("intents", "created", {"intent_id": 41}) is None
    assert outcome_of("orders", "ordered", {"intent_id": 41}) is None


async def test_a_question_is_asked_with_buttons_whatever_the_settings_and_edited_with_each_outcome() -> None:
    links, messenger = MemoryTelegramLinks(), Messenger()
    _linked(links)
    links.set_notices(USER, {n.value: False for n in Notice})  # every notification off
    links.outbox.add(USER, "intents", "proposed", PROPOSED)
    links.outbox.add(USER, "intents", "confirmed", {"intent_id": 41, "status": "created"})
    links.outbox.add(USER, "intents", "rejected", {"intent_id": 99, "reason": "other", "details": None})
    notifications = _notifications(links, messenger)
    await _drain(notifications)

    [(chat_id, question, _)] = messenger.sent
    assert chat_id == CHAT and question.startswith("❓ Confirm entry: buy 0.0289 ETH/USDC")
    assert [(b.text, b.data) for b in messenger.buttons[1]] == [("Confirm", "ok:41"), ("Decline", "no:41")]
    assert links.prompts([41, 99]) == {41: Prompt(41, CHAT, 1, question)}
    assert messenger.edits == [
        (CHAT, 1, f"{question}\n\n✅ Confirmed: risk and price are checked again now, then it is ordered.")
    ]
    assert links.by_user[USER].last_event_id == 3

    links.outbox.add(USER, "intents", "ordered", {"intent_id": 41, "order_id": 12})
    await _drain(notifications)  # a later page, a later round: the stored question is edited
    assert messenger.edits[-1] == (CHAT, 1, f"{question}\n\n📤 Ordered: order #12.")
    assert len(messenger.sent) == 1


async def test_a_question_telegram_refuses_is_skipped_and_the_next_events_go_on() -> None:
    links, messenger = MemoryTelegramLinks(), Messenger()
    _linked(links)
    links.outbox.add(USER, "intents", "proposed", PROPOSED)
    links.outbox.add(USER, "intents", "expired", {"intent_id": 41, "reason": "not confirmed within 120 s"})
    _fill(links, USER, 1)
    messenger.script = [MessageRefused("Bad Request: message is too long")]
    await _drain(_notifications(links, messenger))

    assert [t.split(":")[0] for t in messenger.texts()] == ["📡 Signal #1"]
    assert messenger.edits == [] and links.prompts([41]) == {}
    assert links.by_user[USER].last_event_id == 3
