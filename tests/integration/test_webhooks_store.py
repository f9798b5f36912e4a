"""The outgoing webhooks' store on SQLite and PostgreSQL, against the same contract as its in-memory
twin: a hook starts after its user's last event, its secret is sealed in the same transaction as the row
(with the row's id), a user has at most `most`, every read and change is its owner's, cursors only move
forward and stop for a hook deleted, turned off or pointed elsewhere, and one turned back on skips what
happened while it was off."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from tests.fakes.memory_webhooks import MemoryHooks
from tests.seeding import UNUSABLE_HASH
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.events import save_events
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.webhooks import SqlHooks
from tradewire.domain.events import Event, Topic
from tradewire.domain.members import Conflict, NotFound
from tradewire.domain.webhooks import HookKind
from tradewire.ports.webhooks import HookChanges, HookStore, NewHook

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _seal(hook_id: int) -> str:
    return f"sealed-for-{hook_id}"


class Store:
    def __init__(self, hooks: HookStore, engine: Engine | None, twin: MemoryHooks | None) -> None:
        self.hooks, self.engine, self.twin = hooks, engine, twin

    def events(self, user_id: int, n: int) -> None:
        if self.twin is not None:
            for i in range(n):
                self.twin.outbox.add(user_id, "signals", "received", {"i": i})
            return
        assert self.engine is not None
        with write_transaction(self.engine) as conn:
            save_events(conn, [Event(user_id, Topic.SIGNALS, "received", {"i": i}) for i in range(n)], NOW)


@pytest.fixture(params=["sql", "memory"])
def store(request: pytest.FixtureRequest, engine: Engine) -> tuple[Store, list[int]]:
    members = SqlMembers(engine)
    users = [members.create_user(f"user{i}", UNUSABLE_HASH, NOW) for i in range(2)]
    if request.param == "sql":
        return Store(SqlHooks(engine), engine, None), users
    twin = MemoryHooks()
    return Store(twin, None, twin), users


def test_a_hook_starts_after_the_users_last_event_with_its_secret_sealed(
    store: tuple[Store, list[int]],
) -> None:
    s, (alice, bob) = store
    s.events(alice, 3)
    hook = s.hooks.add_hook(
        alice, NewHook("https://a.example/x", HookKind.SLACK, {"entry_filled": False}), NOW, _seal, 5
    )

    assert hook.last_event_id == 3 and hook.user_id == alice and hook.kind is HookKind.SLACK
    assert hook.notices == {"entry_filled": False} and hook.enabled and hook.created_at == NOW
    target = s.hooks.hook(alice, hook.id)
    assert target.hook == hook and target.secret_enc == f"sealed-for-{hook.id}"
    assert s.hooks.hooks(alice) == [hook] and s.hooks.hooks(bob) == []
    assert s.hooks.sealed_secrets() == [(hook.id, f"sealed-for-{hook.id}")]
    s.hooks.reseal_secret(hook.id, "resealed")
    assert s.hooks.hook(alice, hook.id).secret_enc == "resealed"


def test_a_user_has_at_most_the_limit_and_a_failed_seal_keeps_nothing(store: tuple[Store, list[int]]) -> None:
    s, (alice, bob) = store
    for i in range(2):
        s.hooks.add_hook(alice, NewHook(f"https://a.example/{i}", HookKind.JSON), NOW, _seal, 2)
    with pytest.raises(Conflict, match="most allowed"):
        s.hooks.add_hook(alice, NewHook("https://a.example/3", HookKind.JSON), NOW, _seal, 2)
    s.hooks.add_hook(bob, NewHook("https://b.example/", HookKind.JSON), NOW, _seal, 2)  # per user

    def broken(hook_id: int) -> str:
        raise ValueError("no key")

    if s.engine is not None:  # the SQL store: the row and its secret in one transaction
        with pytest.raises(ValueError, match="no key"):
            s.hooks.add_hook(bob, NewHook("https://b.example/2", HookKind.JSON), NOW, broken, 2)
    assert len(s.hooks.hooks(bob)) == 1


def test_only_the_owner_reads_changes_and_deletes(store: tuple[Store, list[int]]) -> None:
    s, (alice, bob) = store
    hook = s.hooks.add_hook(alice, NewHook("https://a.example/x", HookKind.JSON), NOW, _seal, 5)
    with pytest.raises(NotFound):
        s.hooks.hook(bob, hook.id)
    with pytest.raises(NotFound):
        s.hooks.update_hook(bob, hook.id, HookChanges(url="https://evil.example/"))
    with pytest.raises(NotFound):
        s.hooks.delete_hook(bob, hook.id)
    with pytest.raises(NotFound):
        s.hooks.hook(alice, hook.id + 1000)

    changed = s.hooks.update_hook(
        alice,
        hook.id,
        HookChanges(url="https://a.example/y", kind=HookKind.DISCORD, notices={"exit_filled": False}),
    )
    assert (changed.url, changed.kind, changed.notices) == (
        "https://a.example/y",
        HookKind.DISCORD,
        {"exit_filled": False},
    )
    changed = s.hooks.update_hook(
        alice, hook.id, HookChanges(notices={"bot_changed": False, "exit_filled": True})
    )
    assert changed.notices == {"exit_filled": True, "bot_changed": False}
    s.hooks.delete_hook(alice, hook.id)
    assert s.hooks.hooks(alice) == []
    with pytest.raises(NotFound):
        s.hooks.delete_hook(alice, hook.id)


def test_cursors_move_forward_and_stop_for_a_hook_gone_off_or_elsewhere(
    store: tuple[Store, list[int]],
) -> None:
    s, (alice, _) = store
    url = "https://a.example/x"
    hook = s.hooks.add_hook(alice, NewHook(url, HookKind.JSON), NOW, _seal, 5)
    assert s.hooks.advance(hook.id, 5, url)
    assert s.hooks.advance(hook.id, 3, url)  # never back
    assert s.hooks.hook(alice, hook.id).hook.last_event_id == 5
    assert not s.hooks.advance(hook.id, 6, "https://a.example/old")  # pointed elsewhere since
    assert s.hooks.hook(alice, hook.id).hook.last_event_id == 5

    s.events(alice, 9)
    s.hooks.update_hook(alice, hook.id, HookChanges(enabled=False))
    assert s.hooks.deliverable() == []
    assert not s.hooks.advance(hook.id, 7, url)
    turned_on = s.hooks.update_hook(alice, hook.id, HookChanges(enabled=True))
    assert turned_on.last_event_id == 9  # what happened while it was off is not sent
    assert [t.hook.id for t in s.hooks.deliverable()] == [hook.id]
    s.hooks.delete_hook(alice, hook.id)
    assert not s.hooks.advance(hook.id, 10, url)


def test_creations_at_once_never_pass_the_limit(engine: Engine) -> None:
    members = SqlMembers(engine)
    alice = members.create_user("racer", UNUSABLE_HASH, NOW)
    hooks = SqlHooks(engine)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def create(i: int) -> None:
        barrier.wait()
        try:
            hooks.add_hook(alice, NewHook(f"https://a.example/{i}", HookKind.JSON), NOW, _seal, 3)
            outcomes.append("made")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["conflict"] * 3 + ["made"] * 3
    assert len(hooks.hooks(alice)) == 3
