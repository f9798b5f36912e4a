"""SignalRouter against the in-memory store: one intent per matching active subscription, once; a
signal stored before its ticker resolved is resolved when routed, or reaches the subscribers without
a pair filter as 'unresolved'; an unreadable pair list fails only its own subscription."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.fakes.memory_exchange import MemoryExchange, Symbols
from tests.fakes.world import World, world
from tradewire.services.routing import SignalRouter


def _stored(w: World, symbol: str = "BTC/USDT", price: Decimal | None = None) -> int:
    """A signal stored by ingest, not routed yet."""
    return w.signal(routed=False, symbol=symbol, price=price)


async def test_a_signal_reaches_each_active_subscription_whose_pairs_match_once() -> None:
    w = world([{}, {"status": "PAUSED"}, {"pairs": ["ETH/USDT"]}, {"pairs": ["BTC/USDT"]}])
    signal_id = _stored(w, price=Decimal(100))
    router = SignalRouter(w.store, w.clock)

    first = await router.route(signal_id)
    again = await router.route(signal_id)

    assert (first, again) == (2, 2)
    assert w.column("execution_intents", "subscription_id", "status") == [(1, "created"), (4, "created")]
    assert w.column("signals", "status", "routed_at") == [("routed", w.clock.now())]
    assert w.store.unrouted_signal_ids() == []


async def test_a_signal_without_a_price_is_counted_in_the_track_record_at_the_market_price() -> None:
    w = world()
    router = SignalRouter(w.store, w.clock, market_price={"BTC/USDT": Decimal(250)}.get)

    await router.route(_stored(w))

    [record] = w.store.tables.strategy_pairs.values()
    assert (record["symbol"], record["open_entry"]) == ("BTC/USDT", Decimal(250))


LIVE_AND_PAPER = [{"account": {"exchange": "binance", "mode": "live"}}, {}]


class _Hanging(MemoryExchange):
    async def price(self, symbol: str) -> Decimal | None:
        await asyncio.sleep(3600)
        raise AssertionError("never reached")


class _Broken(MemoryExchange):
    async def price(self, symbol: str) -> Decimal | None:
        raise KeyError("a parser's surprise")


async def test_a_strategy_with_live_subscribers_counts_a_price_less_signal_at_their_venue_s_price() -> None:
    w = world(LIVE_AND_PAPER)
    w.exchanges.by_account[w.seeded.account_ids[0]] = MemoryExchange(prices={"BTC/USDT": Decimal(310)})
    router = SignalRouter(
        w.store, w.clock, market_price={"BTC/USDT": Decimal(250)}.get, exchanges=w.exchanges
    )

    assert await router.route(_stored(w)) == 2

    [record] = w.store.tables.strategy_pairs.values()
    assert record["open_entry"] == Decimal(310)


@pytest.mark.parametrize("venue", [_Hanging, _Broken])
async def test_a_live_price_that_hangs_or_fails_never_holds_up_routing(venue: type[MemoryExchange]) -> None:
    """The track record's price is the only thing waiting on the venue: every subscriber still gets its
    intent, within the bound, and the record falls back on the paper market's price."""
    w = world(LIVE_AND_PAPER)
    w.exchanges.by_account[w.seeded.account_ids[0]] = venue()
    router = SignalRouter(
        w.store,
        w.clock,
        market_price={"BTC/USDT": Decimal(250)}.get,
        exchanges=w.exchanges,
        track_price_timeout_s=0.05,
    )

    assert await asyncio.wait_for(router.route(_stored(w)), 5) == 2

    assert len(w.rows("execution_intents")) == 2
    [record] = w.store.tables.strategy_pairs.values()
    assert record["open_entry"] == Decimal(250)


async def test_a_ticker_no_loaded_list_had_is_resolved_when_routed() -> None:
    w = world([{}, {"pairs": ["BTC/USDT"]}])
    symbols = Symbols(listed=(), after_loading=("BTC/USDT",))
    signal_id = _stored(w, symbol="")

    routed = await SignalRouter(w.store, w.clock, symbols=symbols).route(signal_id)

    assert routed == 2 and symbols.loads == 1
    assert w.column("signals", "symbol", "status") == [("BTC/USDT", "routed")]


async def test_a_ticker_no_venue_lists_reaches_only_subscribers_without_a_pair_filter_once() -> None:
    w = world([{}, {"pairs": ["BTC/USDT"]}])
    symbols = Symbols(listed=(), after_loading=())
    signal_id = _stored(w, symbol="")
    router = SignalRouter(w.store, w.clock, symbols=symbols)

    routed = await router.route(signal_id)
    again = await router.route(signal_id)

    assert (routed, again) == (1, 0)
    assert w.column("signals", "symbol", "status") == [("", "unresolved")]
    assert w.column("execution_intents", "subscription_id") == [1]
    assert w.store.tables.strategy_pairs == {}  # an unresolved signal is not counted


async def test_a_subscription_whose_pair_list_cannot_be_read_gets_nothing_and_the_others_do() -> None:
    w = world([{"pairs": 42}, {}])

    routed = await SignalRouter(w.store, w.clock).route(_stored(w))

    assert routed == 1
    assert w.column("execution_intents", "subscription_id") == [2]


async def test_an_unknown_signal_routes_nowhere() -> None:
    w = world()

    assert await SignalRouter(w.store, w.clock).route(99) == 0

    assert w.rows("execution_intents") == []
