"""The platform's trading state and disabled owners in the SQL store (SQLite and PostgreSQL): orders
claimed for sending, the platform's own exits and tranches, and pending intents obey the most
restrictive of the subscription's state, the platform's and the owner's; admins' user changes keep an
active admin (also when two admins disable each other at once) and revoke a disabled user's sessions;
a halt being set waits for a claim in flight."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from tests.integration.test_trading_state_orders import _open_position
from tests.support import now, seed_marketplace, stored_buy_and_sell
from tradewire.adapters.store.admin import SqlAdmin
from tradewire.adapters.store.platform import SqlPlatform, restrictions
from tradewire.adapters.store.signin import SqlSignIn
from tradewire.adapters.store.signin_tables import sign_in_sessions
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.tables import orders, users
from tradewire.domain.admin import ExecutionFilter, UserChange, UserFilter
from tradewire.domain.members import Conflict, NotFound, Role
from tradewire.domain.orders import OrderState
from tradewire.domain.platform import PlatformTrading
from tradewire.domain.records import NewSignal, Page, Routing
from tradewire.domain.risk import TradingState
from tradewire.domain.signals import SignalAction


def _halt(engine: Engine, state: TradingState) -> None:
    SqlPlatform(engine).set_platform_trading(PlatformTrading(state, "test", "root", now()))


def _disable(engine: Engine, user_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(disabled_at=now()))


@pytest.mark.parametrize(
    ("platform", "disabled", "claimed_sides", "why"),
    [
        (TradingState.ACTIVE, False, {"buy", "sell"}, None),
        (
            TradingState.REDUCING,
            False,
            {"sell"},
            "not sent: platform trading REDUCING (exits only, no entries)",
        ),
        (TradingState.HALTED, False, set(), "not sent: platform trading HALTED (no orders at all)"),
        (TradingState.ACTIVE, True, {"sell"}, "not sent: disabled owner's subscription REDUCING (exits only"),
        (TradingState.HALTED, True, set(), "not sent: platform trading HALTED (no orders at all)"),
    ],
)
def test_claiming_obeys_the_platform_s_state_and_a_disabled_owner_read_at_claim_time(
    engine: Engine, platform: TradingState, disabled: bool, claimed_sides: set[str], why: str | None
) -> None:
    store, sides, subscriber_id = stored_buy_and_sell(engine)
    _halt(engine, platform)  # after the orders were stored, before they are claimed
    if disabled:
        _disable(engine, subscriber_id)

    claimed = store.claim_for_submission(list(sides), now())

    assert {sides[i] for i in claimed} == claimed_sides
    with engine.connect() as conn:
        rows = conn.execute(select(orders.c.side, orders.c.state, orders.c.reason)).all()
    for side, state, reason in rows:
        if side in claimed_sides:
            assert state == OrderState.SUBMITTED.value
        else:
            assert state == OrderState.REJECTED.value
            assert why is not None and reason is not None and reason.startswith(why)


@pytest.mark.parametrize(
    ("platform", "disabled", "allowed"),
    [
        (TradingState.REDUCING, False, {"stop"}),
        (TradingState.HALTED, False, set()),
        (TradingState.ACTIVE, True, {"stop"}),  # a disabled owner's protective exits keep running
    ],
)
@pytest.mark.parametrize("kind", ["stop", "tranche"])
def test_the_platform_s_own_orders_follow_the_platform_and_the_owner(
    engine: Engine, platform: TradingState, disabled: bool, allowed: set[str], kind: str
) -> None:
    store, stop, tranche = _open_position(engine)
    _halt(engine, platform)
    if disabled:
        _disable(engine, stop.user_id)

    placed = store.save_auto_orders([stop if kind == "stop" else tranche], now())

    assert bool(placed) is (kind in allowed)
    [watched] = store.watched_positions()
    assert watched.state is (
        TradingState.HALTED if platform is TradingState.HALTED else TradingState.REDUCING
    )


def test_pending_intents_are_decided_under_the_most_restrictive_state(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}, {}])
    store = SqlStore(engine)
    signal = NewSignal(
        seeded.strategy_id, "k", SignalAction.BUY, "BTCUSDT", "BTC/USDT", None, None, None, {}, now()
    )
    signal_id, _ = store.insert_signal(signal)
    store.create_intents(Routing(signal_id, store.active_targets(seeded.strategy_id)), now())
    _disable(engine, seeded.subscriber_ids[0])

    states = {(w.user_id, w.state, w.state_source) for w in store.pending_work(signal_id)}
    assert states == {
        (seeded.subscriber_ids[0], TradingState.REDUCING, "disabled owner's subscription"),
        (seeded.subscriber_ids[1], TradingState.ACTIVE, "subscription"),
    }
    _halt(engine, TradingState.HALTED)
    assert {(w.state, w.state_source) for w in store.pending_work(signal_id)} == {
        (TradingState.HALTED, "platform trading")
    }


def test_the_platform_s_state_is_kept_and_read_back(engine: Engine) -> None:
    platform = SqlPlatform(engine)
    assert platform.platform_trading() == PlatformTrading()  # the migration's row: ACTIVE, never set
    at = now()
    platform.set_platform_trading(PlatformTrading(TradingState.HALTED, "incident", "root", at))
    assert SqlPlatform(engine).platform_trading() == PlatformTrading(
        TradingState.HALTED, "incident", "root", at
    )
    assert SqlPlatform(engine).restrictions().platform is TradingState.HALTED


def _user(engine: Engine, name: str, role: Role) -> int:
    from tradewire.adapters.store.members import SqlMembers

    return SqlMembers(engine).create_user(name, "hash", now(), role)


def test_user_changes_keep_an_active_admin_and_disabling_revokes_every_session(engine: Engine) -> None:
    admin = SqlAdmin(engine)
    root, carol = _user(engine, "root", Role.ADMIN), _user(engine, "carol", Role.PROVIDER)
    signin = SqlSignIn(engine)
    for n in range(2):
        signin.open_session(carol, f"s{n}", f"h{n}", now(), now() + timedelta(days=1))

    with pytest.raises(Conflict, match="last active admin"):
        admin.change_user(root, UserChange(disabled=True), now())
    with pytest.raises(Conflict, match="last active admin"):
        admin.change_user(root, UserChange(role=Role.SUBSCRIBER), now())
    with pytest.raises(NotFound):
        admin.change_user(999, UserChange(disabled=True), now())
    changed = admin.change_user(carol, UserChange(disabled=True), now())

    assert changed.disabled and changed.disabled_at is not None and changed.role is Role.PROVIDER
    assert signin.session_user(carol, "s0") is None and signin.session_user(carol, "s1") is None
    with engine.connect() as conn:
        revoked = conn.execute(
            select(sign_in_sessions.c.revoked_reason).where(sign_in_sessions.c.user_id == carol)
        )
        assert set(revoked.scalars()) == {"user disabled"}
    assert admin.change_user(carol, UserChange(disabled=False), now()).disabled is False
    assert [u.username for u in admin.users(UserFilter(role=Role.ADMIN), Page(10))] == ["root"]
    assert [u.username for u in admin.users(UserFilter(), Page(1, before_id=carol))] == ["root"]


def test_two_admins_disabling_each_other_at_once_leave_one_active_admin(engine: Engine) -> None:
    admin = SqlAdmin(engine)
    first, second = _user(engine, "first", Role.ADMIN), _user(engine, "second", Role.ADMIN)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def disable(user_id: int) -> None:
        barrier.wait()
        try:
            admin.change_user(user_id, UserChange(disabled=True), now())
            outcomes.append("disabled")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=disable, args=(user_id,)) for user_id in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["disabled", "refused"]
    assert len(admin.users(UserFilter(role=Role.ADMIN, disabled=False), Page(10))) == 1


def test_a_subscriber_s_role_waits_until_the_user_s_strategies_are_private(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}])  # its provider's strategy is public
    admin = SqlAdmin(engine)
    with pytest.raises(Conflict, match="public strategies"):
        admin.change_user(seeded.provider_id, UserChange(role=Role.SUBSCRIBER), now())
    assert admin.user(seeded.provider_id).role is Role.PROVIDER


def test_executions_list_every_user_s_orders_with_their_filters(engine: Engine) -> None:
    _, _, subscriber_id = stored_buy_and_sell(engine)
    admin = SqlAdmin(engine)

    rows = admin.executions(ExecutionFilter(), Page(10))
    mine = admin.executions(ExecutionFilter(user_id=subscriber_id, state="new"), Page(10))
    nobody = admin.executions(ExecutionFilter(user_id=subscriber_id + 100), Page(10))
    later = admin.executions(ExecutionFilter(since=now() + timedelta(days=1)), Page(10))

    assert [r["side"] for r in rows] == ["sell", "buy"] and len(mine) == 2 and nobody == [] and later == []
    assert {r["strategy_slug"] for r in rows} == {"tv-test"} and all(r["username"] for r in rows)
    assert not any(k.startswith("api_") for r in rows for k in r)


def test_setting_a_halt_waits_for_a_claim_in_flight(postgres_engine: Engine) -> None:
    engine = postgres_engine
    set_at: list[float] = []
    with engine.begin() as claim:
        assert restrictions(claim, lock=True).platform is TradingState.ACTIVE
        setter = threading.Thread(
            target=lambda: (_halt(engine, TradingState.HALTED), set_at.append(time.monotonic()))
        )
        setter.start()
        time.sleep(0.5)
        assert set_at == []  # waits while the claim holds the platform row
        committed_at = time.monotonic()
    setter.join(10)
    assert set_at and set_at[0] >= committed_at
