"""The sign-in throttle's schedule and the password policy, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tradewire.domain.signin import Failures, PasswordPolicy, ThrottlePolicy

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_failures_are_free_then_double_the_wait_then_lock_and_are_forgotten_after_the_lock() -> None:
    policy = ThrottlePolicy(free_failures=3, first_delay_s=1, lock_after=10, lock_s=900)
    record: Failures | None = None
    waits = []
    now = T0
    for _ in range(10):
        record = Failures.after(record, now, policy)
        waits.append(record.wait_s(now))
        now = record.blocked_until  # the next attempt comes as soon as it may
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 900]
    assert record is not None and record.count == 10
    assert record.wait_s(record.last_at + timedelta(seconds=899.5)) == 1  # rounded up
    assert record.wait_s(record.last_at + timedelta(seconds=900)) == 0

    later = Failures.after(record, record.last_at + timedelta(seconds=900), policy)

    assert later.count == 1 and later.wait_s(later.last_at) == 0  # the lock ended; counting starts over


def test_a_policy_must_leave_room_before_its_lock() -> None:
    with pytest.raises(ValueError, match="free_failures"):
        ThrottlePolicy(free_failures=5, lock_after=5)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-1", "at least 10 characters"),
        ("x" * 257, "at most 256 characters"),
        ("password123456", "too common"),
        ("qwertyuiop123", "too common"),
        ("iloveyou2000", "too common"),
        ("zorblax12345", "too common"),  # the username with digits (without it: strong enough)
        ("password" * 10, "too common"),  # longer than zxcvbn reads: its start decides
        ("quiet-harbor-71", None),
        ("correct horse battery", None),
        ("Zq8#vT2!mL9$pW4&" * 16, None),  # 256 characters
    ],
)
def test_the_password_policy(password: str, problem: str | None) -> None:
    found = PasswordPolicy().problem(password, "zorblax")

    assert (found is None) if problem is None else (found is not None and problem in found), found
