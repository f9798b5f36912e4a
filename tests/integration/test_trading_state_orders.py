"""The store places the platform's own orders only as the subscription's trading state allows, read
in the same transaction: ACTIVE anything, REDUCING exits but no DCA tranche, HALTED nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, select, update

from tests.support import claimed_buy, now, reported, stored_buy_and_sell
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.tables import positions, subscriptions
from tradewire.domain.orders import OrderState, Trade
from tradewire.domain.positions import CloseReason
from tradewire.domain.records import AutoOrder, OrderOutcome, OrderQuery


def _open_position(engine: Engine) -> tuple[SqlStore, AutoOrder, AutoOrder]:
    store, work, record = claimed_buy(engine)
    trade = Trade("t-1", Decimal("0.002"), Decimal(100), Decimal(0), "USDT", 1_700_000_000_000)
    filled = reported("closed", "0.002", "0.002", "100", client_order_id="tw-1", trades=(trade,))
    store.record_outcomes([OrderOutcome(record, exchange_order=filled)], now())
    with engine.connect() as conn:
        position_id = conn.execute(select(positions.c.id)).scalar_one()
    common = {
        "position_id": position_id,
        "account_id": work.account_id,
        "subscription_id": work.subscription_id,
        "user_id": work.user_id,
        "mode": "paper",
        "exchange": "paper",
        "symbol": "BTC/USDT",
        "amount": Decimal("0.001"),
    }
    stop = AutoOrder(**common, reason=CloseReason.SL, note="stop loss")  # type: ignore[arg-type]
    tranche = AutoOrder(**common, reason=None, note="DCA tranche 2/2", tranche=2)  # type: ignore[arg-type]
    return store, stop, tranche


@pytest.mark.parametrize(
    ("state", "allowed"),
    [("ACTIVE", {"stop", "tranche"}), ("REDUCING", {"stop"}), ("HALTED", set())],
)
@pytest.mark.parametrize("kind", ["stop", "tranche"])
def test_the_platform_s_own_orders_follow_the_trading_state(
    engine: Engine, state: str, allowed: set[str], kind: str
) -> None:
    store, stop, tranche = _open_position(engine)
    with engine.begin() as conn:
        conn.execute(update(subscriptions).values(trading_state=state))

    placed = store.save_auto_orders([stop if kind == "stop" else tranche], now())

    assert bool(placed) is (kind in allowed)


@pytest.mark.parametrize(
    ("state", "claimed_sides"),
    [
        ("ACTIVE", {"buy", "sell"}),
        ("REDUCING", {"sell"}),
        ("HALTED", set()),
        ("WINDING_DOWN", set()),  # a state this version cannot read allows nothing (default-deny)
    ],
)
def test_claiming_new_orders_obeys_the_trading_state_read_at_claim_time(
    engine: Engine, state: str, claimed_sides: set[str]
) -> None:
    store, by_id, _ = stored_buy_and_sell(engine)
    with engine.begin() as conn:  # set after the orders were stored, before they are claimed
        conn.execute(update(subscriptions).values(trading_state=state))

    claimed = store.claim_for_submission(list(by_id), now())

    assert {by_id[i] for i in claimed} == claimed_sides
    states = {r.side.value: r.state.value for r in store.orders_in_states(OrderQuery(list(OrderState)))}
    for side in ("buy", "sell"):
        assert states[side] == ("submitted" if side in claimed_sides else "rejected")
    assert store.claim_for_submission(list(by_id), now()) == set()  # never twice
