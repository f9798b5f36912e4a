"""Bots without a database: created on the owner's paper account, started and stopped with their
subscription, private to their owner."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.fakes.memory_members import desk
from tradewire.domain.confirmation import ConfirmVia, TradeConfirmation
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import AccountMode, Invalid, NotFound
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.services.members.accounts import AccountRequest
from tradewire.services.members.bots import BotRequest

EMA = StrategyDefinition.model_validate({"builtin": "ema_cross", "symbols": ["BTC/USDT"]})


async def test_a_bot_trades_a_new_paper_account_by_default_and_runs_at_once() -> None:
    d = desk()
    alice = d.user("alice")

    bot = await d.market.bots.create(alice.id, BotRequest("b", EMA))

    [account] = d.members.accounts(alice.id)
    assert (account.name, account.mode) == ("paper", AccountMode.PAPER)
    assert (bot.account_id, bot.mode, bot.status, bot.running) == (
        account.id,
        AccountMode.PAPER,
        SubscriptionStatus.ACTIVE,
        True,
    )
    assert bot.definition["bot"] is not None  # the bot settings' defaults are filled in
    assert d.members.strategies_[bot.id].new.passphrase_hash.startswith("hashed:")


async def test_a_disabled_definition_makes_a_paused_bot() -> None:
    d = desk()
    alice = d.user("alice")

    bot = await d.market.bots.create(alice.id, BotRequest("b", EMA.model_copy(update={"enabled": False})))

    assert (bot.status, bot.running) == (SubscriptionStatus.PAUSED, False)


async def test_a_bot_is_refused_another_users_account_and_unknown_paper_pairs() -> None:
    d = desk()
    alice, bob = d.user("alice"), d.user("bob")
    bobs = await d.market.accounts.open(bob.id, AccountRequest("paper"))
    unknown = EMA.model_copy(update={"symbols": ["NOPE/USDT"]})

    with pytest.raises(NotFound, match=f"no exchange account {bobs.id}"):
        await d.market.bots.create(alice.id, BotRequest("b", EMA, account_id=bobs.id))
    with pytest.raises(Invalid, match=r"unknown pairs: \['NOPE/USDT'\]"):
        await d.market.bots.create(alice.id, BotRequest("b", unknown))

    assert d.members.strategies_ == {} and d.members.accounts(alice.id) == []


async def test_stopping_a_bot_pauses_its_subscription_and_starting_resumes_it() -> None:
    d = desk()
    alice = d.user("alice")
    bot = await d.market.bots.create(alice.id, BotRequest("b", EMA))

    stopped = await d.market.bots.run(alice.id, bot.id, running=False)
    sub_when_stopped = d.members.subscription(alice.id, bot.subscription_id).status
    started = await d.market.bots.run(alice.id, bot.id, running=True)

    assert (stopped.running, stopped.definition["enabled"], sub_when_stopped) == (
        False,
        False,
        SubscriptionStatus.PAUSED,
    )
    assert (started.running, started.definition["enabled"]) == (True, True)
    assert d.members.subscription(alice.id, bot.subscription_id).status is SubscriptionStatus.ACTIVE


async def test_another_users_bot_is_not_found_and_stays_as_it_was() -> None:
    d = desk()
    alice, bob = d.user("alice"), d.user("bob")
    bot = await d.market.bots.create(alice.id, BotRequest("b", EMA))

    with pytest.raises(NotFound, match=f"no bot {bot.id}"):
        await d.market.bots.run(bob.id, bot.id, running=False)
    with pytest.raises(NotFound, match=f"no bot {bot.id}"):
        await d.market.bots.change(bob.id, bot.id, EMA)

    assert await d.market.bots.owned(bob.id) == []
    assert (await d.market.bots.get(alice.id, bot.id)).running


async def test_a_new_definition_keeps_the_status_unless_it_disables_the_bot() -> None:
    d = desk()
    alice = d.user("alice")
    bot = await d.market.bots.create(alice.id, BotRequest("b", EMA))
    macd = StrategyDefinition.model_validate({"builtin": "macd", "symbols": ["ETH/USDT"]})

    changed = await d.market.bots.change(alice.id, bot.id, macd)
    disabled = await d.market.bots.change(alice.id, bot.id, macd.model_copy(update={"enabled": False}))

    assert (changed.definition["builtin"], changed.status) == ("macd", SubscriptionStatus.ACTIVE)
    assert changed.definition["bot"] is not None
    assert (disabled.status, disabled.running) == (SubscriptionStatus.PAUSED, False)


async def test_a_bot_asks_for_confirmation_when_its_owner_wants_it() -> None:
    d = desk()
    alice = d.user("alice")
    asks = TradeConfirmation(ConfirmVia.TELEGRAM, 60, Decimal("0.5"))

    bot = await d.market.bots.create(alice.id, BotRequest("b", EMA, confirmation=asks))

    subscription = await d.market.subscriptions.get(alice.id, bot.subscription_id)
    assert (
        subscription.confirmation,
        subscription.confirmation_timeout_s,
        subscription.max_confirm_drift_pct,
    ) == (ConfirmVia.TELEGRAM, 60, Decimal("0.5"))
