"""Cache invalidations shared by split processes, without Redis: a write that forgets a kept value tells
the peers (the other processes) the cache and the key, and only a write does (what a peer says is
forgotten here without being told again); each marketplace write that forgets something says what;
and the Redis adapter's messages carry exactly the entries to forget, coalesced and bounded, and are
applied on the other side to those entries only (its own, malformed or foreign ones ignored)."""

from __future__ import annotations

import json
from collections.abc import Hashable

import pytest

from tests.fakes.memory_members import Desk, desk
from tradewire.adapters.cache_peers import MAX_BODY, MAX_KEYS, RedisCachePeers
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import StrategyChanges, SubscriptionChanges
from tradewire.domain.track_record import PairStatus
from tradewire.services.caches import TtlCache
from tradewire.services.members.accounts import AccountRequest
from tradewire.services.members.strategies import StrategyRequest
from tradewire.services.members.subscriptions import SubscriptionRequest


class Told:
    """CachePeers recording what they were told: (cache, key), or (cache, "*") for everything."""

    def __init__(self) -> None:
        self.said: list[tuple[str, Hashable]] = []

    def forget(self, cache: str, key: Hashable) -> None:
        self.said.append((cache, key))

    def forget_all(self, cache: str) -> None:
        self.said.append((cache, "*"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _filled(*keys: str) -> TtlCache[str, str]:
    cache: TtlCache[str, str] = TtlCache("c", ttl_s=60, timer=Clock())
    for key in keys:
        cache.get(key, lambda key=key: f"old {key}")  # type: ignore[misc]
    return cache


def test_a_write_that_forgets_a_value_tells_the_peers_which_one() -> None:
    cache, told = _filled("a", "b"), Told()
    cache.share_with(told)

    cache.invalidate("a")
    cache.clear()

    assert told.said == [("c", "a"), ("c", "*")]
    assert cache.get("b", lambda: "new b") == "new b"


def test_what_a_peer_said_is_forgotten_here_only_and_not_told_again() -> None:
    cache, told = _filled("a", "b"), Told()
    cache.share_with(told)

    cache.invalidate_here("a")
    assert cache.get("a", lambda: "new a") == "new a" and cache.get("b", lambda: "new b") == "old b"
    cache.clear_here()
    assert cache.get("b", lambda: "newer b") == "newer b"
    assert told.said == []


def test_a_cache_without_peers_forgets_as_before() -> None:
    cache = _filled("a")
    cache.invalidate("a")
    cache.clear()
    assert cache.get("a", lambda: "new a") == "new a"


async def _desk_told() -> tuple[Desk, Told]:
    d = desk()
    told = Told()
    d.market.caches.public.share_with(told)
    d.market.caches.track_records.share_with(told)
    return d, told


async def test_each_marketplace_write_tells_the_peers_what_it_changed() -> None:
    d, told = await _desk_told()
    alice, bob = d.user("alice"), d.user("bob")
    strategies, subscriptions = d.market.strategies, d.market.subscriptions

    alpha = (await strategies.publish(alice.id, StrategyRequest("Alpha", is_public=True))).strategy
    assert told.said == [("marketplace", "*")]
    await strategies.change(alice.id, alpha.id, StrategyChanges(name="Alpha 2"))
    await strategies.override_pair(alice, alpha.id, "BTC/USDT", PairStatus.BLACKLISTED)
    assert told.said[1:] == [("marketplace", "*"), ("track_records", alpha.id)]

    paper = await d.market.accounts.open(bob.id, AccountRequest("paper"))
    subscription = await subscriptions.subscribe(bob.id, SubscriptionRequest(alpha.id, paper.id))
    await subscriptions.change(bob, subscription.id, SubscriptionChanges(status=SubscriptionStatus.PAUSED))
    assert told.said[3:] == [("marketplace", "*"), ("marketplace", "*")]

    # Changes that leave the active subscriber counts as they were tell nothing (the emergency stop
    # halts trading; the subscription stays ACTIVE), nor do reads or a passphrase rotated.
    await subscriptions.change(bob, subscription.id, SubscriptionChanges(pairs=["BTC/USDT"]))
    await subscriptions.change(bob, subscription.id, SubscriptionChanges(status=SubscriptionStatus.ACTIVE))
    assert len(told.said) == 6
    assert await subscriptions.halt_all(bob) == [subscription.id]
    await strategies.rotate_passphrase(alice.id, alpha.id)
    await strategies.visible(bob.id)
    await strategies.pairs(bob.id, alpha.id, "bob")
    assert told.said[5:] == [("marketplace", "*")]


# -- the Redis adapter's messages, without Redis -------------------------------------------------


def _peers(*caches: TtlCache[object, object]) -> RedisCachePeers:
    peers = RedisCachePeers("redis://127.0.0.1:1/0", "test:caches")
    peers.share(*caches)
    return peers


def test_the_keys_forgotten_go_out_as_one_message_per_cache_and_are_forgotten_on_the_other_side() -> None:
    here = TtlCache[object, object]("lookups", 60, timer=Clock())
    there = TtlCache[object, object]("lookups", 60, timer=Clock())
    board_here = TtlCache[object, object]("board", 60, timer=Clock())
    board_there = TtlCache[object, object]("board", 60, timer=Clock())
    sender, receiver = _peers(here, board_here), _peers(there, board_there)
    for key in [(7, None, "ETH/BTC"), (8, 3, None), (9, None, "BTC/USDT")]:
        there.get(key, lambda: "kept")
    board_there.get(None, lambda: "kept")

    here.invalidate((7, None, "ETH/BTC"))
    here.invalidate((8, 3, None))
    here.invalidate((7, None, "ETH/BTC"))  # twice: once in the message
    board_here.clear()
    bodies = sender._bodies()

    assert [json.loads(b)["c"] for b in bodies] == ["lookups", "board"]
    assert json.loads(bodies[0])["k"] == [[7, None, "ETH/BTC"], [8, 3, None]]
    assert "k" not in json.loads(bodies[1])
    assert sender._bodies() == []  # sent once
    for body in bodies:
        receiver._apply(body.encode())
    assert receiver.heard == 2
    assert there.get((7, None, "ETH/BTC"), lambda: "new") == "new"
    assert there.get((8, 3, None), lambda: "new") == "new"
    assert there.get((9, None, "BTC/USDT"), lambda: "new") == "kept"
    assert board_there.get(None, lambda: "new") == "new"


def test_many_keys_or_keys_that_cannot_be_sent_become_forget_it_all() -> None:
    many = TtlCache[object, object]("many", 60)
    odd = TtlCache[object, object]("odd", 60)
    sender = _peers(many, odd)

    for n in range(MAX_KEYS + 50):
        many.invalidate(n)
    odd.invalidate(frozenset({1}))  # no JSON for it
    odd.invalidate(2)  # after "all", a key adds nothing

    bodies = [json.loads(b) for b in sender._bodies()]
    assert [(b["c"], "k" in b) for b in bodies] == [("many", False), ("odd", False)]
    assert all(len(json.dumps(b)) < MAX_BODY for b in bodies)


def test_a_process_ignores_its_own_messages_and_anything_it_does_not_know() -> None:
    kept = TtlCache[object, object]("kept", 60, timer=Clock())
    peers = _peers(kept)
    kept.get(1, lambda: "kept")
    kept.invalidate_here(99)  # nothing kept under 99: the counts below are unchanged by it
    kept.invalidate(5)
    [own] = peers._bodies()
    foreign = {"o": "someone-else"}

    for data in [
        own.encode(),  # ours: already forgotten here
        json.dumps({**foreign, "c": "unknown"}).encode(),
        json.dumps({**foreign, "c": "kept", "k": "not a list"}).encode(),
        json.dumps({**foreign, "c": "kept", "k": [1] * (MAX_KEYS + 1)}).encode(),
        json.dumps({**foreign, "c": "kept", "k": [1], "pad": "x" * MAX_BODY}).encode(),
        b"\xff not json",
        json.dumps([1, 2]).encode(),
        json.dumps({**foreign, "c": "kept", "k": [{"a": 1}, [[1]]]}).encode(),  # unhashable, nested
    ]:
        peers._apply(data)

    assert peers.heard == 1  # only the last, which names no key we keep
    assert kept.get(1, lambda: "new") == "kept"


def test_a_write_before_the_peers_start_is_sent_when_they_do() -> None:
    cache = TtlCache[object, object]("c", 60)
    peers = _peers(cache)
    cache.clear()  # no loop yet: queued, not lost
    assert [json.loads(b)["c"] for b in peers._bodies()] == ["c"]


def test_two_caches_of_one_name_cannot_share_a_channel() -> None:
    peers = _peers(TtlCache[object, object]("c", 60))
    with pytest.raises(ValueError, match="two caches named 'c'"):
        peers.share(TtlCache[object, object]("c", 60))
