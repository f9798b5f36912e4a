"""Rows an older version or a hand stored wrong never blind the exit monitor or the order sweep for
everybody else, on SQLite and PostgreSQL: the position or order that cannot be read is logged, read
with safe defaults where it can be (a stop keeps being watched), and the others go on."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from tests.integration.test_exit_monitor import _rows, _running
from tradewire.adapters.store import order_rows
from tradewire.adapters.store.tables import orders, positions, subscriptions
from tradewire.domain.orders import OrderState
from tradewire.domain.records import OrderQuery

STOP = {"exit_rules": {"stop_loss_pct": "2"}}


def _spoil(engine: Engine, subscription_id: int, **subscription: object) -> None:
    """The subscription's position with an unreadable DCA book and phase; its subscription's columns
    set to `subscription`."""
    with engine.begin() as conn:
        conn.execute(
            update(positions)
            .where(positions.c.subscription_id == subscription_id)
            .values(tranches={"plan": "not a plan", "first": "?"}, phase="NONSENSE")
        )
        if subscription:
            conn.execute(
                update(subscriptions).where(subscriptions.c.id == subscription_id).values(**subscription)
            )


async def test_a_position_with_unreadable_parts_keeps_its_stop_and_the_others_theirs(
    engine: Engine, tmp_path: Path
) -> None:
    async with _running(engine, tmp_path, STOP, STOP) as opened:
        await opened.alert()
    spoiled, fine = opened.subscription_ids
    _spoil(engine, spoiled, risk_limits={"daily_loss_pct": "lots", "max_positions_total": []})

    async with _running(engine, tmp_path) as restarted:  # a restart: the monitor loads everything
        assert await restarted.tick("48000") == 2

    closed = {p.subscription_id: (p.status, p.close_reason) for p in _rows(engine, positions)}
    assert closed == {spoiled: ("closed", "SL"), fine: ("closed", "SL")}


async def test_an_unreadable_trading_state_allows_no_order_and_the_others_still_exit(
    engine: Engine, tmp_path: Path
) -> None:
    async with _running(engine, tmp_path, STOP, STOP) as opened:
        await opened.alert()
    spoiled, fine = opened.subscription_ids
    _spoil(engine, spoiled, trading_state="SLEEPING")

    async with _running(engine, tmp_path) as restarted:
        assert await restarted.tick("48000") == 1

    closed = {p.subscription_id: (p.status, p.close_reason) for p in _rows(engine, positions)}
    assert closed == {spoiled: ("open", None), fine: ("closed", "SL")}


async def test_an_order_that_cannot_be_read_is_left_out_and_the_sweep_reads_the_others(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Logged once per process: the other database's run of this test (same order ids) may have.
    monkeypatch.setattr(order_rows, "_reported", set())
    async with _running(engine, tmp_path, STOP, STOP, STOP) as opened:
        await opened.alert()
        store = opened.runtime.store
    first, second, third = (o.id for o in _rows(engine, orders))
    with engine.begin() as conn:
        conn.execute(update(orders).where(orders.c.id == first).values(exit_plan={"stop_loss": "many"}))
        conn.execute(update(orders).where(orders.c.id == second).values(side="hold"))

    read = store.orders_in_states(OrderQuery([OrderState.FILLED]))

    # The unreadable exit plan reads as none (the order is still settled and checked); the order
    # whose side no version knows is left out, and logged.
    assert (read[0].order_id, read[0].exit_plan) == (first, None)
    assert [o.order_id for o in read] == [first, third]
    assert read[1].exit_plan is not None and read[1].exit_plan.rules.stop_loss_pct == Decimal(2)
    assert f"order {second} " in caplog.text and "cannot be read" in caplog.text
