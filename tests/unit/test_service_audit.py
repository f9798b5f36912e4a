"""The audit trail's use cases on the in-memory store: what is recorded for a user and for a sign-in
attempt (known and unknown names), each user's own trail with its filters and pages, every user's for
administrators, a failed write that does not fail the change, and the check of the whole chain."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes.memory_audit import MemoryAudit
from tradewire.domain.audit import Action, Actor, Origin, Problem
from tradewire.domain.members import User
from tradewire.services.audit import AttemptBudget, AuditFilter, AuditTrail

ORIGIN = Origin.of("198.51.100.7", "tradewire-test")
ALICE = User(1, "alice", "-")
BOB = User(2, "bob", "-")


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 6, 11, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at


def _trail() -> tuple[AuditTrail, MemoryAudit]:
    store = MemoryAudit({"alice": 1, "bob": 2}.get)
    return AuditTrail(store, Clock()), store


def test_a_user_action_is_recorded_with_its_origin_and_target() -> None:
    trail, store = _trail()

    entry = asyncio.run(
        trail.record(ALICE, Action.ACCOUNT_CREATED, ORIGIN, ("account", 5), {"exchange": "binance"})
    )

    assert entry is not None and store.log == [entry]
    assert (entry.user_id, entry.username, entry.action) == (1, "alice", "account.created")
    assert (entry.target_type, entry.target_id, entry.detail) == ("account", 5, '{"exchange":"binance"}')
    assert (entry.address, entry.client) == ("198.51.100.7", "tradewire-test")


def test_a_sign_in_attempt_goes_to_the_named_user_or_to_nobody() -> None:
    trail, _store = _trail()

    known = asyncio.run(trail.record_attempt("bob", Action.SIGNIN_FAILED, ORIGIN, {"reason": "wrong"}))
    unknown = asyncio.run(trail.record_attempt("x" * 100, Action.SIGNIN_FAILED, ORIGIN))

    assert known is not None and known.user_id == 2
    assert unknown is not None and unknown.user_id is None and unknown.username == "x" * 64


def test_each_user_reads_only_their_own_trail_filtered_and_paged() -> None:
    trail, _store = _trail()
    for action in (Action.SIGNIN, Action.PASSWORD_CHANGED, Action.SIGNOUT):
        asyncio.run(trail.record(ALICE, action, ORIGIN))
        asyncio.run(trail.record(BOB, action, ORIGIN))
    asyncio.run(trail.record_attempt("nobody", Action.SIGNIN_FAILED, ORIGIN))

    mine = asyncio.run(trail.trail(1, AuditFilter()))
    first_page = asyncio.run(trail.trail(1, AuditFilter(limit=2)))
    next_page = asyncio.run(trail.trail(1, AuditFilter(limit=2, before_seq=first_page[-1].seq)))
    signins = asyncio.run(trail.trail(1, AuditFilter(actions=(Action.SIGNIN, Action.SIGNOUT))))
    since = asyncio.run(trail.trail(1, AuditFilter(since=mine[1].at, until=mine[0].at)))
    everyone = asyncio.run(trail.everyone(AuditFilter()))

    assert [e.action for e in mine] == ["signout", "password.changed", "signin"]
    assert {e.user_id for e in mine} == {1}
    assert [e.seq for e in first_page + next_page] == [e.seq for e in mine]
    assert [e.action for e in signins] == ["signout", "signin"]
    assert [e.action for e in since] == ["password.changed"]
    assert len(everyone) == 7 and {e.user_id for e in everyone} == {1, 2, None}


def test_a_failed_write_is_logged_and_does_not_fail_the_change(caplog: pytest.LogCaptureFixture) -> None:
    trail, store = _trail()
    asyncio.run(trail.record(ALICE, Action.SIGNIN, ORIGIN))
    store.kept_head = None  # removed: appending after nothing would hide that, and fails

    with caplog.at_level(logging.ERROR, "tradewire.audit"):
        entry = asyncio.run(trail.record(ALICE, Action.SIGNOUT, ORIGIN))

    assert entry is None
    assert "signout of user 1 could not be written" in caplog.text


def test_an_actor_without_a_user_is_recorded_as_given() -> None:
    trail, _store = _trail()

    entry = asyncio.run(trail.record(Actor(None, "cli:root"), Action.USER_CREATED, ORIGIN, ("user", 3)))

    assert entry is not None and (entry.user_id, entry.username) == (None, "cli:root")


def test_verify_checks_the_whole_chain_up_to_the_head() -> None:
    trail, store = _trail()
    for _ in range(5):
        asyncio.run(trail.record(ALICE, Action.SIGNIN, ORIGIN))

    assert trail.verify().finding is None and trail.verify().checked == 5

    store.log[3] = replace(store.log[3], address="203.0.113.9")
    finding = trail.verify().finding

    assert finding is not None and (finding.seq, finding.problem) == (4, Problem.CHANGED)


def test_attempts_nobody_owns_are_recorded_within_an_hourly_budget_then_summed_up() -> None:
    clock = Clock()
    store = MemoryAudit({"alice": 1}.get)
    trail = AuditTrail(store, clock, AttemptBudget(per_hour=3))

    for n in range(5):
        asyncio.run(trail.record_attempt(f"ghost{n}", Action.SIGNIN_FAILED, ORIGIN))
    for _ in range(2):
        asyncio.run(trail.record_attempt("alice", Action.SIGNIN_LOCKED, ORIGIN))
    for _ in range(4):  # checked failures under a real name: bounded by the account's lock, always kept
        asyncio.run(trail.record_attempt("alice", Action.SIGNIN_FAILED, ORIGIN))
    clock.at += timedelta(hours=1)
    asyncio.run(trail.record_attempt("ghost9", Action.SIGNIN_FAILED, ORIGIN))

    actions = [(e.action, e.username) for e in store.log]
    assert actions == [
        ("signin.failed", "ghost0"),
        ("signin.failed", "ghost1"),
        ("signin.failed", "ghost2"),
        *[("signin.failed", "alice")] * 4,
        ("signin.unrecorded", "-"),
        ("signin.failed", "ghost9"),
    ]
    summary = store.log[-2]
    assert json.loads(summary.detail)["count"] == 4  # two unknown names, two locked attempts
    assert (summary.user_id, summary.address) == (None, "server")
    assert trail.verify().finding is None
