"""Strategies without a database: publishing, passphrases stored hashed, only the owner changes one."""

from __future__ import annotations

import pytest

from tests.fakes.memory_members import desk
from tradewire.domain.members import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    Role,
    StrategyChanges,
    StrategySource,
)
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.domain.track_record import PairStatus
from tradewire.services.members.strategies import StrategyRequest

EMA = StrategyDefinition.model_validate({"builtin": "ema_cross", "symbols": ["BTC/USDT"]})


async def test_a_webhook_strategy_returns_its_passphrase_once_and_keeps_only_its_hash() -> None:
    d = desk()
    alice = d.user("alice")

    published = await d.market.strategies.publish(
        alice.id, StrategyRequest("Alpha", passphrase="open-sesame")
    )

    stored = d.members.strategies_[published.strategy.id].new
    assert published.passphrase == "open-sesame"
    assert stored.passphrase_hash == "hashed:open-sesame"
    assert published.strategy.source == StrategySource.TRADINGVIEW
    assert published.strategy.slug.startswith("alpha-") and published.strategy.is_owner


async def test_a_generated_passphrase_is_long_and_new_each_time() -> None:
    d = desk()
    alice = d.user("alice")

    first = await d.market.strategies.publish(alice.id, StrategyRequest("A"))
    second = await d.market.strategies.publish(alice.id, StrategyRequest("B"))

    assert first.passphrase and second.passphrase and first.passphrase != second.passphrase
    assert len(first.passphrase) >= 24


async def test_a_built_in_strategy_has_no_passphrase_and_must_name_paper_pairs() -> None:
    d = desk()
    alice = d.user("alice")

    published = await d.market.strategies.publish(alice.id, StrategyRequest("Ema", definition=EMA))
    unknown = EMA.model_copy(update={"symbols": ["BTC/USDT", "NOPE/USDT"]})
    with pytest.raises(Invalid, match=r"unknown pairs: \['NOPE/USDT'\]"):
        await d.market.strategies.publish(alice.id, StrategyRequest("Bad", definition=unknown))

    assert published.passphrase is None
    assert published.strategy.source == StrategySource.INDICATOR
    assert published.strategy.definition == EMA.model_dump(mode="json")
    assert len(d.members.strategies_) == 1


async def test_a_1s_strategy_needs_an_exchange_trade_stream_not_the_paper_market() -> None:
    d = desk()
    alice = d.user("alice")
    on_paper = EMA.model_copy(update={"timeframe": "1s"})

    with pytest.raises(Invalid, match="timeframe 1s needs an exchange's public trade stream"):
        await d.market.strategies.publish(alice.id, StrategyRequest("Fast", definition=on_paper))
    published = await d.market.strategies.publish(alice.id, StrategyRequest("Ema", definition=EMA))
    with pytest.raises(Invalid, match="paper market has none"):
        await d.market.strategies.change(
            alice.id, published.strategy.id, StrategyChanges(definition=on_paper)
        )
    on_binance = EMA.model_copy(update={"timeframe": "1s", "candles_from": "binance"})
    fast = await d.market.strategies.publish(alice.id, StrategyRequest("Fast", definition=on_binance))

    assert fast.strategy.definition is not None and fast.strategy.definition["timeframe"] == "1s"
    assert len(d.members.strategies_) == 2


async def test_another_users_public_strategy_is_visible_but_not_theirs_to_change() -> None:
    d = desk()
    alice, bob = d.user("alice"), d.user("bob")
    public = (await d.market.strategies.publish(alice.id, StrategyRequest("P", is_public=True))).strategy
    private = (await d.market.strategies.publish(alice.id, StrategyRequest("Q"))).strategy

    seen = await d.market.strategies.visible(bob.id)
    with pytest.raises(NotFound, match=f"no strategy {public.id} of yours"):
        await d.market.strategies.change(bob.id, public.id, StrategyChanges(name="mine"))
    with pytest.raises(NotFound, match=f"no strategy {public.id} of yours"):
        await d.market.strategies.rotate_passphrase(bob.id, public.id)
    with pytest.raises(NotFound, match=f"no strategy {private.id}$"):
        await d.market.strategies.get(bob.id, private.id)

    assert [(s.id, s.is_owner) for s in seen] == [(public.id, False)]
    assert d.members.strategies_[public.id].new.passphrase_hash.startswith("hashed:")
    assert (await d.market.strategies.get(alice.id, public.id)).name == "P"


async def test_a_change_needs_something_to_change_and_a_definition_only_fits_a_built_in() -> None:
    d = desk()
    alice = d.user("alice")
    webhook = (await d.market.strategies.publish(alice.id, StrategyRequest("W"))).strategy

    with pytest.raises(Invalid, match="nothing to change"):
        await d.market.strategies.change(alice.id, webhook.id, StrategyChanges())
    with pytest.raises(
        Conflict, match=f"strategy {webhook.id} is a tradingview strategy, not a built-in one"
    ):
        await d.market.strategies.change(alice.id, webhook.id, StrategyChanges(definition=EMA))
    changed = await d.market.strategies.change(
        alice.id, webhook.id, StrategyChanges(name="W2", dedup_window_s=5)
    )

    assert (changed.name, changed.dedup_window_s, changed.definition) == ("W2", 5, None)


async def test_rotating_the_passphrase_replaces_its_hash() -> None:
    d = desk()
    alice = d.user("alice")
    strategy = (
        await d.market.strategies.publish(alice.id, StrategyRequest("W", passphrase="old-phrase"))
    ).strategy

    new = await d.market.strategies.rotate_passphrase(alice.id, strategy.id)

    assert new != "old-phrase"
    assert d.members.strategies_[strategy.id].new.passphrase_hash == f"hashed:{new}"


async def test_only_the_owner_rules_on_a_known_pair() -> None:
    d = desk()
    alice, bob = d.user("alice"), d.user("bob")
    strategy = (await d.market.strategies.publish(alice.id, StrategyRequest("W", is_public=True))).strategy

    with pytest.raises(Invalid, match="unknown pair 'NOPE/USDT'"):
        await d.market.strategies.override_pair(alice, strategy.id, "NOPE/USDT", PairStatus.BLACKLISTED)
    with pytest.raises(NotFound):
        await d.market.strategies.override_pair(bob, strategy.id, "BTC/USDT", PairStatus.BLACKLISTED)
    record = await d.market.strategies.override_pair(alice, strategy.id, "BTC/USDT", PairStatus.BLACKLISTED)

    assert record.status is PairStatus.BLACKLISTED and record.manual
    assert [p.symbol for p in await d.market.strategies.pairs(bob.id, strategy.id)] == ["BTC/USDT"]


async def test_another_users_strategy_is_not_found_before_anything_else_is_checked_or_hashed() -> None:
    d = desk()
    alice, bob = d.user("alice"), d.user("bob")
    public = (await d.market.strategies.publish(alice.id, StrategyRequest("P", is_public=True))).strategy
    hashed = d.passwords.hashed

    with pytest.raises(NotFound, match=f"no strategy {public.id} of yours"):
        await d.market.strategies.change(bob.id, public.id, StrategyChanges(definition=EMA))
    with pytest.raises(NotFound, match=f"no strategy {public.id} of yours"):
        await d.market.strategies.override_pair(bob, public.id, "NOPE/USDT", PairStatus.BLACKLISTED)
    with pytest.raises(NotFound, match=f"no strategy {public.id} of yours"):
        await d.market.strategies.rotate_passphrase(bob.id, public.id)

    assert d.passwords.hashed == hashed


async def test_a_subscriber_keeps_strategies_private_and_a_provider_or_admin_publishes() -> None:
    d = desk()
    dave = d.user("dave", Role.SUBSCRIBER)

    with pytest.raises(Forbidden, match="subscribers cannot publish"):
        await d.market.strategies.publish(dave.id, StrategyRequest("P", is_public=True))
    private = (await d.market.strategies.publish(dave.id, StrategyRequest("Mine"))).strategy
    with pytest.raises(Forbidden):
        await d.market.strategies.change(dave.id, private.id, StrategyChanges(is_public=True))
    renamed = await d.market.strategies.change(dave.id, private.id, StrategyChanges(name="Still mine"))

    assert not renamed.is_public and renamed.name == "Still mine"
    for role in (Role.PROVIDER, Role.ADMIN):
        user = d.user(f"user-{role.value}", role)
        assert (
            await d.market.strategies.publish(user.id, StrategyRequest("P", is_public=True))
        ).strategy.is_public


async def test_sign_up_makes_a_subscriber() -> None:
    d = desk()
    user = await d.market.logins.sign_up("erin", "quiet-harbor-71")
    assert user.role is Role.SUBSCRIBER and d.members.users[user.id].role is Role.SUBSCRIBER
