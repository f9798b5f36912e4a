"""SignalRouter against the in-memory store: one intent per matching active subscription, once; a
signal stored before its ticker resolved is resolved when routed, or reaches the subscribers without
a pair filter as 'unresolved'; an unreadable pair list fails only its own subscription."""

from __future__ import annotations

from decimal import Decimal

from tests.fakes.memory_exchange import Symbols
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
