"""The execution log keeps how an order was sized on its fill, however many answers came before it."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, select

from tests.support import now, seed_marketplace
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.tables import execution_log
from tradewire.domain.orders import ExchangeOrder, OrderSide, OrderType
from tradewire.domain.records import NewOrder, NewSignal, OrderOutcome
from tradewire.domain.signals import SignalAction

NOTE = "5 % of equity 10000"


def _view(status: str, filled: str) -> ExchangeOrder:
    return ExchangeOrder(
        exchange_order_id="x-1",
        client_order_id="c",
        symbol="BTC/USDT",
        side=OrderSide.BUY,
        type=OrderType.MARKET,
        status=status,
        amount=Decimal("0.002"),
        filled=Decimal(filled),
        average=Decimal(100) if Decimal(filled) else None,
        price=None,
        fee=Decimal(0),
        fee_currency="USDT",
    )


def test_an_order_seen_open_first_says_how_it_was_sized_when_it_fills(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}])
    store = SqlStore(engine)
    signal = NewSignal(
        seeded.strategy_id, "k", SignalAction.BUY, "BTCUSDT", "BTC/USDT", None, None, None, {}, now()
    )
    signal_id, _ = store.insert_signal(signal)
    store.create_intents(signal_id, store.active_targets(seeded.strategy_id), now())
    [work] = store.pending_work(signal_id)
    new = NewOrder(work, "tw-1", OrderSide.BUY, OrderType.MARKET, Decimal("0.002"), None, sizing_note=NOTE)
    [record] = store.save_decisions([], [new], now())
    store.claim_for_submission([record.order_id], now())

    for view in (_view("open", "0"), _view("open", "0.001"), _view("closed", "0.002")):
        store.record_outcomes([OrderOutcome(record, exchange_order=view)], now())

    with engine.connect() as conn:
        entries = conn.execute(select(execution_log.c.status, execution_log.c.reason)).all()
    [filled] = [reason for _status, reason in entries if reason.startswith("filled")]
    assert f"sized: {NOTE}" in filled
