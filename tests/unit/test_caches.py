"""The short-lived caches of hot reads: hits and misses counted, values kept for their TTL only (a
clock injected, no sleeps), forgotten on invalidation, and a load that raced an invalidation not kept.
The marketplace's caches over the in-memory store: a write elsewhere shows after the TTL, a user's own
strategies are always read fresh, and one user's private strategy never reaches another."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.fakes.memory_members import Desk, desk
from tradewire.domain.members import NotFound, StrategyChanges
from tradewire.domain.track_record import PairStatus
from tradewire.services.caches import TtlCache
from tradewire.services.members.strategies import MarketplaceCaches, Strategies, StrategyRequest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_loaded_once_then_served_until_its_ttl_ends() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache("prices", ttl_s=5, timer=clock)
    loads: list[str] = []

    def load(key: str, value: int) -> int:
        loads.append(key)
        return value

    assert cache.get("a", lambda: load("a", 1)) == 1
    assert cache.get("a", lambda: load("a", 2)) == 1
    clock.now += 4.9
    assert cache.get("a", lambda: load("a", 3)) == 1
    assert cache.get("b", lambda: load("b", 10)) == 10
    clock.now += 0.2  # "a" is 5.1 s old, "b" 0.2 s
    assert cache.get("a", lambda: load("a", 4)) == 4
    assert cache.get("b", lambda: load("b", 11)) == 10

    assert loads == ["a", "b", "a"]
    assert (cache.hits, cache.misses) == (3, 3)


def test_invalidation_forgets_one_key_or_all() -> None:
    cache: TtlCache[str, int] = TtlCache("c", ttl_s=60, timer=Clock())
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)

    cache.invalidate("a")
    assert cache.get("a", lambda: 3) == 3 and cache.get("b", lambda: 4) == 2
    cache.clear()
    assert cache.get("a", lambda: 5) == 5 and cache.get("b", lambda: 6) == 6
    assert (cache.hits, cache.misses) == (1, 5)


def test_a_ttl_of_zero_keeps_nothing_and_counts_every_read_a_miss() -> None:
    cache: TtlCache[str, int] = TtlCache("off", ttl_s=0)
    values = iter(range(3))

    assert [cache.get("a", lambda: next(values)) for _ in range(3)] == [0, 1, 2]
    assert (cache.hits, cache.misses) == (0, 3) and not cache.keeps


async def test_a_load_that_raced_an_invalidation_is_returned_but_not_kept() -> None:
    cache: TtlCache[str, str] = TtlCache("c", ttl_s=60, timer=Clock())
    reading = asyncio.Event()
    written = asyncio.Event()

    async def slow_read() -> str:
        reading.set()
        await written.wait()
        return "read before the write"

    racing = asyncio.create_task(cache.get_async("k", slow_read))
    await reading.wait()
    cache.invalidate("k")  # the write committed while the read was on its way
    written.set()

    async def fresh() -> str:
        return "after the write"

    assert await racing == "read before the write"
    assert await cache.get_async("k", fresh) == "after the write"


def _cached(d: Desk, clock: Clock, ttl_s: float) -> tuple[Strategies, MarketplaceCaches]:
    """The desk's strategies with caches on `clock`."""
    caches = MarketplaceCaches(
        TtlCache("marketplace", ttl_s, maxsize=1, timer=clock), TtlCache("track_records", ttl_s, timer=clock)
    )
    return replace(d.market.strategies, caches=caches), caches


async def test_the_public_list_is_kept_for_its_ttl_while_a_users_own_strategies_are_read_fresh() -> None:
    clock = Clock()
    d = desk()
    strategies, caches = _cached(d, clock, 5)
    alice, bob = d.user("alice"), d.user("bob")
    alpha = (await strategies.publish(alice.id, StrategyRequest("Alpha", is_public=True))).strategy
    assert [s.name for s in await strategies.visible(bob.id)] == ["Alpha"]

    # A change written by another process (straight into the store): Bob sees it once the TTL ends,
    # Alice, its owner, at once.
    d.members.change_strategy(alice.id, alpha.id, StrategyChanges(name="Alpha 2"))
    assert [s.name for s in await strategies.visible(bob.id)] == ["Alpha"]
    assert [(s.name, s.is_owner) for s in await strategies.visible(alice.id)] == [("Alpha 2", True)]
    clock.now += 5.1
    assert [(s.name, s.is_owner) for s in await strategies.visible(bob.id)] == [("Alpha 2", False)]
    assert (caches.public.hits, caches.public.misses) == (2, 2)


async def test_a_private_strategy_and_its_pairs_never_reach_another_user_through_the_cache() -> None:
    d = desk()
    strategies, _ = _cached(d, Clock(), 60)
    alice, bob = d.user("alice"), d.user("bob")
    public = (await strategies.publish(alice.id, StrategyRequest("Open", is_public=True))).strategy
    private = (await strategies.publish(alice.id, StrategyRequest("Mine"))).strategy

    mine = await strategies.visible(alice.id)  # Alice reads first: whatever is kept, she warmed it
    await strategies.pairs(alice.id, private.id)
    theirs = await strategies.visible(bob.id)

    assert [(s.name, s.is_owner) for s in mine] == [("Open", True), ("Mine", True)]
    assert [(s.id, s.is_owner) for s in theirs] == [(public.id, False)]
    with pytest.raises(NotFound):
        await strategies.pairs(bob.id, private.id)
    assert await strategies.visible(alice.id) == mine  # the kept public list did not change hers


async def test_a_public_strategys_owner_reads_its_pairs_now_while_others_get_them_as_kept() -> None:
    clock = Clock()
    d = desk()
    strategies, _ = _cached(d, clock, 60)
    alice, bob = d.user("alice"), d.user("bob")
    alpha = (await strategies.publish(alice.id, StrategyRequest("Alpha", is_public=True))).strategy
    assert await strategies.pairs(bob.id, alpha.id, "bob") == []  # kept for everyone but Alice

    # A trade settled by the worker changes the record (straight into the store, no invalidation).
    d.members.override_pair(
        alice.id, alpha.id, "BTC/USDT", PairStatus.BLACKLISTED, "alice", datetime.now(UTC)
    )

    assert [p.symbol for p in await strategies.pairs(alice.id, alpha.id, "alice")] == ["BTC/USDT"]
    assert await strategies.pairs(bob.id, alpha.id, "bob") == []
    clock.now += 60.1
    assert [p.symbol for p in await strategies.pairs(bob.id, alpha.id, "bob")] == ["BTC/USDT"]
