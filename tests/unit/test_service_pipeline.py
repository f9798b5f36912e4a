"""Pipeline against the in-memory twin: start-up recovery finishes what a previous process left (routes,
executes, sends stranded orders, looks up unsettled ones), a bus message trades at once, and a signal
whose routing keeps failing is marked failed without holding up the others."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal
from typing import Any

from tests.fakes.memory_store import MemoryStore
from tests.fakes.world import World, world
from tradewire.adapters.bus import InProcessBus
from tradewire.domain.orders import OrderSide, OrderType
from tradewire.domain.partitions import Partitions
from tradewire.domain.records import Decisions, NewOrder, OrderRecord
from tradewire.ports import OrderOutcomeUnknown
from tradewire.services.handover import ACCOUNT_SYNC, ORDERS_SAVED
from tradewire.services.ingest import SIGNAL_RECEIVED
from tradewire.services.pipeline import INTENTS_WAITING, ROUTING_ATTEMPTS_ALLOWED, Pipeline
from tradewire.services.reconcile import Reconciler
from tradewire.services.routing import SignalRouter


def _pipeline(w: World) -> Pipeline:
    router = SignalRouter(w.store, w.clock)
    reconciler = Reconciler(w.store, w.exchanges, w.clock)
    return Pipeline(w.store, router, w.executor(), reconciler, w.bus, w.clock)


async def test_recovery_routes_executes_sends_stranded_orders_and_looks_up_unsettled_ones() -> None:
    w = world([{}, {}, {}])
    # A previous process: signal 1 was routed and one order stored but never sent, one sent with its
    # answer lost, one never decided; signal 2 was stored and never routed.
    signal_id = w.signal()
    work = w.store.pending_work(signal_id)
    orders = [
        NewOrder(i, f"tw{i.intent_id:010d}", OrderSide.BUY, OrderType.MARKET, Decimal(1), None)
        for i in work[:2]
    ]
    stranded, lost_answer = w.store.save_decisions(Decisions(new_orders=orders), w.clock.now())
    w.store.claim_for_submission([lost_answer.order_id], w.clock.now())
    await w.exchange.create_order(lost_answer.request())  # it reached the exchange
    w.signal(key="k2", routed=False)

    await _pipeline(w).recover()

    assert w.column("signals", "status") == ["routed", "routed"]
    assert w.column("orders", "client_order_id", "state") == [
        ("tw0000000001", "filled"),
        ("tw0000000002", "filled"),
        ("tw0000000003", "filled"),
        ("tw0000000004", "filled"),
        ("tw0000000005", "filled"),
        ("tw0000000006", "filled"),
    ]
    # Each sent once: the order whose answer was lost was looked up, not sent again.
    assert sorted(r.client_order_id for r in w.exchange.creates) == [f"tw000000000{n}" for n in range(1, 7)]
    assert (stranded.client_order_id, lost_answer.client_order_id) == ("tw0000000001", "tw0000000002")


async def test_a_signal_on_the_bus_is_routed_and_traded_at_once() -> None:
    w = world([{}, {}])
    _pipeline(w)  # subscribes to the bus
    w.signal(key="k1", routed=False)
    await w.bus.start()

    await w.bus.publish(SIGNAL_RECEIVED, {"signal_id": 1})
    await w.bus.drain()
    await w.bus.stop()

    assert w.column("orders", "state") == ["filled", "filled"]


class _FirstSignalUnroutable(MemoryStore):
    def signal_route_info(self, signal_id: int) -> tuple[int, str, str] | None:
        if signal_id == 1:
            raise RuntimeError("cannot read signal 1")
        return super().signal_route_info(signal_id)


async def test_a_signal_whose_routing_keeps_failing_is_marked_failed_and_the_others_trade() -> None:
    w = world(store=_FirstSignalUnroutable())
    w.signal(key="k1", routed=False)
    w.signal(key="k2", routed=False)
    pipeline = _pipeline(w)

    for _ in range(ROUTING_ATTEMPTS_ALLOWED):
        w.clock.advance(5)
        await pipeline.sweep()

    [broken, fine] = w.rows("signals")
    assert (broken["status"], broken["attempts"]) == ("failed", ROUTING_ATTEMPTS_ALLOWED)
    assert (
        broken["reason"]
        == f"routing failed {ROUTING_ATTEMPTS_ALLOWED} times; last: RuntimeError: cannot read signal 1"
    )
    assert fine["status"] == "routed"
    assert w.column("orders", "state") == ["filled"]


async def test_a_sweep_checks_orders_that_are_due() -> None:
    w = world()
    w.exchange.fail_next.append((OrderOutcomeUnknown("read timeout"), True))
    w.signal()
    await w.executor().execute_pending()
    w.clock.advance(5)

    await _pipeline(w).sweep()

    assert w.column("orders", "state") == ["filled"]


def _stored_orders(w: World, count: int) -> list[OrderRecord]:
    """`count` orders stored NEW by another process and not sent (yet)."""
    work = w.store.pending_work(w.signal())
    new = [
        NewOrder(i, f"tw{i.intent_id:010d}", OrderSide.BUY, OrderType.MARKET, Decimal(1), None)
        for i in work[:count]
    ]
    return w.store.save_decisions(Decisions(new_orders=new), w.clock.now())


async def test_orders_handed_over_on_the_bus_are_sent_at_once_and_only_those() -> None:
    w = world([{}, {}])
    _pipeline(w)
    handed, other = _stored_orders(w, 2)
    await w.bus.start()

    await w.bus.publish(ORDERS_SAVED, {"order_ids": [handed.order_id]})
    await w.bus.drain()
    await w.bus.stop()

    assert [r.client_order_id for r in w.exchange.creates] == [handed.client_order_id]
    assert w.column("orders", "client_order_id", "state") == [
        (handed.client_order_id, "filled"),
        (other.client_order_id, "new"),
    ]


async def test_a_sweep_sends_orders_whose_hand_over_was_lost_but_not_those_just_stored() -> None:
    lost, young = world([{}]), world([{}])
    [old] = _stored_orders(lost, 1)
    [new] = _stored_orders(young, 1)
    lost.clock.advance(5)  # older than the sweep's interval: its message was lost

    await _pipeline(lost).sweep()
    await _pipeline(young).sweep()  # still being sent by whoever stored it

    assert [r.client_order_id for r in lost.exchange.creates] == [old.client_order_id]
    assert young.exchange.creates == []
    assert young.column("orders", "state") == ["new"]
    assert new.client_order_id == old.client_order_id  # the same order in each world


async def test_a_handed_over_account_sync_checks_its_unsettled_orders() -> None:
    w = world()
    w.exchange.fail_next.append((OrderOutcomeUnknown("read timeout"), True))
    w.signal()
    await w.executor().execute_pending()
    _pipeline(w)
    await w.bus.start()

    await w.bus.publish(ACCOUNT_SYNC, {"account_id": w.seeded.account_ids[0]})
    await w.bus.drain()
    await w.bus.stop()

    assert w.column("orders", "state") == ["filled"]


class _Owns:
    """A worker's ownership beside other workers: a fixed set of partitions (leader or not)."""

    def __init__(self, count: int, owned: set[int], leader: bool = False) -> None:
        self.partitions = Partitions(count, frozenset(owned))
        self.leader = leader

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[Partitions | None]:
        yield self.partitions


class _Heard:
    """Wake-ups published to the other workers."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []
        self.handlers: dict[str, Any] = {}

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        self.published.append((topic, dict(message)))

    def subscribe(self, topic: str, handler: Any) -> None:
        self.handlers[topic] = handler


async def test_beside_other_workers_a_worker_trades_only_its_accounts_and_wakes_the_others() -> None:
    w = world([{}, {}, {}, {}])  # paper accounts 1-4
    accounts = sorted(w.column("exchange_accounts", "id"))
    mine = {a % 2 for a in accounts[:1]}
    first_heard, second_heard = _Heard(), _Heard()
    router = SignalRouter(w.store, w.clock)
    Pipeline(  # subscribes to the bus and its wake-ups
        w.store,
        router,
        w.executor(),
        Reconciler(w.store, w.exchanges, w.clock),
        w.bus,
        w.clock,
        ownership=_Owns(2, mine, leader=True),
        wakeups=first_heard,
    )
    Pipeline(
        w.store,
        router,
        w.executor(),
        Reconciler(w.store, w.exchanges, w.clock),
        InProcessBus(),
        w.clock,
        ownership=_Owns(2, {1 - p for p in mine}),
        wakeups=second_heard,
    )
    w.signal(key="k1", routed=False)
    await w.bus.start()
    await w.bus.publish(SIGNAL_RECEIVED, {"signal_id": 1})
    await w.bus.drain()
    await w.bus.stop()

    traded = {o["account_id"] for o in w.rows("orders")}
    assert traded == {a for a in accounts if a % 2 in mine}  # only the first worker's accounts
    assert first_heard.published == [(INTENTS_WAITING, {"signal_id": 1})]
    # The second worker hears the wake-up and trades the rest; nothing is sent twice.
    await second_heard.handlers[INTENTS_WAITING]({"signal_id": 1})
    assert sorted(o["account_id"] for o in w.rows("orders")) == accounts
    assert sorted(r.client_order_id for r in w.exchange.creates) == sorted(
        w.column("orders", "client_order_id")
    )
