"""Sign-up and password checks without a database."""

from __future__ import annotations

import pytest

from tests.fakes.memory_members import desk
from tradewire.domain.members import Conflict, Forbidden, Invalid


async def test_sign_up_keeps_a_hash_and_refuses_a_taken_name() -> None:
    d = desk()

    user = await d.market.logins.sign_up("alice", "quiet-harbor-71")
    with pytest.raises(Conflict, match="username 'alice' is taken"):
        await d.market.logins.sign_up("alice", "quiet-harbor-72")

    assert d.members.users[user.id].password_hash == "hashed:quiet-harbor-71"


async def test_sign_up_can_be_turned_off() -> None:
    d = desk(signup_enabled=False)

    with pytest.raises(Forbidden, match="sign-up is disabled on this server"):
        await d.market.logins.sign_up("alice", "quiet-harbor-71")

    assert d.members.users == {}


async def test_only_the_right_password_authenticates_and_an_unknown_name_costs_a_check_too() -> None:
    d = desk()
    alice = d.user("alice")

    right = await d.market.logins.authenticate("alice", "password-1")
    wrong = await d.market.logins.authenticate("alice", "password-2")
    checks_before = d.passwords.verified
    nobody = await d.market.logins.authenticate("nobody", "password-1")

    assert (right, wrong, nobody) == (alice, None, None)
    assert d.passwords.verified == checks_before + 1  # the same work as for a real user
    assert await d.market.logins.user(alice.id) == alice


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-1", "the password needs at least 10 characters"),
        ("x" * 257, "the password may have at most 256 characters"),
        ("password123456", "the password is too common or too easy to guess"),
        ("alicealice2024", "the password is too common or too easy to guess"),  # from the username
    ],
)
async def test_a_password_the_policy_refuses_is_never_hashed_or_kept(password: str, problem: str) -> None:
    d = desk()

    with pytest.raises(Invalid, match=problem):
        await d.market.logins.sign_up("alice", password)
    with pytest.raises(Invalid, match=problem):
        await d.market.logins.check_password(password, "alice")

    assert d.members.users == {} and d.passwords.hashed == 0


async def test_a_password_built_from_another_username_is_fine() -> None:
    await desk().market.logins.check_password("alicealice2024", "bob")


async def test_an_unknown_user_id_is_nobody() -> None:
    d = desk()
    alice = d.user("alice")

    assert await d.market.logins.user(alice.id + 1) is None
