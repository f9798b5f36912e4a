"""The exit monitor against the in-memory store and exchange, for a live position whose asset the
account no longer fully holds: an exit refused for insufficient funds is resized to what is held,
the position closed as closed outside tradewire, or (funds locked, balance unreadable) tried again
with nothing written off. Plus the decision itself (domain/held_exit.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from tests.fakes.memory_exchange import BTC_USDT, MemoryExchange
from tests.fakes.world import World, world
from tradewire.domain.balances import AssetBalance
from tradewire.domain.held_exit import Held, decide
from tradewire.domain.orders import ExchangeOrder, OrderRequest, OrderSide
from tradewire.ports import ErrorKind, ExchangeError, ExchangeUnavailable
from tradewire.services.monitor import RETRY_AFTER, ExitMonitor


@dataclass
class HandTraded(MemoryExchange):
    """A live account whose BTC the user may sell or lock by hand: a sale above what is free is
    refused for insufficient funds, as Binance refuses it."""

    held: dict[str, AssetBalance] = field(default_factory=dict)
    detail_error: Exception | None = None

    async def fetch_balance_detail(self) -> Mapping[str, AssetBalance]:
        if self.detail_error is not None:
            raise self.detail_error
        return {"USDT": AssetBalance.of(Decimal(10_000), None, None), **self.held}

    async def create_order(self, request: OrderRequest) -> ExchangeOrder:
        btc = self.held.get("BTC")
        if request.side is OrderSide.SELL and btc is not None and btc.free < request.amount:
            self.creates.append(request)
            raise ExchangeError(
                "insufficient_funds: binance Account has insufficient balance", ErrorKind.INSUFFICIENT_FUNDS
            )
        return await super().create_order(request)


async def _stop_hit(free: str | None, locked: str = "0") -> tuple[World, ExitMonitor, HandTraded]:
    """A live subscriber bought 1 BTC at 100 with a 5 % stop; the user left `free` BTC (and `locked`)
    by hand; the stop is hit and its exit refused."""
    w = world([{"exit_rules": {"stop_loss_pct": "5"}, "account": {"mode": "live", "exchange": "binance"}}])
    exchange = HandTraded()
    w.exchanges.default = exchange
    w.signal()
    executor = w.executor()
    await executor.execute_pending()
    monitor = ExitMonitor(w.store, w.exchanges, w.clock, send=executor.resume)
    assert await monitor.tick() == 0
    [position] = w.rows("positions")
    assert position["amount"] == Decimal(1)
    if free is not None:
        exchange.held["BTC"] = AssetBalance.of(Decimal(free), Decimal(locked), None)
    exchange.prices["BTC/USDT"] = Decimal(90)
    assert await monitor.tick() == 1
    assert w.column("orders", "side", "state")[-1] == ("sell", "rejected")
    return w, monitor, exchange


async def _again(w: World, monitor: ExitMonitor) -> int:
    w.clock.advance(RETRY_AFTER.total_seconds() + 1)
    return await monitor.tick()


def _told(w: World, type_: str) -> list[dict[str, object]]:
    return [
        json.loads(e["data"]) if isinstance(e["data"], str) else e["data"]
        for e in w.store.tables.events
        if e["topic"] == "positions" and e["type"] == type_
    ]


async def test_a_position_partly_sold_by_hand_sells_what_is_held_and_closes() -> None:
    w, monitor, exchange = await _stop_hit(free="0.6")

    assert await _again(w, monitor) == 1

    assert [r.amount for r in exchange.creates if r.side is OrderSide.SELL] == [Decimal(1), Decimal("0.6")]
    [position] = w.rows("positions")
    assert (position["status"], position["close_reason"], position["amount"]) == ("closed", "SL", 0)
    assert position["realized_pnl"] == Decimal(-10) * Decimal("0.6")  # the 0.4 sold by hand: no PnL here
    [refused] = _told(w, "exit_refused")
    assert (refused["written_off"], refused["position_amount"], refused["total"]) == ("0.4", "1", "0.6")


async def test_a_position_sold_by_hand_is_closed_outside_tradewire_with_no_more_orders() -> None:
    w, monitor, exchange = await _stop_hit(free="0")

    assert await _again(w, monitor) == 0
    assert await _again(w, monitor) == 0

    assert [r.side for r in exchange.creates] == [OrderSide.BUY, OrderSide.SELL]
    [position] = w.rows("positions")
    assert (position["status"], position["close_reason"], position["amount"]) == ("closed", "OUTSIDE", 0)
    assert position["realized_pnl"] == 0
    [closed] = _told(w, "closed")
    assert closed["written_off"] == "1" and "closed outside tradewire" in str(closed["note"])
    [line] = [r["reason"] for r in w.rows("execution_log") if r["order_id"] is None]
    assert "holds 0 BTC" in line and "1 BTC written off" in line


async def test_funds_locked_by_hand_are_not_written_off_and_told_once() -> None:
    w, monitor, _ = await _stop_hit(free="0", locked="1")

    sent = [await _again(w, monitor) for _ in range(3)]

    assert sent == [1, 1, 1]  # tried again, as before
    [position] = w.rows("positions")
    assert (position["status"], position["amount"], position["realized_pnl"]) == ("open", Decimal(1), 0)
    assert len(_told(w, "exit_refused")) == 1


async def test_nothing_is_written_off_while_the_balance_cannot_be_read() -> None:
    w, monitor, exchange = await _stop_hit(free="0")
    exchange.detail_error = ExchangeUnavailable("binance unreachable")

    unread = await _again(w, monitor)
    while_unread = w.column("positions", "status", "amount")
    exchange.detail_error = None
    read = await _again(w, monitor)

    assert unread == 1  # tried again, as before, and refused again
    assert while_unread == [("open", Decimal(1))]
    assert read == 0  # once read: closed outside tradewire
    assert w.column("positions", "status", "close_reason") == [("closed", "OUTSIDE")]


@pytest.mark.parametrize(
    ("free", "locked", "held", "write_off", "sell"),
    [
        ("1", "0", Held.HELD, "0", None),
        ("0.4", "0.6", Held.LOCKED, "0", None),
        ("0.6543219", "0", Held.SHORT, "0.3456781", "0.65432"),  # floored to the step
        ("0.2", "0.3", Held.SHORT, "0.5", "0.2"),  # what is gone written off; the locked rest kept
        ("0.000001", "0.5", Held.SHORT, "0.499999", None),  # nothing free to sell
        ("0.000009", "0", Held.GONE, "0.999991", None),  # below the smallest amount (0.00001)
        ("0", "0", Held.GONE, "1", None),
    ],
)
def test_the_decision_follows_what_the_account_holds(
    free: str, locked: str, held: Held, write_off: str, sell: str | None
) -> None:
    decision = decide(Decimal(1), AssetBalance.of(Decimal(free), Decimal(locked), None), BTC_USDT)

    assert (decision.held, decision.write_off) == (held, Decimal(write_off))
    assert decision.sell == (Decimal(sell) if sell is not None else None)


def test_an_unreadable_balance_or_market_decides_nothing() -> None:
    assert decide(Decimal(1), None, BTC_USDT).held is Held.UNKNOWN
    assert decide(Decimal(1), AssetBalance.of(Decimal(0), None, None), None).held is Held.UNKNOWN
