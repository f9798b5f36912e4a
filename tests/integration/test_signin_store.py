"""The sign-in store on SQLite and PostgreSQL: a refresh token is used once, sessions are revoked, and
the sessions a user can never use again are dropped when they sign in; failed sign-ins count up per
key and are dropped once forgotten; addresses users signed in from are known for a while; a TOTP
secret is replaced until confirmed and each of its time steps is used once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select

from tests.seeding import now
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.signin import SqlSignIn
from tradewire.adapters.store.tables import refresh_tokens, sign_in_failures, sign_in_sessions
from tradewire.adapters.store.two_factor import SqlTwoFactor
from tradewire.domain.signin import Failures, RefreshState, RefreshUse, ThrottlePolicy
from tradewire.ports.two_factor import StoredTotp

DAY = timedelta(days=1)


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_refresh_token_is_fresh_once_then_reused_and_expires(engine: Engine) -> None:
    user_id = SqlMembers(engine).create_user("alice", "-", now())
    store = SqlSignIn(engine)
    t0 = now()
    store.open_session(user_id, "s1", "h1", t0, t0 + DAY)
    store.open_session(user_id, "s2", "h2", t0, t0 + DAY)

    assert store.use_refresh_token("h1", t0) == RefreshUse(user_id, "s1", RefreshState.FRESH)
    assert store.use_refresh_token("h1", t0) == RefreshUse(user_id, "s1", RefreshState.REUSED)
    assert store.use_refresh_token("nope", t0) is None
    assert store.use_refresh_token("h2", t0 + DAY) == RefreshUse(user_id, "s2", RefreshState.EXPIRED)
    store.add_refresh_token("s1", "h1b", t0, t0 + DAY)
    assert store.session_user(user_id, "s1") is not None

    store.revoke_session("s1", t0, "signed out")

    assert store.use_refresh_token("h1b", t0) == RefreshUse(user_id, "s1", RefreshState.REVOKED)
    assert store.session_user(user_id, "s1") is None
    assert store.session_user(user_id, "s2") is not None
    assert store.session_user(user_id + 1, "s2") is None  # another user's session id
    assert store.live_sessions(["s1", "s2", "unknown"]) == {"s2"}
    assert store.live_sessions([]) == set()


def test_a_password_change_revokes_every_session_and_sign_in_drops_dead_ones(engine: Engine) -> None:
    members = SqlMembers(engine)
    alice, bob = members.create_user("alice", "-", now()), members.create_user("bob", "-", now())
    store = SqlSignIn(engine)
    t0 = now()
    store.open_session(alice, "a1", "ha1", t0, t0 + DAY)
    store.open_session(alice, "a2", "ha2", t0, t0 + DAY)
    store.open_session(bob, "b1", "hb1", t0, t0 + DAY)

    store.change_password(alice, "new-hash", t0)

    user = members.user_by_id(alice)
    assert user is not None and user.password_hash == "new-hash"
    assert store.session_user(alice, "a1") is None and store.session_user(alice, "a2") is None
    assert store.session_user(bob, "b1") is not None
    assert store.live_sessions(["a1", "a2", "b1"]) == {"b1"}
    assert _count(engine, sign_in_sessions) == 3

    store.open_session(alice, "a3", "ha3", t0 + 2 * DAY, t0 + 3 * DAY)  # a1, a2 (revoked) go
    store.open_session(bob, "b2", "hb2", t0 + 2 * DAY, t0 + 3 * DAY)  # b1 (its token expired) goes

    assert _count(engine, sign_in_sessions) == 2
    assert _count(engine, refresh_tokens) == 2


def test_failures_count_up_per_key_and_forgotten_ones_are_dropped(engine: Engine) -> None:
    store = SqlSignIn(engine)
    policy = ThrottlePolicy(free_failures=1, first_delay_s=10, lock_after=3, lock_s=600)
    t0 = now()

    store.record_failure(["address:a", "account:x"], t0, policy)
    store.record_failure(["address:a", "account:y"], t0, policy)

    assert store.failures(["address:a", "account:x", "account:y", "account:z"]) == {
        "address:a": Failures(2, t0, t0 + timedelta(seconds=10)),
        "account:x": Failures(1, t0, t0),
        "account:y": Failures(1, t0, t0),
    }
    store.record_failure(["address:a"], t0 + timedelta(seconds=10), policy)
    locked = store.failures(["address:a"])["address:a"]
    assert locked.count == 3 and locked.wait_s(t0 + timedelta(seconds=10)) == 600

    store.record_failure(["address:b"], t0 + timedelta(seconds=610), policy)  # x and y are forgotten

    assert set(store.failures(["address:a", "account:x", "account:y", "address:b"])) == {"address:b"}
    assert _count(engine, sign_in_failures) == 1


def test_an_address_is_known_from_a_users_sign_in_for_a_while(engine: Engine) -> None:
    alice = SqlMembers(engine).create_user("alice", "-", now())
    store = SqlSignIn(engine)
    t0 = now()

    store.remember_address(alice, "192.0.2.1", t0 - DAY)
    store.remember_address(alice, "192.0.2.1", t0)  # again: the time moves on

    assert store.address_known("alice", "192.0.2.1", t0)
    assert not store.address_known("alice", "192.0.2.1", t0 + timedelta(seconds=1))
    assert not store.address_known("alice", "192.0.2.2", t0 - DAY)
    assert not store.address_known("nobody", "192.0.2.1", t0 - DAY)


def test_a_totp_secret_is_replaced_until_confirmed_and_each_step_is_used_once(engine: Engine) -> None:
    alice = SqlMembers(engine).create_user("alice", "-", now())
    store = SqlTwoFactor(engine)
    assert store.totp(alice) is None

    store.enrol_totp(alice, "sealed-1", now())
    store.enrol_totp(alice, "sealed-2", now())  # not confirmed: replaced
    assert store.totp(alice) == StoredTotp("sealed-2", False, None)
    store.confirm_totp(alice, now())

    assert store.use_totp_step(alice, 100)
    assert not store.use_totp_step(alice, 100)  # the same step again
    assert not store.use_totp_step(alice, 99)  # an older one
    assert store.use_totp_step(alice, 101)
    assert store.totp(alice) == StoredTotp("sealed-2", True, 101)
    store.remove_totp(alice)
    assert store.totp(alice) is None
