"""Administration without a database: who may disable whom, the last admin kept, roles, the
platform's trading state with who set it and when, and bounded inputs that change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fakes.memory_admin import MemoryAdmin, MemoryPlatform
from tests.fakes.memory_members import NOW, FixedClock
from tradewire.domain.admin import ExecutionFilter, UserFilter
from tradewire.domain.members import Conflict, Invalid, NotFound, Role, User
from tradewire.domain.platform import MAX_REASON_CHARS, PlatformTrading
from tradewire.domain.records import Page
from tradewire.domain.risk import TradingState
from tradewire.services.admin import OPERATOR, Administration


def _admin() -> tuple[Administration, MemoryAdmin, MemoryPlatform, dict[str, User]]:
    store, platform = MemoryAdmin(), MemoryPlatform()
    users = {}
    for name, role in (("root", Role.ADMIN), ("carol", Role.PROVIDER), ("dave", Role.SUBSCRIBER)):
        users[name] = User(store.add(name, role, NOW), name, "hash", role)
    return Administration(store, platform, FixedClock(NOW)), store, platform, users


async def test_an_admin_disables_a_user_whose_sessions_end_and_enables_them_again() -> None:
    admin, store, _, users = _admin()
    carol = users["carol"].id

    disabled = await admin.disable(users["root"], carol)

    assert disabled.disabled and disabled.disabled_at == NOW and store.revoked == {carol: "user disabled"}
    assert (await admin.enable(users["root"], carol)).disabled is False
    assert [u.username for u in await admin.users(UserFilter(disabled=False), Page(10))] == [
        "dave",
        "carol",
        "root",
    ]


async def test_admins_cannot_disable_themselves_even_with_other_admins_about() -> None:
    admin, store, _, users = _admin()
    await admin.set_role(users["root"], users["carol"].id, Role.ADMIN)

    with pytest.raises(Conflict, match="themselves"):
        await admin.disable(users["root"], users["root"].id)

    assert store.user(users["root"].id).disabled is False


async def test_the_last_active_admin_is_neither_disabled_nor_demoted_even_by_the_operator() -> None:
    admin, store, _, users = _admin()
    root = users["root"].id

    with pytest.raises(Conflict, match="last active admin"):
        await admin.disable(None, root)
    with pytest.raises(Conflict, match="last active admin"):
        await admin.set_role(None, root, Role.PROVIDER)

    assert store.user(root).role is Role.ADMIN and not store.user(root).disabled
    await admin.set_role(None, users["carol"].id, Role.ADMIN)  # a second admin: now root may step down
    assert (await admin.set_role(None, root, Role.PROVIDER)).role is Role.PROVIDER


async def test_a_user_with_public_strategies_does_not_become_a_subscriber() -> None:
    admin, store, _, users = _admin()
    store.publishers.add(users["carol"].id)

    with pytest.raises(Conflict, match="public strategies"):
        await admin.set_role(users["root"], users["carol"].id, Role.SUBSCRIBER)
    with pytest.raises(NotFound):
        await admin.set_role(users["root"], 404, Role.PROVIDER)
    assert store.user(users["carol"].id).role is Role.PROVIDER


async def test_the_platform_s_trading_state_records_who_set_it_when_and_why() -> None:
    admin, _, platform, users = _admin()

    halted = await admin.set_platform_trading(users["root"], TradingState.HALTED, "exchange incident")
    by_operator = await admin.set_platform_trading(None, TradingState.REDUCING, "")

    assert halted == PlatformTrading(TradingState.HALTED, "exchange incident", "root", NOW)
    assert by_operator == PlatformTrading(TradingState.REDUCING, None, OPERATOR, NOW)
    assert await admin.platform_trading() == platform.trading == by_operator


async def test_bad_input_changes_nothing() -> None:
    admin, _, platform, users = _admin()

    with pytest.raises(Invalid, match="at most"):
        await admin.set_platform_trading(users["root"], TradingState.HALTED, "x" * (MAX_REASON_CHARS + 1))
    with pytest.raises(Invalid, match="since must be before until"):
        await admin.executions(ExecutionFilter(since=NOW, until=NOW - timedelta(seconds=1)), Page(10))

    assert platform.trading == PlatformTrading()


async def test_executions_are_every_user_s_newest_first() -> None:
    admin, store, _, users = _admin()
    store.orders += [{"id": n, "user_id": users["carol" if n % 2 else "dave"].id} for n in range(1, 5)]

    every = await admin.executions(ExecutionFilter(), Page(10))
    carol = await admin.executions(ExecutionFilter(user_id=users["carol"].id), Page(1))

    assert [o["id"] for o in every] == [4, 3, 2, 1] and [o["id"] for o in carol] == [3]
