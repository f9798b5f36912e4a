"""The sign-in store on SQLite and PostgreSQL, and its in-memory twin (tests/fakes/memory_signin.py)
held to the same assertions: a refresh token is used once, sessions are revoked, and the sessions a
user can never use again are dropped when they sign in; failed sign-ins count up per key and are
dropped once forgotten; addresses users signed in from are known for a while; a TOTP secret is
replaced until confirmed and each of its time steps is used once."""

from __future__ import annotations

from collections.abc import Callable, Sized
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from tests.fakes.memory_members import MemoryMembers
from tests.fakes.memory_signin import MemorySignIn, MemoryTwoFactor, MissingRow
from tests.fakes.memory_store import UniqueViolation
from tests.seeding import now
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.signin import SqlSignIn
from tradewire.adapters.store.tables import metadata
from tradewire.adapters.store.two_factor import SqlTwoFactor
from tradewire.domain.signin import Failures, RefreshState, RefreshUse, ThrottlePolicy
from tradewire.ports.signin import SignInStore
from tradewire.ports.two_factor import StoredTotp, TwoFactorStore

DAY = timedelta(days=1)


@dataclass
class Stores:
    """A sign-in store, a TOTP store and the users they serve, SQL or in memory."""

    members: Any  # create_user, user_by_id
    signin: SignInStore
    two_factor: TwoFactorStore
    count: Callable[[str], int]  # rows kept in a table


def _sql(engine: Engine) -> Stores:
    def count(table: str) -> int:
        with engine.connect() as conn:
            query = select(func.count()).select_from(metadata.tables[table])
            return int(conn.execute(query).scalar_one())

    return Stores(SqlMembers(engine), SqlSignIn(engine), SqlTwoFactor(engine), count)


def _memory() -> Stores:
    members = MemoryMembers()
    signin = MemorySignIn(members)
    kept: dict[str, Callable[[], Sized]] = {
        "sign_in_sessions": lambda: signin.sessions,
        "refresh_tokens": lambda: signin.tokens,
        "sign_in_failures": lambda: signin.failures_,
    }
    return Stores(members, signin, MemoryTwoFactor(members), lambda table: len(kept[table]()))


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def stores(request: pytest.FixtureRequest) -> Stores:
    """SqlSignIn and SqlTwoFactor on SQLite, then PostgreSQL, then the in-memory twins."""
    if request.param == "memory":
        return _memory()
    return _sql(request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "postgres_engine"))


def test_a_refresh_token_is_fresh_once_then_reused_and_expires(stores: Stores) -> None:
    user_id = stores.members.create_user("alice", "-", now())
    store = stores.signin
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


def test_a_password_change_revokes_every_session_and_sign_in_drops_dead_ones(stores: Stores) -> None:
    members = stores.members
    alice, bob = members.create_user("alice", "-", now()), members.create_user("bob", "-", now())
    store = stores.signin
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
    assert stores.count("sign_in_sessions") == 3

    store.open_session(alice, "a3", "ha3", t0 + 2 * DAY, t0 + 3 * DAY)  # a1, a2 (revoked) go
    store.open_session(bob, "b2", "hb2", t0 + 2 * DAY, t0 + 3 * DAY)  # b1 (its token expired) goes

    assert stores.count("sign_in_sessions") == 2
    assert stores.count("refresh_tokens") == 2


def test_failures_count_up_per_key_and_forgotten_ones_are_dropped(stores: Stores) -> None:
    store = stores.signin
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
    assert stores.count("sign_in_failures") == 1


def test_an_address_is_known_from_a_users_sign_in_for_a_while(stores: Stores) -> None:
    alice = stores.members.create_user("alice", "-", now())
    store = stores.signin
    t0 = now()

    store.remember_address(alice, "192.0.2.1", t0 - DAY)
    store.remember_address(alice, "192.0.2.1", t0)  # again: the time moves on

    assert store.address_known("alice", "192.0.2.1", t0)
    assert not store.address_known("alice", "192.0.2.1", t0 + timedelta(seconds=1))
    assert not store.address_known("alice", "192.0.2.2", t0 - DAY)
    assert not store.address_known("nobody", "192.0.2.1", t0 - DAY)


def test_a_totp_secret_is_replaced_until_confirmed_and_each_step_is_used_once(stores: Stores) -> None:
    alice = stores.members.create_user("alice", "-", now())
    store = stores.two_factor
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


def test_session_ids_and_token_digests_are_unique_and_name_a_user_that_exists(stores: Stores) -> None:
    alice = stores.members.create_user("alice", "-", now())
    store = stores.signin
    t0 = now()
    store.open_session(alice, "s1", "h1", t0, t0 + DAY)
    refused = (IntegrityError, UniqueViolation, MissingRow)

    with pytest.raises(refused):
        store.open_session(alice, "s1", "h2", t0, t0 + DAY)  # a live session's id
    with pytest.raises(refused):
        store.open_session(alice, "s2", "h1", t0, t0 + DAY)  # a live token's digest
    with pytest.raises(refused):
        store.add_refresh_token("s1", "h1", t0, t0 + DAY)
    with pytest.raises(refused):
        store.add_refresh_token("no-such-session", "h3", t0, t0 + DAY)
    with pytest.raises(refused):
        store.open_session(alice + 1, "s3", "h3", t0, t0 + DAY)  # no such user

    assert (stores.count("sign_in_sessions"), stores.count("refresh_tokens")) == (1, 1)
    assert store.use_refresh_token("h1", t0) == RefreshUse(alice, "s1", RefreshState.FRESH)
