"""The Members port kept the same way by SQLite, PostgreSQL and the in-memory twin the unit tests use:
the marketplace's use cases run over each and see the same records and the same errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.memory_members import (
    NOW,
    FakeDirectory,
    FakeGuards,
    FixedClock,
    MemoryMembers,
    PlainPasswords,
)
from tradewire.adapters.store.members import SqlMembers
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import (
    AccountMode,
    Conflict,
    NotFound,
    Role,
    StrategyChanges,
    SubscriptionChanges,
    SubscriptionSettings,
    User,
)
from tradewire.domain.risk import RiskLimits, TradingState
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.domain.tranches import DcaMode, DcaPlan
from tradewire.ports import Members
from tradewire.services.members import Marketplace, build_marketplace
from tradewire.services.members.accounts import AccountRequest
from tradewire.services.members.bots import BotRequest
from tradewire.services.members.strategies import StrategyRequest
from tradewire.services.members.subscriptions import SubscriptionRequest

EMA = StrategyDefinition.model_validate({"builtin": "ema_cross", "symbols": ["BTC/USDT"]})


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def members(request: pytest.FixtureRequest) -> Members:
    if request.param == "memory":
        return MemoryMembers()
    engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "postgres_engine")
    return SqlMembers(engine)


async def _provider(members: Members, m: Marketplace, name: str) -> User:
    """A user who publishes: sign-up makes subscribers, so one is made a provider at creation."""
    user_id = members.create_user(name, "hashed", NOW, Role.PROVIDER)
    user = await m.logins.user(user_id)
    assert user is not None and user.role is Role.PROVIDER
    return user


def market(members: Members) -> Marketplace:
    return build_marketplace(
        members,
        PlainPasswords(),
        FakeGuards(),
        FakeDirectory({}),
        FixedClock(NOW),
        paper_pairs={"BTC/USDT", "ETH/USDT"},
        paper_markets={"BTC/USDT", "ETH/USDT"},
        markets_timeout_s=1,
        signup_enabled=True,
    )


async def test_records_of_another_user_are_not_found_in_every_store(members: Members) -> None:
    m = market(members)
    alice, bob = (
        await m.logins.sign_up("alice", "quiet-harbor-71"),
        await m.logins.sign_up("bob", "quiet-harbor-71"),
    )
    account = await m.accounts.open(alice.id, AccountRequest("paper"))
    private = (await m.strategies.publish(alice.id, StrategyRequest("Private", slug="private-one"))).strategy
    subscription = await m.subscriptions.subscribe(alice.id, SubscriptionRequest(private.id, account.id))
    bot = await m.bots.create(alice.id, BotRequest("b", EMA, account_id=account.id))

    with pytest.raises(NotFound, match=f"no exchange account {account.id}"):
        await m.accounts.get(bob.id, account.id)
    with pytest.raises(NotFound, match=f"no strategy {private.id}"):
        await m.strategies.get(bob.id, private.id)
    with pytest.raises(NotFound, match=f"no subscription {subscription.id}"):
        await m.subscriptions.get(bob.id, subscription.id)
    with pytest.raises(NotFound, match=f"no bot {bot.id}"):
        await m.bots.get(bob.id, bot.id)
    with pytest.raises(NotFound, match=f"no exchange account {account.id}"):
        await m.accounts.close(bob.id, account.id)

    assert await m.strategies.visible(bob.id) == []
    assert [s.id for s in await m.strategies.visible(alice.id)] == [private.id, bot.id]


async def test_uniqueness_rules_are_conflicts_in_every_store(members: Members) -> None:
    m = market(members)
    alice = await m.logins.sign_up("alice", "quiet-harbor-71")
    account = await m.accounts.open(alice.id, AccountRequest("paper"))
    strategy = (await m.strategies.publish(alice.id, StrategyRequest("S", slug="taken-slug"))).strategy
    await m.subscriptions.subscribe(alice.id, SubscriptionRequest(strategy.id, account.id))

    with pytest.raises(Conflict, match="username 'alice' is taken"):
        await m.logins.sign_up("alice", "quiet-harbor-72")
    with pytest.raises(Conflict, match="you already have an account named 'paper'"):
        await m.accounts.open(alice.id, AccountRequest("paper"))
    with pytest.raises(Conflict, match="the webhook slug 'taken-slug' is taken"):
        await m.strategies.publish(alice.id, StrategyRequest("T", slug="taken-slug"))
    with pytest.raises(Conflict, match="this account is already subscribed to this strategy"):
        await m.subscriptions.subscribe(alice.id, SubscriptionRequest(strategy.id, account.id))
    with pytest.raises(Conflict, match="the account still has subscriptions"):
        await m.accounts.close(alice.id, account.id)


async def test_a_subscription_changes_the_same_way_in_every_store(members: Members) -> None:
    m = market(members)
    alice = await _provider(members, m, "alice")
    account = await m.accounts.open(alice.id, AccountRequest("paper"))
    strategy = (await m.strategies.publish(alice.id, StrategyRequest("S", is_public=True))).strategy
    dca = DcaPlan(DcaMode.EQUAL, 3, Decimal(2))
    request = SubscriptionRequest(
        strategy.id, account.id, ["BTC/USDT"], settings=SubscriptionSettings(dca=dca)
    )
    made = await m.subscriptions.subscribe(alice.id, request)

    reducing = await m.subscriptions.change(
        alice,
        made.id,
        SubscriptionChanges(
            trading_state=TradingState.REDUCING,
            all_pairs=True,
            no_dca=True,
            settings=SubscriptionSettings(risk_limits=RiskLimits(daily_loss_pct=Decimal("3"))),
        ),
    )
    cancelled = await m.subscriptions.change(
        alice, made.id, SubscriptionChanges(status=SubscriptionStatus.CANCELLED)
    )

    assert (made.pairs, made.dca, made.mode) == (["BTC/USDT"], dca.as_json(), AccountMode.PAPER)
    assert (reducing.pairs, reducing.dca, reducing.trading_state) == (None, None, TradingState.REDUCING)
    assert reducing.state_reason == "set to REDUCING by alice"
    assert reducing.risk_limits == RiskLimits(daily_loss_pct=Decimal("3")).as_json()
    assert (await m.strategies.get(alice.id, strategy.id)).subscriber_count == 0  # cancelled
    assert cancelled.status is SubscriptionStatus.CANCELLED
    with pytest.raises(Conflict, match="a cancelled subscription cannot change"):
        await m.subscriptions.change(alice, made.id, SubscriptionChanges(status=SubscriptionStatus.ACTIVE))


async def test_strategies_and_bots_change_the_same_way_in_every_store(members: Members) -> None:
    m = market(members)
    alice = await _provider(members, m, "alice")
    built_in = (await m.strategies.publish(alice.id, StrategyRequest("E", definition=EMA))).strategy
    bot = await m.bots.create(alice.id, BotRequest("b", EMA))

    changed = await m.strategies.change(
        alice.id, built_in.id, StrategyChanges(definition=EMA, is_public=True)
    )
    stopped = await m.bots.run(alice.id, bot.id, running=False)
    [listed] = await m.bots.owned(alice.id)

    assert changed.is_public and changed.definition == EMA.model_dump(mode="json", exclude_none=True)
    assert (stopped.running, stopped.status, stopped.definition["enabled"]) == (
        False,
        SubscriptionStatus.PAUSED,
        False,
    )
    assert listed == stopped and listed.mode is AccountMode.PAPER


async def test_halt_all_stops_every_live_subscription_of_the_user_in_every_store(members: Members) -> None:
    m = market(members)
    alice = await _provider(members, m, "alice")
    bob = await m.logins.sign_up("bob", "quiet-harbor-72")
    strategy = (await m.strategies.publish(alice.id, StrategyRequest("S", is_public=True))).strategy
    other = (await m.strategies.publish(alice.id, StrategyRequest("T", is_public=True))).strategy
    third = (await m.strategies.publish(alice.id, StrategyRequest("U", is_public=True))).strategy
    mine = await m.accounts.open(alice.id, AccountRequest("paper"))
    theirs = await m.accounts.open(bob.id, AccountRequest("paper"))
    active = await m.subscriptions.subscribe(alice.id, SubscriptionRequest(strategy.id, mine.id))
    reducing = await m.subscriptions.subscribe(alice.id, SubscriptionRequest(other.id, mine.id))
    cancelled = await m.subscriptions.subscribe(alice.id, SubscriptionRequest(third.id, mine.id))
    bobs = await m.subscriptions.subscribe(bob.id, SubscriptionRequest(strategy.id, theirs.id))
    await m.subscriptions.change(alice, reducing.id, SubscriptionChanges(trading_state=TradingState.REDUCING))
    await m.subscriptions.change(
        alice, cancelled.id, SubscriptionChanges(status=SubscriptionStatus.CANCELLED)
    )

    assert await m.subscriptions.halt_all(alice) == [active.id, reducing.id]
    assert await m.subscriptions.halt_all(alice) == []  # nothing left to halt

    states = {s.id: (s.trading_state, s.state_reason) for s in await m.subscriptions.owned(alice.id)}
    assert states[active.id] == states[reducing.id] == (TradingState.HALTED, "set to HALTED by alice")
    assert states[cancelled.id][0] is TradingState.ACTIVE
    assert (await m.subscriptions.get(bob.id, bobs.id)).trading_state is TradingState.ACTIVE
