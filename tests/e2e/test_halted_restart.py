"""Orders stored before their subscription was halted are not sent when a restart resumes them.

The trading state is read when an order is claimed for sending, in the same transaction: HALTED
sends nothing, REDUCING sends exits but no entry. Through the real ccxt client against the fake
exchange, across a restart, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.e2e.test_live_exchange import Live, _start
from tests.fakes.exchange import FakeExchange
from tests.support import now
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.tables import execution_intents, orders, positions
from tradewire.domain.client_ids import intent_client_order_id
from tradewire.domain.orders import OrderSide, OrderType
from tradewire.domain.records import Decisions, NewOrder, NewSignal, Routing
from tradewire.domain.signals import SignalAction

pytestmark = pytest.mark.slow


def _stored_not_sent(live: Live, side: OrderSide, amount: str) -> str:
    """An order stored NEW for a fresh signal and not sent, as a crash right after storing leaves it."""
    store = live.runtime.store
    info = store.webhook_strategy(live.slug)
    assert info is not None
    action = SignalAction.BUY if side is OrderSide.BUY else SignalAction.SELL
    signal = NewSignal(
        info[0], f"stored-{time.monotonic_ns()}", action, "BTCUSDT", "BTC/USDT", None, None, None, {}, now()
    )
    signal_id, _ = store.insert_signal(signal)
    store.create_intents(Routing(signal_id, store.active_targets(info[0])), now())
    [work] = store.pending_work(signal_id)
    coid = intent_client_order_id(work.intent_id)
    order = NewOrder(work, coid, side, OrderType.MARKET, Decimal(amount), None)
    store.save_decisions(Decisions(new_orders=[order]), now())
    return coid


@pytest.mark.parametrize(
    ("trading_state", "sent"),
    [("HALTED", set()), ("REDUCING", {"sell"})],
)
async def test_orders_stored_before_the_trading_state_changed_follow_it_on_restart(
    engine: Engine, tmp_path: Path, fake: FakeExchange, trading_state: str, sent: set[str]
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    live = await _start(tmp_path, fake, database_url=url, key=(key := generate_key()))
    try:
        await live.alert("buy")  # a position to exit: 0.002 BTC
        await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"])
        coids = {
            "buy": _stored_not_sent(live, OrderSide.BUY, "0.001"),
            "sell": _stored_not_sent(live, OrderSide.SELL, "0.002"),
        }
        [subscription_id] = {o.subscription_id for o in live.rows(orders)}
        [user_id] = {o.user_id for o in live.rows(orders)}
        # The owner changes the trading state (what PATCH /subscriptions/{id} does) while they wait.
        live.runtime.members.update_subscription(user_id, subscription_id, {"trading_state": trading_state})
    finally:
        await live.runtime.stop()
    assert [o.state for o in live.rows(orders)] == ["filled", "new", "new"]

    restarted = await _start(tmp_path, fake, database_url=url, key=key, seed=False)
    try:
        await restarted.until(
            lambda: all(o.state not in ("new", "submitted") for o in restarted.rows(orders))
        )
    finally:
        await restarted.runtime.stop()

    by_side = {o.client_order_id: o for o in restarted.rows(orders)}
    intents = {i.id: i for i in restarted.rows(execution_intents)}
    for side, coid in coids.items():
        order = by_side[coid]
        if side in sent:
            assert fake.creates(coid) == 1 and order.state == "filled"
            continue
        assert fake.creates(coid) == 0  # nothing reached the exchange
        rule = "no orders at all" if trading_state == "HALTED" else "exits only, no entries"
        why = f"not sent: subscription {trading_state} ({rule})"
        assert (order.state, order.rejection, order.reason, order.next_check_at) == (
            "rejected",
            "not_sent",
            why,
            None,
        )
        assert (intents[order.intent_id].status, intents[order.intent_id].reason) == ("failed", why)
    [position] = restarted.rows(positions)
    assert position.status == ("closed" if "sell" in sent else "open")
    assert len(fake.orders) == 1 + len(sent)
