"""Exits of live positions whose asset the exchange account no longer fully holds (sold by hand on
the exchange, or locked in an order placed by hand), through the real ccxt client against a local
fake Binance. Before, every exit was refused for insufficient funds and placed again every 30 s,
forever, with the position left open at an amount the account did not hold."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.e2e.test_live_exchange import Live
from tests.e2e.test_live_exits import holding_with_a_stop
from tests.fakes.exchange import FakeExchange
from tradewire.adapters.store.tables import events, execution_log, orders, positions

pytestmark = pytest.mark.slow


@pytest.fixture
def binance() -> Iterator[FakeExchange]:
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as fake:
        yield fake


async def _stop_loss_hit_after(
    tmp_path: Path,
    fake: FakeExchange,
    monkeypatch: pytest.MonkeyPatch,
    free: str,
    locked: str = "0",
    engine: Engine | None = None,
) -> Live:
    """A live position of 0.002 BTC with a 2 % stop loss; the user leaves `free` BTC (and `locked`
    in an order of their own) on the exchange by hand; then the stop is hit and its exit refused."""
    database = {"database_url": engine.url.render_as_string(hide_password=False)} if engine else {}
    live = await holding_with_a_stop(tmp_path, fake, monkeypatch, **database)
    [opened] = live.rows(positions)
    assert opened.amount == Decimal("0.002")
    fake.set_balance("BTC", free, locked)
    fake.set_price("BTC/USDT", "58000")
    assert await live.runtime.monitor.tick() == 1
    refused = live.rows(orders)[-1]
    assert (refused.side, refused.state) == ("sell", "rejected")
    assert refused.reason.startswith("insufficient_funds:")
    return live


def _sales(fake: FakeExchange) -> list[Decimal]:
    return [Decimal(t["amount"]) for t in fake.trades if t["side"] == "sell"]


def _log_lines(live: Live, words: str) -> list[str]:
    """The execution log's lines about the position itself (not about one of its orders)."""
    return [r.reason for r in live.rows(execution_log) if r.order_id is None and words in r.reason]


async def test_a_position_partly_sold_by_hand_sells_the_rest_and_closes(
    tmp_path: Path, binance: FakeExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = await _stop_loss_hit_after(tmp_path, binance, monkeypatch, free="0.0012")
    try:
        assert await live.runtime.monitor.tick() == 1
        await live.until(lambda: [p.status for p in live.rows(positions)] == ["closed"])
        assert await live.runtime.monitor.tick() == 0
    finally:
        await live.runtime.stop()

    assert _sales(binance) == [Decimal("0.0012")]  # what the account held, sold once
    [closed] = live.rows(positions)
    assert (closed.amount, closed.close_reason) == (0, "SL")
    # The 0.0008 sold by hand is written off at the entry: only the 0.0012 sold here counts.
    assert closed.realized_pnl == (Decimal(58000) - Decimal(60000)) * Decimal("0.0012")
    [line] = _log_lines(live, "written off")
    assert "0.0012 BTC" in line and "0.002 BTC" in line and "0.0008 BTC written off" in line
    assert Decimal(binance.balances["BTC"]["total"]) == 0


async def test_a_position_sold_by_hand_is_closed_outside_tradewire_and_never_sold_again(
    tmp_path: Path, binance: FakeExchange, monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    live = await _stop_loss_hit_after(tmp_path, binance, monkeypatch, free="0", engine=engine)
    try:
        assert await live.runtime.monitor.tick() == 0  # no order: the position is closed instead
        assert await live.runtime.monitor.tick() == 0
        closed_by = await live.runtime.monitor.tick()
    finally:
        await live.runtime.stop()

    assert closed_by == 0
    assert [o.side for o in live.rows(orders)] == ["buy", "sell"]  # the one refused exit, no more
    assert _sales(binance) == []
    [closed] = live.rows(positions)
    assert (closed.status, closed.close_reason, closed.amount) == ("closed", "OUTSIDE", 0)
    assert closed.realized_pnl == 0  # nothing invented: written off at the average entry
    [line] = _log_lines(live, "closed outside tradewire")
    assert "holds 0 BTC" in line and "0.002 BTC" in line and "0.002 BTC written off" in line
    told = [e for e in live.rows(events) if e.topic == "positions" and e.type == "closed"]
    assert json.loads(told[-1].data)["close_reason"] == "OUTSIDE"
    assert json.loads(told[-1].data)["written_off"] == "0.002"


async def test_funds_locked_by_hand_are_not_written_off_and_the_user_is_told_once(
    tmp_path: Path, binance: FakeExchange, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = await _stop_loss_hit_after(tmp_path, binance, monkeypatch, free="0", locked="0.002")
    try:
        assert await live.runtime.monitor.tick() == 1  # tried again, as before
        assert await live.runtime.monitor.tick() == 1
    finally:
        await live.runtime.stop()

    [still] = live.rows(positions)
    assert (still.status, still.amount, still.realized_pnl) == ("open", Decimal("0.002"), 0)
    assert [o.state for o in live.rows(orders)] == ["filled", "rejected", "rejected", "rejected"]
    [line] = _log_lines(live, "locked")
    assert "nothing written off" in line.lower()
    told = [e for e in live.rows(events) if e.topic == "positions" and e.type == "exit_refused"]
    assert len(told) == 1 and json.loads(told[0].data)["written_off"] == "0"
