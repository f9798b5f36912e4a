"""SignIn against the in-memory sign-in, TOTP and member stores, with a clock that only moves when told:
refresh tokens rotate and a reused one revokes its session, signing out and changing the password end
sessions, failures are throttled then locked per address and per account (unknown names alike), an
address the user signed in from in the last 30 days is not held by their account's lock, and with
two-factor sign-in on a right, unused code is needed besides the password."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pyotp
import pytest

from tests.fakes.memory_exchange import FixedClock
from tests.fakes.memory_members import MemoryMembers, PlainPasswords
from tests.fakes.memory_signin import MemorySignIn, MemoryTwoFactor, Sealer
from tradewire.domain.members import Invalid, User
from tradewire.domain.signin import SignInLocked, SignInRefused, ThrottlePolicy
from tradewire.services.members.logins import Logins
from tradewire.services.signin import (
    CODE_NEEDED,
    CODE_WRONG,
    DISABLED,
    REFRESH_REFUSED,
    WRONG_CREDENTIALS,
    SignIn,
)
from tradewire.services.two_factor import TwoFactor

PASSWORD = "quiet-harbor-71"
HOME, ATTACKER, ELSEWHERE, NEW = "203.0.113.7", "198.51.100.1", "198.51.100.2", "198.51.100.3"
TTL = timedelta(days=14)
POLICY = ThrottlePolicy(free_failures=3, first_delay_s=1, lock_after=10, lock_s=900)


@dataclass
class Desk:
    members: MemoryMembers
    store: MemorySignIn
    passwords: PlainPasswords
    clock: FixedClock
    two_factor: TwoFactor
    signin: SignIn

    def user(self, name: str = "alice") -> User:
        user_id = self.members.create_user(name, self.passwords.hash(PASSWORD), self.clock.now())
        return self.members.users[user_id]

    async def fail(self, times: int, username: str = "alice", address: str = ATTACKER) -> None:
        """Wrong passwords, each after every delay has passed and well within the lock's memory."""
        for _ in range(times):
            with pytest.raises(SignInRefused, match=WRONG_CREDENTIALS):
                await self.signin.sign_in(username, "guess-guess-guess", address)
            self.clock.advance(60)


def desk() -> Desk:
    members, passwords, clock = MemoryMembers(), PlainPasswords(), FixedClock()
    store = MemorySignIn(members)
    logins = Logins(members, passwords, clock, signup_enabled=True)
    two_factor = TwoFactor(MemoryTwoFactor(members), Sealer(), clock)
    signin = SignIn(store, logins, passwords, clock, refresh_ttl=TTL, throttle=POLICY, two_factor=two_factor)
    return Desk(members, store, passwords, clock, two_factor, signin)


async def test_a_refresh_token_gives_the_next_one_of_the_same_session_and_expires_unused() -> None:
    d = desk()
    alice = d.user()
    opened = await d.signin.sign_in("alice", PASSWORD, HOME)

    d.clock.advance(60)
    renewed = await d.signin.refresh(opened.refresh_token)
    again = await d.signin.refresh(renewed.refresh_token)

    assert (opened.user, renewed.user) == (alice, alice)
    assert opened.session_id == renewed.session_id == again.session_id
    assert len({opened.refresh_token, renewed.refresh_token, again.refresh_token}) == 3
    assert renewed.refresh_expires_at == d.clock.now() + TTL
    assert all(opened.refresh_token not in h for h in d.store.tokens)  # kept as digests only
    with pytest.raises(SignInRefused, match=REFRESH_REFUSED):
        await d.signin.refresh("not-a-token")
    d.clock.advance(TTL.total_seconds())
    with pytest.raises(SignInRefused, match=REFRESH_REFUSED):
        await d.signin.refresh(again.refresh_token)  # expired: sign in again
    assert await d.signin.session_user(alice.id, opened.session_id) == alice  # the session itself lives


async def test_a_refresh_token_used_twice_revokes_its_whole_session_and_no_other() -> None:
    d = desk()
    alice = d.user()
    stolen = await d.signin.sign_in("alice", PASSWORD, HOME)
    other = await d.signin.sign_in("alice", PASSWORD, HOME)
    renewed = await d.signin.refresh(stolen.refresh_token)

    with pytest.raises(SignInRefused, match=REFRESH_REFUSED):
        await d.signin.refresh(stolen.refresh_token)

    assert await d.signin.session_user(alice.id, stolen.session_id) is None
    with pytest.raises(SignInRefused):
        await d.signin.refresh(renewed.refresh_token)  # the holder of the copy is out too
    assert d.store.sessions[stolen.session_id].revoked_reason == "refresh token reused"
    assert await d.signin.session_user(alice.id, other.session_id) == alice
    assert (await d.signin.refresh(other.refresh_token)).session_id == other.session_id


async def test_signing_out_ends_the_session_and_a_session_belongs_to_its_user_only() -> None:
    d = desk()
    alice, bob = d.user(), d.user("bob")
    opened = await d.signin.sign_in("alice", PASSWORD, HOME)
    assert await d.signin.session_user(bob.id, opened.session_id) is None

    await d.signin.sign_out(opened.session_id)

    assert await d.signin.session_user(alice.id, opened.session_id) is None
    with pytest.raises(SignInRefused):
        await d.signin.refresh(opened.refresh_token)


async def test_a_refresh_token_of_a_user_who_is_gone_opens_nothing() -> None:
    d = desk()
    alice = d.user()
    opened = await d.signin.sign_in("alice", PASSWORD, HOME)
    del d.members.users[alice.id]

    with pytest.raises(SignInRefused, match=REFRESH_REFUSED):
        await d.signin.refresh(opened.refresh_token)


async def test_an_account_is_delayed_then_locked_even_for_the_right_password_and_the_lock_ends() -> None:
    d = desk()
    d.user()
    for _ in range(3):  # free failures: the next attempt is checked at once
        with pytest.raises(SignInRefused):
            await d.signin.sign_in("alice", "guess-guess-guess", ATTACKER)
    with pytest.raises(SignInRefused):
        await d.signin.sign_in("alice", "guess-guess-guess", ATTACKER)  # the 4th: 1 s to wait

    with pytest.raises(SignInLocked) as delayed:
        await d.signin.sign_in("alice", PASSWORD, ELSEWHERE)
    checks = d.passwords.verified
    d.clock.advance(1)
    await d.signin.sign_in("alice", PASSWORD, ELSEWHERE)
    assert delayed.value.retry_after_s == 1 and d.passwords.verified == checks + 1  # none while delayed

    await d.fail(6)  # ten in all: locked for 15 minutes
    d.clock.advance(-60)
    with pytest.raises(SignInLocked) as locked:
        await d.signin.sign_in("alice", PASSWORD, NEW)
    assert locked.value.retry_after_s == 900
    await d.signin.sign_in("alice", PASSWORD, ELSEWHERE)  # known since her sign-in there
    d.clock.advance(899)
    with pytest.raises(SignInLocked):
        await d.signin.sign_in("alice", PASSWORD, NEW)
    d.clock.advance(1)
    assert (await d.signin.sign_in("alice", PASSWORD, NEW)).user.username == "alice"


async def test_an_address_alice_signed_in_from_in_the_last_30_days_is_not_held_by_her_account_s_lock() -> (
    None
):
    d = desk()
    d.user()
    await d.signin.sign_in("alice", PASSWORD, HOME)
    await d.fail(10)  # someone else, elsewhere, locks her account
    d.clock.advance(-60)

    with pytest.raises(SignInLocked):
        await d.signin.sign_in("alice", PASSWORD, ELSEWHERE)
    with pytest.raises(SignInLocked):
        await d.signin.sign_in("alice", PASSWORD, None)  # no address is no known address
    assert (await d.signin.sign_in("alice", PASSWORD, HOME)).user.username == "alice"


async def test_a_known_address_is_forgotten_after_30_days_and_its_own_failures_lock_it() -> None:
    d = desk()
    d.user()
    d.user("bob")
    await d.signin.sign_in("alice", PASSWORD, HOME)
    await d.signin.sign_in("bob", PASSWORD, ATTACKER)
    d.clock.advance(timedelta(days=30).total_seconds())
    await d.fail(10)

    d.clock.advance(-60)
    with pytest.raises(SignInLocked):
        await d.signin.sign_in("alice", PASSWORD, HOME)  # 30 days and 10 min since she was there
    with pytest.raises(SignInLocked):
        await d.signin.sign_in("bob", PASSWORD, ATTACKER)  # the address's own failures hold it


async def test_an_address_is_locked_whatever_names_it_tries_and_unknown_names_count_alike() -> None:
    d = desk()
    d.user("bob")
    for attempt in range(10):
        with pytest.raises(SignInRefused, match=WRONG_CREDENTIALS):
            await d.signin.sign_in(f"user{attempt}", "guess-guess-guess", ATTACKER)
        d.clock.advance(60)
    d.clock.advance(-60)

    with pytest.raises(SignInLocked):
        await d.signin.sign_in("bob", PASSWORD, ATTACKER)
    assert (await d.signin.sign_in("bob", PASSWORD, ELSEWHERE)).user.username == "bob"
    assert set(d.store.failures_) == {f"address:{ATTACKER}"} | {f"account:user{n}" for n in range(10)}


async def test_changing_the_password_needs_the_current_one_and_ends_every_other_session() -> None:
    d = desk()
    alice = d.user()
    first = await d.signin.sign_in("alice", PASSWORD, HOME)
    second = await d.signin.sign_in("alice", PASSWORD, ELSEWHERE)

    with pytest.raises(SignInRefused, match="the current password is wrong"):
        await d.signin.change_password(alice, "not-it-at-all", PASSWORD + "x", HOME)
    with pytest.raises(Invalid, match="at least 10 characters"):
        await d.signin.change_password(alice, PASSWORD, "short-1", HOME)
    assert d.members.users[alice.id] == alice  # nothing changed yet
    assert d.store.failures(["account:alice"])["account:alice"].count == 1  # the wrong one counted

    opened = await d.signin.change_password(alice, PASSWORD, "amber-lantern-meadow-4", HOME)

    assert (
        opened.user.password_hash
        == d.members.users[alice.id].password_hash
        == "hashed:amber-lantern-meadow-4"
    )
    assert await d.signin.session_user(alice.id, first.session_id) is None
    assert await d.signin.session_user(alice.id, second.session_id) is None
    with pytest.raises(SignInRefused):
        await d.signin.refresh(second.refresh_token)
    assert await d.signin.session_user(alice.id, opened.session_id) == opened.user
    with pytest.raises(SignInRefused):
        await d.signin.sign_in("alice", PASSWORD, HOME)
    assert (await d.signin.sign_in("alice", "amber-lantern-meadow-4", HOME)).user == opened.user


async def test_a_wrong_current_password_is_throttled_like_a_sign_in() -> None:
    d = desk()
    alice = d.user()
    for _ in range(4):
        with pytest.raises(SignInRefused):
            await d.signin.change_password(alice, "not-it-at-all", "amber-lantern-meadow-4", ELSEWHERE)

    with pytest.raises(SignInLocked):
        await d.signin.change_password(alice, PASSWORD, "amber-lantern-meadow-4", ELSEWHERE)
    assert d.members.users[alice.id] == alice


async def _two_factor_on(d: Desk, user: User) -> pyotp.TOTP:
    enrolment = await d.two_factor.enrol(user)
    totp = pyotp.TOTP(enrolment.secret)
    d.clock.advance(-30)
    await d.two_factor.confirm(user, totp.at(d.clock.now()))  # a code of the step before: used up
    d.clock.advance(30)
    return totp


async def test_with_two_factor_on_a_sign_in_needs_a_right_code_once() -> None:
    d = desk()
    alice = d.user()
    totp = await _two_factor_on(d, alice)
    code = totp.at(d.clock.now())

    with pytest.raises(SignInRefused, match=CODE_NEEDED):
        await d.signin.sign_in("alice", PASSWORD, HOME)
    with pytest.raises(SignInRefused, match=CODE_NEEDED):
        await d.signin.sign_in("alice", PASSWORD, HOME, otp="")
    assert d.store.failures_ == {}  # a missing code is not a failure
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(SignInRefused, match=CODE_WRONG):
        await d.signin.sign_in("alice", PASSWORD, HOME, otp=wrong)
    assert d.store.failures([f"address:{HOME}"])[f"address:{HOME}"].count == 1
    with pytest.raises(SignInRefused, match=WRONG_CREDENTIALS):
        await d.signin.sign_in("alice", "guess-guess-guess", HOME, otp=code)  # a code opens nothing alone

    opened = await d.signin.sign_in("alice", PASSWORD, HOME, otp=code)

    assert opened.user == alice
    with pytest.raises(SignInRefused, match=CODE_WRONG):
        await d.signin.sign_in("alice", PASSWORD, HOME, otp=code)  # replayed


async def test_switching_two_factor_off_needs_the_password_and_a_code() -> None:
    d = desk()
    alice = d.user()
    totp = await _two_factor_on(d, alice)
    code = totp.at(d.clock.now())

    with pytest.raises(SignInRefused, match="wrong password or code"):
        await d.signin.disable_two_factor(alice, "guess-guess-guess", code, HOME)
    with pytest.raises(SignInRefused, match="wrong password or code"):
        await d.signin.disable_two_factor(alice, PASSWORD, "12345", HOME)
    assert await d.two_factor.required(alice.id)
    assert d.store.failures(["account:alice"])["account:alice"].count == 2

    await d.signin.disable_two_factor(alice, PASSWORD, code, HOME)

    assert not await d.two_factor.required(alice.id)
    assert (await d.signin.sign_in("alice", PASSWORD, HOME)).user == alice


async def test_a_locked_account_cannot_switch_two_factor_off_even_with_the_right_password() -> None:
    d = desk()
    alice = d.user()
    totp = await _two_factor_on(d, alice)
    await d.fail(10)
    d.clock.advance(-60)

    with pytest.raises(SignInLocked):
        await d.signin.disable_two_factor(alice, PASSWORD, totp.at(d.clock.now()), ELSEWHERE)
    assert await d.two_factor.required(alice.id)


async def test_live_sessions_are_those_not_signed_out_or_ended_by_a_password_change() -> None:
    d = desk()
    d.user()
    bob = d.user("bob")
    out = await d.signin.sign_in("alice", PASSWORD, HOME)
    changed = await d.signin.sign_in("bob", PASSWORD, HOME)
    kept = await d.signin.sign_in("alice", PASSWORD, HOME)
    await d.signin.sign_out(out.session_id)
    new = await d.signin.change_password(bob, PASSWORD, "amber-lantern-meadow-4", HOME)

    ids = {out.session_id, changed.session_id, kept.session_id, new.session_id, "unknown"}

    assert await d.signin.live_sessions(ids) == {kept.session_id, new.session_id}
    assert await d.signin.live_sessions(set()) == set()


async def test_a_disabled_user_is_told_so_only_with_the_right_password_and_their_tokens_open_nothing() -> (
    None
):
    d = desk()
    alice = d.user()
    opened = await d.signin.sign_in("alice", PASSWORD, HOME)
    d.members.users[alice.id] = replace(alice, disabled=True)  # as an admin's disable leaves the user

    with pytest.raises(SignInRefused, match=DISABLED):
        await d.signin.sign_in("alice", PASSWORD, HOME)
    with pytest.raises(SignInRefused, match=WRONG_CREDENTIALS):
        await d.signin.sign_in("alice", "guess-guess-guess", HOME)
    with pytest.raises(SignInRefused, match=REFRESH_REFUSED):
        await d.signin.refresh(opened.refresh_token)
    assert await d.signin.session_user(alice.id, opened.session_id) is None
