"""The store on SQLite and PostgreSQL: exact money, idempotent writes, one order per intent."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from tests.support import first_subscriber_columns, now, reported, seed_marketplace
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.tables import execution_intents, fills, orders, positions, signals
from tradewire.domain.execution import LogStatus, Sizing, SizingMode
from tradewire.domain.orders import ExchangeOrder, OrderSide, OrderState, OrderType, RejectionKind, Trade
from tradewire.domain.records import (
    Decisions,
    NewOrder,
    NewSignal,
    OrderOutcome,
    OrderRecord,
    Rejection,
    Routing,
    SubscriptionTarget,
)
from tradewire.domain.signals import SignalAction


def _signal(strategy_id: int, key: str = "k1") -> NewSignal:
    return NewSignal(
        strategy_id=strategy_id,
        dedup_key=key,
        action=SignalAction.BUY,
        ticker="BTCUSDT",
        symbol="BTC/USDT",
        contracts=Decimal("0.001234567"),
        price=Decimal("96388.12"),
        signal_time=None,
        details={"ticker": "BTCUSDT"},
        received_at=now(),
    )


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _routed(engine: Engine, subscribers: int = 3) -> tuple[SqlStore, int, list[SubscriptionTarget]]:
    seeded = seed_marketplace(engine, [{} for _ in range(subscribers)])
    store = SqlStore(engine)
    signal_id, _ = store.insert_signal(_signal(seeded.strategy_id))
    targets = store.active_targets(seeded.strategy_id)
    store.create_intents(Routing(signal_id, targets), now())
    return store, signal_id, targets


def _filled(amount: str, price: str, trade_id: str = "t-1", status: str = "closed") -> ExchangeOrder:
    trade = Trade(trade_id, Decimal(amount), Decimal(price), Decimal("0.01"), "USDT", 1_700_000_000_000)
    return reported(status, amount, amount, price, trades=(trade,))


def _ordered(store: SqlStore, signal_id: int) -> list:  # type: ignore[type-arg]
    work = store.pending_work(signal_id)
    new_orders = [
        NewOrder(w, f"tw-{w.intent_id:010d}", OrderSide.BUY, OrderType.MARKET, Decimal("0.001"), None)
        for w in work
    ]
    return store.save_decisions(Decisions(new_orders=new_orders), now())


def test_a_signal_delivered_twice_is_stored_once(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}])
    store = SqlStore(engine)

    first = store.insert_signal(_signal(seeded.strategy_id))
    second = store.insert_signal(_signal(seeded.strategy_id))

    assert first == (first[0], True)
    assert second == (first[0], False)
    assert _count(engine, signals) == 1


def test_money_round_trips_exactly(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}])
    store = SqlStore(engine)

    signal_id, _ = store.insert_signal(_signal(seeded.strategy_id))

    with engine.connect() as conn:
        row = conn.execute(
            select(signals.c.contracts, signals.c.price).where(signals.c.id == signal_id)
        ).one()
    assert row.contracts == Decimal("0.001234567")
    assert row.price == Decimal("96388.12")


def test_routing_twice_creates_one_intent_per_subscription(engine: Engine) -> None:
    store, signal_id, targets = _routed(engine)

    store.create_intents(Routing(signal_id, targets), now())

    assert _count(engine, execution_intents) == len(targets) == 3
    assert store.unrouted_signal_ids() == []


def test_an_intent_gets_at_most_one_order_and_one_claim(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine)
    work = store.pending_work(signal_id)
    records = _ordered(store, signal_id)

    replay = [
        NewOrder(w, f"other-{w.intent_id}", OrderSide.BUY, OrderType.MARKET, Decimal(1), None) for w in work
    ]
    again = store.save_decisions(Decisions(new_orders=replay), now())
    first_claim = store.claim_for_submission([r.order_id for r in records], now())
    second_claim = store.claim_for_submission([r.order_id for r in records], now())

    assert len(records) == 3
    assert {r.client_order_id for r in again} == {r.client_order_id for r in records}
    assert _count(engine, orders) == 3
    assert first_claim == {r.order_id for r in records}
    assert second_claim == set()
    assert store.pending_work(signal_id) == []


def test_the_same_exchange_answer_recorded_twice_counts_once(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=1)
    [record] = _ordered(store, signal_id)
    store.claim_for_submission([record.order_id], now())
    outcome = OrderOutcome(record, exchange_order=_filled("0.001", "96388.12"))

    store.record_outcomes([outcome], now())
    store.record_outcomes([outcome], now())

    assert _count(engine, fills) == 1
    with engine.connect() as conn:
        position = conn.execute(select(positions)).one()
        order = conn.execute(select(orders)).one()
    assert position.amount == Decimal("0.001")
    assert position.avg_entry == Decimal("96388.12")
    assert order.state == OrderState.FILLED.value
    assert order.next_check_at is None


def test_a_stale_answer_cannot_move_a_filled_order_back(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=1)
    [record] = _ordered(store, signal_id)
    store.claim_for_submission([record.order_id], now())
    store.record_outcomes([OrderOutcome(record, exchange_order=_filled("0.001", "100"))], now())

    stale = _filled("0.001", "100", status="open")
    store.record_outcomes([OrderOutcome(record, exchange_order=stale)], now())

    with engine.connect() as conn:
        assert conn.execute(select(orders.c.state)).scalar_one() == OrderState.FILLED.value


def test_an_unknown_outcome_keeps_the_order_submitted_with_a_next_check(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=1)
    [record] = _ordered(store, signal_id)
    store.claim_for_submission([record.order_id], now())

    store.record_outcomes([OrderOutcome(record, unknown_reason="outcome unknown: timeout")], now())

    with engine.connect() as conn:
        order = conn.execute(select(orders)).one()
    assert order.state == OrderState.SUBMITTED.value
    assert order.next_check_at is not None
    assert store.due_orders(now() + timedelta(minutes=5))[0].order_id == record.order_id


def test_rejections_are_stored_with_their_reason(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=2)
    work = store.pending_work(signal_id)

    rejections = [Rejection(w, "below minimum notional", LogStatus.SKIPPED) for w in work]
    store.save_decisions(Decisions(rejections), now())

    with engine.connect() as conn:
        rows = conn.execute(select(execution_intents.c.status, execution_intents.c.reason)).all()
    assert {(r.status, r.reason) for r in rows} == {("rejected", "below minimum notional")}


def test_only_one_open_position_per_subscription_and_symbol(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}])
    row = {
        **first_subscriber_columns(seeded),
        "symbol": "BTC/USDT",
        "side": "long",
        "status": "open",
        "amount": Decimal(1),
        "avg_entry": Decimal(1),
        "cost_basis": Decimal(1),
        "realized_pnl": Decimal(0),
        "fees": Decimal(0),
        "opened_at": now(),
        "updated_at": now(),
    }
    with engine.begin() as conn:
        conn.execute(positions.insert().values(row))
        conn.execute(positions.insert().values({**row, "status": "closed"}))

    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(positions.insert().values(row))


def test_sizing_is_read_back_from_the_subscription(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{"sizing_mode": "equity_pct", "sizing_value": "2.5"}])
    store = SqlStore(engine)
    signal_id, _ = store.insert_signal(_signal(seeded.strategy_id))
    store.create_intents(Routing(signal_id, store.active_targets(seeded.strategy_id)), now())

    [work] = store.pending_work(signal_id)

    assert work.sizing == Sizing(SizingMode.EQUITY_PCT, Decimal("2.5"))
    assert work.contracts == Decimal("0.001234567")


def _cumulative(filled: str, average: str, fee: str, status: str = "open") -> ExchangeOrder:
    """An exchange that reports only the order's running totals (no trade list), as ccxt often does."""
    return reported(
        status, "0.003", filled, average, type=OrderType.LIMIT, price="100", fee=fee, fee_currency="USDT"
    )


def test_partial_fills_seen_as_running_totals_become_exact_fills(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=1)
    [record] = _ordered(store, signal_id)
    store.claim_for_submission([record.order_id], now())

    for view in (
        _cumulative("0.001", "100", "0.0001"),
        _cumulative("0.001", "100", "0.0001"),  # the same state seen twice
        _cumulative("0.002", "99", "0.0002"),
        _cumulative("0.003", "99", "0.0003", status="closed"),
    ):
        store.record_outcomes([OrderOutcome(record, exchange_order=view)], now())

    with engine.connect() as conn:
        recorded = conn.execute(select(fills.c.amount, fills.c.price, fills.c.fee).order_by(fills.c.id)).all()
        order = conn.execute(select(orders)).one()
        position = conn.execute(select(positions)).one()
    assert [(r.amount, r.price) for r in recorded] == [
        (Decimal("0.001"), Decimal(100)),
        (Decimal("0.001"), Decimal(98)),  # (99 × 0.002 − 100 × 0.001) ÷ 0.001
        (Decimal("0.001"), Decimal(99)),
    ]
    assert sum(r.fee for r in recorded) == Decimal("0.0003")
    assert (order.state, order.filled, order.average) == ("filled", Decimal("0.003"), Decimal(99))
    assert position.amount == Decimal("0.003") and position.avg_entry == Decimal(99)


def test_an_exchange_that_lists_trades_after_reporting_totals_is_not_counted_twice(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=1)
    [record] = _ordered(store, signal_id)
    store.claim_for_submission([record.order_id], now())
    store.record_outcomes([OrderOutcome(record, exchange_order=_cumulative("0.001", "100", "0"))], now())

    listed = _filled("0.001", "100", trade_id="real-1", status="open")
    store.record_outcomes([OrderOutcome(record, exchange_order=listed)], now())

    with engine.connect() as conn:
        amounts = list(conn.execute(select(fills.c.amount)).scalars())
    assert sum(amounts) == Decimal("0.001")


def test_the_migrations_build_exactly_the_schema_the_code_declares(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tradewire.adapters.store.tables import metadata

    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)

    assert differences == []


def _canceled(filled: str, trades: tuple[Trade, ...] = (), average: str | None = "59000") -> ExchangeOrder:
    return reported("canceled", "0.003", filled, average, type=OrderType.LIMIT, price="59000", trades=trades)


def test_a_fill_reported_after_the_cancel_is_recorded_once_whatever_its_source(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=1)
    [record] = _ordered(store, signal_id)
    store.claim_for_submission([record.order_id], now())
    store.record_outcomes([OrderOutcome(record, exchange_order=_canceled("0"))], now())

    # The order status shows the late fill before the trade history lists it, then both do; a
    # stream repeats the trade.
    trade = Trade("t-9", Decimal("0.001"), Decimal("59000"), Decimal("0.059"), "USDT", 1_700_000_000_000)
    later = now() + timedelta(seconds=3)
    store.record_outcomes([OrderOutcome(record, exchange_order=_canceled("0.001"))], later)
    store.record_outcomes([OrderOutcome(record, exchange_order=_canceled("0.001", (trade,)))], later)
    store.record_outcomes([OrderOutcome(record, exchange_order=_canceled("0.001", (trade,)))], later)

    with engine.connect() as conn:
        order = conn.execute(select(orders)).one()
        recorded = conn.execute(select(fills.c.amount)).scalars().all()
        position = conn.execute(select(positions)).one()
        intent = conn.execute(select(execution_intents)).one()
    assert (order.state, order.filled) == ("canceled", Decimal("0.001"))
    assert recorded == [Decimal("0.001")]
    assert position.amount == Decimal("0.001")
    assert intent.status == "done"
    # The window of late-fill checks restarted with the fill, and two checks without news followed.
    assert order.late_checks == 2 and order.next_check_at is not None


def test_a_canceled_order_is_due_for_its_late_fill_checks_and_then_no_more(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=1)
    [record] = _ordered(store, signal_id)
    store.claim_for_submission([record.order_id], now())
    start = now()
    store.record_outcomes([OrderOutcome(record, exchange_order=_canceled("0"))], start)

    due_at = []
    moment = start
    for _ in range(5):
        [due] = store.due_orders(moment + timedelta(hours=1)) or [None]
        if due is None:
            break
        with engine.connect() as conn:
            next_check = conn.execute(select(orders.c.next_check_at)).scalar_one()
        due_at.append(round((next_check - moment).total_seconds()))
        moment = next_check
        store.record_outcomes([OrderOutcome(due, exchange_order=_canceled("0"))], moment)

    assert due_at == [2, 8, 50]
    assert store.due_orders(moment + timedelta(days=1)) == []
    assert [o.order_id for o in store.unsettled_orders()] == []


def _lost(store: SqlStore, signal_id: int) -> OrderRecord:
    """An order sent, then concluded never to have reached the exchange (our conclusion)."""
    [record] = _ordered(store, signal_id)
    store.claim_for_submission([record.order_id], now())
    lost = OrderOutcome(record, rejected_reason="never reached the exchange", rejection=RejectionKind.LOST)
    store.record_outcomes([lost], now())
    [due] = store.due_orders(now() + timedelta(hours=1))
    assert (due.state, due.rejection) == (OrderState.REJECTED, RejectionKind.LOST)
    return due


def test_an_order_concluded_lost_that_shows_up_resting_waits_for_its_fill(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=1)
    lost = _lost(store, signal_id)

    resting = replace(_canceled("0"), status="open", amount=Decimal("0.001"))
    store.record_outcomes([OrderOutcome(lost, exchange_order=resting)], now())
    with engine.connect() as conn:
        order, intent = conn.execute(select(orders)).one(), conn.execute(select(execution_intents)).one()
    [record] = store.unsettled_orders()
    store.record_outcomes([OrderOutcome(record, exchange_order=_filled("0.001", "59000"))], now())
    with engine.connect() as conn:
        filled, done = conn.execute(select(orders)).one(), conn.execute(select(execution_intents)).one()

    assert (order.state, order.rejection, order.late_checks) == ("open", None, 0)
    assert order.next_check_at is not None
    assert intent.status == "ordered" and "found on the exchange" in intent.reason
    assert (filled.state, filled.filled) == ("filled", Decimal("0.001"))
    assert done.status == "done"
    assert _count(engine, fills) == 1


def test_an_order_concluded_lost_that_the_exchange_reports_rejected_is_final(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=1)
    lost = _lost(store, signal_id)

    refused = replace(_canceled("0", average=None), status="rejected", reason="insufficient balance")
    store.record_outcomes([OrderOutcome(lost, exchange_order=refused)], now())

    with engine.connect() as conn:
        order, intent = conn.execute(select(orders)).one(), conn.execute(select(execution_intents)).one()
    assert (order.state, order.rejection, order.next_check_at) == ("rejected", "exchange", None)
    assert "insufficient balance" in order.reason and intent.status == "failed"
    assert store.due_orders(now() + timedelta(days=1)) == []


def test_a_refused_or_unsent_order_is_never_looked_up_again(engine: Engine) -> None:
    store, signal_id, _ = _routed(engine, subscribers=2)
    first, second = _ordered(store, signal_id)
    store.claim_for_submission([first.order_id, second.order_id], now())
    store.record_outcomes(
        [
            OrderOutcome(first, rejected_reason="insufficient_funds: balance"),
            OrderOutcome(second, rejected_reason="circuit open", rejection=RejectionKind.NOT_SENT),
        ],
        now(),
    )

    with engine.connect() as conn:
        rows = conn.execute(select(orders.c.rejection, orders.c.next_check_at).order_by(orders.c.id)).all()
    assert [tuple(r) for r in rows] == [("exchange", None), ("not_sent", None)]
    assert store.due_orders(now() + timedelta(days=1)) == [] and store.unsettled_orders() == []
