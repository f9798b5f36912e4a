"""The exit monitor closes positions at their stop loss, take profit, trailing stop and time limit,
through stored orders, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, select

from tests.support import make_runtime, pin_prices, seed_marketplace
from tradewire.adapters.store.tables import execution_intents, execution_log, orders, positions
from tradewire.domain.positions import CloseReason
from tradewire.domain.records import AutoOrder
from tradewire.runtime import Runtime


def _rows(engine: Engine, table: Table) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(table).order_by(table.c.id)))


SLUG = "tv-test"


@dataclass
class Monitored:
    """A started runtime trading the seeded strategy, driven by hand: alerts, prices, monitor ticks."""

    runtime: Runtime
    subscription_ids: list[int]

    async def alert(self, action: str = "buy", ticker: str = "BTCUSDT", **fields: object) -> None:
        """A TradingView alert to the strategy, handled to the end."""
        body = json.dumps({"passphrase": "abcdefgh", "ticker": ticker, "action": action, **fields})
        await self.runtime.ingest.receive_tradingview(SLUG, body.encode(), None, None)
        await self.runtime.bus.drain()

    async def tick(self, btc_price: str | None = None) -> int:
        """One monitor tick, with BTC/USDT moved to `btc_price` first if given: the orders it placed."""
        if btc_price is not None:
            pin_prices(self.runtime, {"BTC/USDT": btc_price})
        return await self.runtime.monitor.tick()


@asynccontextmanager
async def _running(
    engine: Engine, tmp_path: Path, *subscribers: dict[str, object], btc_price: str = "50000"
) -> AsyncIterator[Monitored]:
    """The strategy with one subscriber per entry (none: a restart on what is stored), and a runtime
    on the engine's database started with BTC/USDT at `btc_price`; stopped on leaving."""
    seeded = seed_marketplace(engine, list(subscribers), SLUG) if subscribers else None
    # The test drives the monitor's ticks itself: a long interval keeps the background loop out of it.
    runtime = make_runtime(
        tmp_path, engine.url.render_as_string(hide_password=False), monitor_interval_s=3600
    )
    pin_prices(runtime, {"BTC/USDT": btc_price})
    await runtime.start()
    try:
        yield Monitored(runtime, seeded.subscription_ids if seeded else [])
    finally:
        await runtime.stop()


async def test_a_stop_loss_closes_the_position_with_reason_sl(engine: Engine, tmp_path: Path) -> None:
    async with _running(
        engine, tmp_path, {"exit_rules": {"stop_loss_pct": "2", "take_profit_pct": "4"}}, {}
    ) as monitored:
        await monitored.alert()
        [with_rules, without] = sorted(_rows(engine, positions), key=lambda p: p.subscription_id)
        assert with_rules.stop_loss == Decimal("49000") and with_rules.take_profit == Decimal("52000")
        assert without.stop_loss is None and without.take_profit is None

        assert await monitored.tick("49001") == 0  # a hair above the stop: nothing
        assert await monitored.tick("48500") == 1  # gapped through the stop
        assert await monitored.tick() == 0  # never twice

    subs = monitored.subscription_ids
    closed = next(p for p in _rows(engine, positions) if p.subscription_id == subs[0])
    sell = next(o for o in _rows(engine, orders) if o.side == "sell")
    assert closed.status == "closed" and closed.close_reason == "SL"
    # The paper fill is at the market, below the stop: a gap fills at the worse price.
    assert sell.state == "filled" and sell.average == Decimal("48500") and sell.close_reason == "SL"
    assert sell.client_order_id.startswith("tx") and sell.intent_id is None
    assert closed.realized_pnl == (Decimal("48500") - Decimal("50000")) * Decimal("0.002")
    [entry] = [r for r in _rows(engine, execution_log) if r.order_id == sell.id]
    assert entry.status == "SUCCESS" and "SL: stop loss at 49000, price 48500" in entry.reason
    still_open = next(p for p in _rows(engine, positions) if p.subscription_id == subs[1])
    assert still_open.status == "open"


async def test_a_signal_s_own_levels_win_and_take_profit_fires(engine: Engine, tmp_path: Path) -> None:
    async with _running(engine, tmp_path, {"exit_rules": {"stop_loss_pct": "2"}}) as monitored:
        await monitored.alert(price="50000", sl="45000", tp="55000")
        [position] = _rows(engine, positions)
        assert (position.stop_loss, position.take_profit) == (Decimal("45000"), Decimal("55000"))
        assert await monitored.tick("55000") == 1
    [position] = _rows(engine, positions)
    assert position.status == "closed" and position.close_reason == "TP"


async def test_a_trailing_stop_follows_the_price_up_and_survives_a_restart(
    engine: Engine, tmp_path: Path
) -> None:
    async with _running(engine, tmp_path, {"exit_rules": {"trailing_pct": "5"}}) as monitored:
        await monitored.alert()
        for price in ("52000", "56000", "54000"):
            assert await monitored.tick(price) == 0
    [position] = _rows(engine, positions)
    assert position.best_price == Decimal("56000")

    # A restart with the price exactly 5 % below the best price.
    async with _running(engine, tmp_path, btc_price="53200") as again:
        assert await again.tick() == 1
    [position] = _rows(engine, positions)
    assert position.close_reason == "TRAILING"


async def test_the_time_limit_closes_a_position_held_too_long(engine: Engine, tmp_path: Path) -> None:
    async with _running(engine, tmp_path, {"exit_rules": {"max_hold_s": 60}}) as monitored:
        await monitored.alert()
        assert await monitored.tick() == 0
        [position] = _rows(engine, positions)
        monitored.runtime.monitor._clock = _Shifted(monitored.runtime.clock, 61)  # type: ignore[assignment]
        assert await monitored.tick() == 1
    [position] = _rows(engine, positions)
    assert position.close_reason == "TIMEOUT"


class _Shifted:
    """A clock running `seconds` ahead of another."""

    def __init__(self, clock: Any, seconds: float) -> None:
        self._clock = clock
        self._seconds = seconds

    def now(self) -> datetime:
        return self._clock.now() + timedelta(seconds=self._seconds)  # type: ignore[no-any-return]


async def test_a_breached_daily_loss_closes_the_open_positions_when_configured(
    engine: Engine, tmp_path: Path
) -> None:
    limits = {"cooldown_s": 0, "daily_loss_quote": "1", "close_on_daily_loss": True}
    async with _running(engine, tmp_path, {"risk_limits": limits}) as monitored:
        await monitored.alert()
        await monitored.alert(ticker="ETHUSDT")
        pin_prices(monitored.runtime, {"BTC/USDT": "40000"})  # BTC closed 20 % lower: a loss of about 20
        await monitored.alert("sell")
        assert await monitored.tick() == 1
    eth = next(p for p in _rows(engine, positions) if p.symbol == "ETH/USDT")
    assert eth.status == "closed" and eth.close_reason == "RISK"


async def test_a_dca_position_is_built_in_tranches_then_reduced_and_closed(
    engine: Engine, tmp_path: Path
) -> None:
    spec = {
        "sizing_value": "300",
        "dca": {"mode": "equal", "tranches": 3, "step_pct": "2"},
        "exit_rules": {"stop_loss_pct": "10"},
    }
    async with _running(engine, tmp_path, spec) as monitored:
        await monitored.alert()
        [position] = _rows(engine, positions)
        assert position.phase == "BUILDING" and position.amount == Decimal("0.002")
        assert [t["trigger"] for t in position.tranches["pending"]] == ["49000", "48000"]

        assert await monitored.tick("49500") == 0
        assert await monitored.tick("48900") == 1  # through the second tranche's trigger
        assert await monitored.tick() == 0  # bought once
        [position] = _rows(engine, positions)
        assert position.phase == "BUILDING" and position.amount == Decimal("0.004")
        assert position.avg_entry == Decimal("49450")  # (50,000 + 48,900) / 2
        assert position.stop_loss == Decimal("44505")  # 10 % below the new average entry

        assert await monitored.tick("48000") == 1
        [position] = _rows(engine, positions)
        assert position.phase == "OPEN" and position.amount == Decimal("0.006")
        assert position.tranches["pending"] == []

        # A partial sell (the strategy stays long with half) reduces; the exit closes.
        await monitored.alert(
            "sell",
            market_position="long",
            market_position_size="1",
            prev_market_position_size="2",
        )
        [position] = _rows(engine, positions)
        assert position.phase == "REDUCING" and position.amount == Decimal("0.003")
        await monitored.alert("exit")
    [position] = _rows(engine, positions)
    assert position.phase == "CLOSED" and position.status == "closed"
    tranche_orders = [o for o in _rows(engine, orders) if o.tranche is not None]
    assert [(o.tranche, o.client_order_id[:2], o.state) for o in tranche_orders] == [
        (2, "td", "filled"),
        (3, "td", "filled"),
    ]


async def test_a_signal_exit_waits_while_an_automated_exit_is_in_flight(
    engine: Engine, tmp_path: Path
) -> None:
    async with _running(engine, tmp_path, {"exit_rules": {"stop_loss_pct": "2"}}) as monitored:
        await monitored.alert()
        store = monitored.runtime.store
        [position] = store.watched_positions()
        # A stop-loss exit stored but not yet settled (as while the exchange is slow to answer).
        stop = AutoOrder.for_position(position, position.amount, CloseReason.SL, "stop loss")
        [stored] = store.save_auto_orders([stop], monitored.runtime.clock.now())
        await monitored.alert("exit")
    intents = _rows(engine, execution_intents)
    # The stop's outcome is not known yet: the signal's exit is not decided (it would be sized on the
    # position before the stop) and waits, still pending, for the stop to settle.
    assert intents[-1].status == "created" and intents[-1].reason is None
    assert [o.client_order_id for o in _rows(engine, orders) if o.side == "sell"] == [stored.client_order_id]
