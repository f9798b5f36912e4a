"""The platform's own orders on a position (exits, DCA tranches) are placed one attempt at a time: a
next attempt waits while an earlier one may still fill (unsettled, or canceled or concluded lost and
still in its window of late checks), and a signal's sell waits for an automated exit the same way.
A canceled exit that fills afterwards must never leave the account sold twice."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from tests.integration.test_trading_state_orders import _open_position
from tests.support import now, reported
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.tables import orders, positions, subscriptions
from tradewire.domain.orders import (
    LATE_FILL_CHECKS_S,
    ExchangeOrder,
    OrderSide,
    OrderType,
    RejectionKind,
    Trade,
)
from tradewire.domain.records import (
    AutoOrder,
    Decisions,
    NewOrder,
    NewSignal,
    OrderOutcome,
    OrderRecord,
    Routing,
)
from tradewire.domain.signals import SignalAction


def _report(store: SqlStore, order: OrderRecord, status: str, filled: str = "0") -> None:
    done = Decimal(filled)
    view = ExchangeOrder(
        f"x-{order.client_order_id}", order.client_order_id, "BTC/USDT", order.side, OrderType.MARKET,
        status, order.amount, done, Decimal(100) if done else None, None,
    )  # fmt: skip
    store.record_outcomes([OrderOutcome(order, exchange_order=view)], now())


def _lost(store: SqlStore, order: OrderRecord) -> None:
    outcome = OrderOutcome(order, rejected_reason="never reached the exchange", rejection=RejectionKind.LOST)
    store.record_outcomes([outcome], now())


def _sent(store: SqlStore, auto: AutoOrder) -> OrderRecord:
    [record] = store.save_auto_orders([auto], now())
    assert store.claim_for_submission([record.order_id], now()) == {record.order_id}
    return record


def _close_window(
    store: SqlStore, engine: Engine, order: OrderRecord, status: str, filled: str = "0"
) -> None:
    """The late checks of a final order find nothing new, until its window is over."""
    for _ in LATE_FILL_CHECKS_S:
        _report(store, order, status, filled)
    query = select(orders.c.next_check_at).where(orders.c.id == order.order_id)
    with engine.connect() as conn:
        assert conn.execute(query).scalar() is None


def _end(store: SqlStore, order: OrderRecord, how: str) -> str:
    """End a sent attempt without a fill: canceled by hand on the exchange, or concluded lost."""
    if how == "canceled":
        _report(store, order, "canceled")
        return "canceled"
    _lost(store, order)
    return "rejected"


def _position(engine: Engine) -> tuple[str, Decimal]:
    with engine.connect() as conn:
        row = conn.execute(select(positions.c.status, positions.c.amount)).one()
    return row.status, row.amount


@pytest.mark.parametrize("how", ["canceled", "lost"])
@pytest.mark.parametrize("kind", ["exit", "tranche"])
def test_no_next_attempt_while_an_ended_one_may_still_fill_then_the_next_one_at_once(
    engine: Engine, how: str, kind: str
) -> None:
    store, stop, tranche = _open_position(engine)
    auto = stop if kind == "exit" else tranche
    first = _sent(store, auto)
    final = _end(store, first, how)

    assert store.save_auto_orders([auto], now()) == []
    pid = auto.position_id
    assert store.positions_exiting([pid]) == {pid} and pid in store.positions_exiting()

    _close_window(store, engine, first, final)
    assert store.positions_exiting([pid]) == set() and pid not in store.positions_exiting()
    [second] = store.save_auto_orders([auto], now())
    assert second.client_order_id.endswith("a1") and second.client_order_id[:2] == first.client_order_id[:2]


@pytest.mark.parametrize("how", ["canceled", "lost"])
def test_a_stop_loss_does_not_wait_for_a_dca_buy_that_may_still_fill_and_its_late_fill_is_sold_at_once(
    engine: Engine, how: str
) -> None:
    """Before, the stop loss waited out the buy's late checks (about 72 s) while the price fell."""
    store, stop, tranche = _open_position(engine)
    buy = _sent(store, tranche)
    _end(store, buy, how)
    whole = replace(stop, amount=Decimal("0.002"))

    [sale] = store.save_auto_orders([whole], now())  # at once, for what the position holds
    assert store.save_auto_orders([tranche], now()) == []  # but no DCA buy while anything may fill
    store.claim_for_submission([sale.order_id], now())
    trade = Trade("t-s", Decimal("0.002"), Decimal(90), Decimal(0), "USDT", 1_700_000_001_000)
    sold = reported("closed", "0.002", "0.002", "90", client_order_id=sale.client_order_id, trades=(trade,))
    store.record_outcomes([OrderOutcome(sale, exchange_order=sold)], now())
    assert _position(engine) == ("closed", Decimal(0))

    late = Trade("t-b", Decimal("0.001"), Decimal(91), Decimal(0), "USDT", 1_700_000_002_000)
    status = "canceled" if how == "canceled" else "closed"
    found = reported(status, "0.001", "0.001", "91", client_order_id=buy.client_order_id, trades=(late,))
    store.record_outcomes([OrderOutcome(buy, exchange_order=found)], now())

    with engine.connect() as conn:
        rows = conn.execute(select(positions.c.status, positions.c.amount, positions.c.deadline_at)).all()
    assert [(r.status, r.amount) for r in rows] == [("closed", Decimal(0)), ("open", Decimal("0.001"))]
    assert rows[1].deadline_at is not None and rows[1].deadline_at <= now()  # the monitor sells it now


def test_a_canceled_exit_that_fills_late_closes_the_position_and_no_second_exit_is_placed(
    engine: Engine,
) -> None:
    store, stop, _ = _open_position(engine)
    stop = replace(stop, amount=Decimal("0.002"))  # the whole position
    first = _sent(store, stop)
    _report(store, first, "canceled")
    assert store.save_auto_orders([stop], now()) == []  # the window is open

    _report(store, first, "canceled", filled="0.002")  # the fill that raced the cancel
    assert _position(engine) == ("closed", Decimal(0))
    _close_window(store, engine, first, "canceled", filled="0.002")

    assert store.save_auto_orders([stop], now()) == []  # the position is closed: nothing to sell
    with engine.connect() as conn:
        sells = conn.execute(select(orders.c.filled).where(orders.c.side == OrderSide.SELL.value)).scalars()
        assert list(sells) == [Decimal("0.002")]  # sold once


def test_the_next_exit_sells_only_what_an_earlier_partly_filled_attempt_left(engine: Engine) -> None:
    store, stop, _ = _open_position(engine)
    stop = replace(stop, amount=Decimal("0.002"))
    first = _sent(store, stop)
    _report(store, first, "canceled")
    _report(store, first, "canceled", filled="0.0005")
    _close_window(store, engine, first, "canceled", filled="0.0005")

    [second] = store.save_auto_orders([stop], now())  # the monitor's copy still says 0.002

    assert second.amount == Decimal("0.0015") == _position(engine)[1]


@pytest.mark.parametrize("how", ["canceled", "lost"])
def test_a_signal_sell_waits_while_an_automated_exit_may_still_fill(engine: Engine, how: str) -> None:
    store, stop, _ = _open_position(engine)
    key = (stop.subscription_id, stop.symbol)
    first = _sent(store, stop)
    assert store.exits_in_flight([key]) == {key}
    final = _end(store, first, how)

    assert store.exits_in_flight([key]) == {key}
    _close_window(store, engine, first, final)
    assert store.exits_in_flight([key]) == set()


def test_no_automated_exit_while_a_signal_s_sell_of_the_position_may_still_fill(engine: Engine) -> None:
    store, stop, _ = _open_position(engine)
    with engine.connect() as conn:
        strategy_id = conn.execute(select(subscriptions.c.strategy_id)).scalar_one()
    signal = NewSignal(
        strategy_id, "sell", SignalAction.SELL, "BTCUSDT", "BTC/USDT", None, None, None, {}, now()
    )
    signal_id, _ = store.insert_signal(signal)
    store.create_intents(Routing(signal_id, store.active_targets(strategy_id)), now())
    [work] = store.pending_work(signal_id)
    order = NewOrder(work, "tw-2", OrderSide.SELL, OrderType.MARKET, Decimal("0.002"), None)
    [sell] = store.save_decisions(Decisions(new_orders=[order]), now())
    store.claim_for_submission([sell.order_id], now())
    pid = stop.position_id

    assert store.save_auto_orders([stop], now()) == []  # the signal's sell is in flight
    assert store.positions_exiting([pid]) == {pid} and pid in store.positions_exiting()
    _report(store, sell, "canceled")
    assert store.save_auto_orders([stop], now()) == []  # it may still fill
    _close_window(store, engine, sell, "canceled")

    assert store.positions_exiting([pid]) == set()
    assert [o.position_id for o in store.save_auto_orders([stop], now())] == [pid]
