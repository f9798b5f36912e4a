"""The Telegram store on SQLite and PostgreSQL, against the same contract as its in-memory twin: a code
links once (also when two chats race for it), expires, is replaced by the next one; a link starts after
the user's last event; cursors only move forward; settings are per user and notice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from tests.fakes.memory_telegram import MemoryTelegramLinks
from tests.integration.test_store_contract import _signal
from tests.seeding import UNUSABLE_HASH
from tests.support import seed_marketplace
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.events import save_events
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.telegram import SqlTelegramLinks
from tradewire.domain.events import Event, Topic
from tradewire.domain.records import Routing
from tradewire.ports.telegram import Prompt, TelegramLinks

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)


def _users(engine: Engine, n: int) -> list[int]:
    members = SqlMembers(engine)
    return [members.create_user(f"user{i}", UNUSABLE_HASH, NOW) for i in range(n)]


def _events(engine: Engine, user_id: int, n: int) -> None:
    with write_transaction(engine) as conn:
        save_events(conn, [Event(user_id, Topic.SIGNALS, "received", {"i": i}) for i in range(n)], NOW)


@pytest.fixture(params=["sql", "memory"])
def store(request: pytest.FixtureRequest, engine: Engine) -> tuple[TelegramLinks, list[int]]:
    users = _users(engine, 2)
    if request.param == "sql":
        _events(engine, users[0], 3)
        return SqlTelegramLinks(engine), users
    twin = MemoryTelegramLinks()
    for i in range(3):
        twin.outbox.add(users[0], "signals", "received", {"i": i})
    return twin, users


def test_a_code_links_once_after_the_users_last_event(store: tuple[TelegramLinks, list[int]]) -> None:
    links, (alice, _) = store
    links.add_link_code(alice, "a" * 64, NOW, LATER)
    assert links.use_link_code("a" * 64, 11, NOW) == alice
    assert links.use_link_code("a" * 64, 12, NOW) is None
    link = links.link_of_chat(11)
    assert link is not None and link.user_id == alice and link.last_event_id == 3
    assert links.link_of_user(alice) == link


def test_expired_and_replaced_codes_link_nothing(store: tuple[TelegramLinks, list[int]]) -> None:
    links, (alice, bob) = store
    links.add_link_code(alice, "a" * 64, NOW, LATER)
    links.add_link_code(alice, "b" * 64, NOW, LATER)  # replaces the first
    links.add_link_code(bob, "c" * 64, NOW, LATER)
    assert links.use_link_code("a" * 64, 11, NOW) is None
    assert links.use_link_code("b" * 64, 11, LATER) is None  # expired at LATER
    assert links.use_link_code("c" * 64, 11, NOW) == bob
    assert [li.user_id for li in links.links()] == [bob]


def test_a_chat_and_a_user_have_one_link_each(store: tuple[TelegramLinks, list[int]]) -> None:
    links, (alice, bob) = store
    for digest, user, chat in (("1" * 64, alice, 11), ("2" * 64, alice, 12), ("3" * 64, bob, 12)):
        links.add_link_code(user, digest, NOW, LATER)
        assert links.use_link_code(digest, chat, NOW) == user
    assert [(li.user_id, li.chat_id) for li in links.links()] == [(bob, 12)]
    assert links.unlink_chat(12) == bob and links.unlink_chat(12) is None
    assert not links.unlink_user(bob)


def test_cursors_only_move_forward_and_only_for_the_linked_chat(
    store: tuple[TelegramLinks, list[int]],
) -> None:
    links, (alice, _) = store
    links.add_link_code(alice, "a" * 64, NOW, LATER)
    links.use_link_code("a" * 64, 11, NOW)
    assert links.advance(alice, 11, 9)
    assert links.advance(alice, 11, 5)
    assert links.link_of_user(alice).last_event_id == 9  # type: ignore[union-attr]
    assert not links.advance(alice, 99, 20)
    links.unlink_user(alice)
    assert not links.advance(alice, 11, 20)


def test_notice_settings_per_user(store: tuple[TelegramLinks, list[int]]) -> None:
    links, (alice, bob) = store
    links.set_notices(alice, {"signal_received": False, "exit_filled": True})
    links.set_notices(alice, {"signal_received": True, "entry_filled": False})
    assert links.notice_settings([alice, bob]) == {
        alice: {"signal_received": True, "exit_filled": True, "entry_filled": False}
    }


def _race(links: SqlTelegramLinks, digest: str, chats: int) -> list[int | None]:
    """`chats` chats send the same code at once; what each got."""
    results: list[int | None] = []
    barrier = threading.Barrier(chats)

    def use(chat: int) -> None:
        barrier.wait()
        results.append(links.use_link_code(digest, chat, NOW))

    threads = [threading.Thread(target=use, args=(100 + c,)) for c in range(chats)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_chats_racing_for_one_code_link_one(engine: Engine) -> None:
    [alice] = _users(engine, 1)
    links = SqlTelegramLinks(engine)
    for round_ in range(5):
        digest = f"{round_}" * 64
        links.add_link_code(alice, digest, NOW, LATER)
        assert sorted(_race(links, digest, 4), key=str) == [alice, None, None, None]
        assert len(links.links()) == 1


def test_a_daily_summary_is_recorded_once_per_day(store: tuple[TelegramLinks, list[int]]) -> None:
    links, (alice, bob) = store
    links.set_summary(alice, 18, "Europe/Berlin")
    links.set_summary(bob, 7, "UTC")
    links.set_summary(bob, None, "UTC")
    [setting] = links.summaries([alice, bob]).values()
    assert (setting.user_id, setting.hour, setting.time_zone, setting.last_sent_on) == (
        alice,
        18,
        "Europe/Berlin",
        None,
    )
    assert links.summary_sent(alice, "2026-01-05")
    assert not links.summary_sent(alice, "2026-01-05")
    assert not links.summary_sent(alice, "2026-01-04")
    links.set_summary(alice, 9, "Asia/Tokyo")  # the day sent stays
    assert links.summaries([alice])[alice].last_sent_on == "2026-01-05"
    assert links.summary_sent(alice, "2026-01-06")
    assert not links.summary_sent(bob, "2026-01-06")


def test_a_question_is_kept_with_the_cursors_move_and_dropped_when_old(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}, {}])
    store = SqlStore(engine)
    signal_id, _ = store.insert_signal(_signal(seeded.strategy_id))
    store.create_intents(Routing(signal_id, store.active_targets(seeded.strategy_id)), NOW)
    first, second = sorted(w.intent_id for w in store.pending_work(signal_id))
    user = seeded.subscriber_ids[0]
    twin = MemoryTelegramLinks()
    for links in (SqlTelegramLinks(engine), twin):
        links.add_link_code(user, "a" * 64, NOW, LATER)
        assert links.use_link_code("a" * 64, 11, NOW) == user
        cursor = links.link_of_user(user).last_event_id  # type: ignore[union-attr]
        asked = Prompt(first, 11, 501, "❓ Confirm entry …")
        assert links.prompt_sent(user, asked, cursor + 1, NOW)
        assert links.prompt_sent(user, Prompt(first, 11, 502, "again"), cursor, NOW)  # never back
        assert links.link_of_user(user).last_event_id == cursor + 1  # type: ignore[union-attr]
        assert not links.prompt_sent(user, Prompt(second, 12, 503, "other chat"), cursor + 2, NOW)
        assert links.prompts([first, second, 10**12]) == {first: Prompt(first, 11, 502, "again")}
        assert links.forget_prompts(NOW) == 0 and links.forget_prompts(LATER) == 1
        assert links.prompts([first]) == {}
