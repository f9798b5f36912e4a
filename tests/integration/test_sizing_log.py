"""The execution log keeps how an order was sized on its fill, however many answers came before it."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, select

from tests.support import claimed_buy, now, reported
from tradewire.adapters.store.tables import execution_log
from tradewire.domain.orders import ExchangeOrder
from tradewire.domain.records import OrderOutcome

NOTE = "5 % of equity 10000"


def _view(status: str, filled: str) -> ExchangeOrder:
    average = "100" if Decimal(filled) else None
    return reported(status, "0.002", filled, average, fee="0", fee_currency="USDT")


def test_an_order_seen_open_first_says_how_it_was_sized_when_it_fills(engine: Engine) -> None:
    store, _, record = claimed_buy(engine, sizing_note=NOTE)

    for view in (_view("open", "0"), _view("open", "0.001"), _view("closed", "0.002")):
        store.record_outcomes([OrderOutcome(record, exchange_order=view)], now())

    with engine.connect() as conn:
        entries = conn.execute(select(execution_log.c.status, execution_log.c.reason)).all()
    [filled] = [reason for _status, reason in entries if reason.startswith("filled")]
    assert f"sized: {NOTE}" in filled
