"""The exit monitor closes positions at their stop loss, take profit, trailing stop and time limit,
through stored orders, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
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


def _body(**fields: object) -> bytes:
    return json.dumps({"passphrase": "abcdefgh", **fields}).encode()


async def _buy(runtime: Runtime, slug: str, **fields: object) -> None:
    await runtime.ingest.receive_tradingview(
        slug, _body(ticker="BTCUSDT", action="buy", **fields), None, None
    )
    await runtime.bus.drain()


def _rows(engine: Engine, table: Table) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(table).order_by(table.c.id)))


async def _started(
    engine: Engine, tmp_path: Path, specs: list[dict[str, object]]
) -> tuple[Runtime, str, list[int]]:
    seeded = seed_marketplace(engine, specs)
    # The test drives the monitor's ticks itself: a long interval keeps the background loop out of it.
    runtime = make_runtime(
        tmp_path, engine.url.render_as_string(hide_password=False), monitor_interval_s=3600
    )
    pin_prices(runtime, {"BTC/USDT": "50000"})
    await runtime.start()
    return runtime, seeded.slug, seeded.subscription_ids


async def test_a_stop_loss_closes_the_position_with_reason_sl(engine: Engine, tmp_path: Path) -> None:
    runtime, slug, subs = await _started(
        engine, tmp_path, [{"exit_rules": {"stop_loss_pct": "2", "take_profit_pct": "4"}}, {}]
    )
    try:
        await _buy(runtime, slug)
        [with_rules, without] = sorted(_rows(engine, positions), key=lambda p: p.subscription_id)
        assert with_rules.stop_loss == Decimal("49000") and with_rules.take_profit == Decimal("52000")
        assert without.stop_loss is None and without.take_profit is None

        pin_prices(runtime, {"BTC/USDT": "49001"})
        assert await runtime.monitor.tick() == 0  # a hair above the stop: nothing
        pin_prices(runtime, {"BTC/USDT": "48500"})  # gapped through the stop
        assert await runtime.monitor.tick() == 1
        assert await runtime.monitor.tick() == 0  # never twice
    finally:
        await runtime.stop()

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
    runtime, slug, _ = await _started(engine, tmp_path, [{"exit_rules": {"stop_loss_pct": "2"}}])
    try:
        await _buy(runtime, slug, price="50000", sl="45000", tp="55000")
        [position] = _rows(engine, positions)
        assert (position.stop_loss, position.take_profit) == (Decimal("45000"), Decimal("55000"))
        pin_prices(runtime, {"BTC/USDT": "55000"})
        assert await runtime.monitor.tick() == 1
    finally:
        await runtime.stop()
    [position] = _rows(engine, positions)
    assert position.status == "closed" and position.close_reason == "TP"


async def test_a_trailing_stop_follows_the_price_up_and_survives_a_restart(
    engine: Engine, tmp_path: Path
) -> None:
    runtime, slug, _ = await _started(engine, tmp_path, [{"exit_rules": {"trailing_pct": "5"}}])
    try:
        await _buy(runtime, slug)
        for price in ("52000", "56000", "54000"):
            pin_prices(runtime, {"BTC/USDT": price})
            assert await runtime.monitor.tick() == 0
    finally:
        await runtime.stop()
    [position] = _rows(engine, positions)
    assert position.best_price == Decimal("56000")

    again = make_runtime(tmp_path, engine.url.render_as_string(hide_password=False), monitor_interval_s=3600)
    pin_prices(again, {"BTC/USDT": "53200"})  # exactly 5 % below the best price
    await again.start()
    try:
        assert await again.monitor.tick() == 1
    finally:
        await again.stop()
    [position] = _rows(engine, positions)
    assert position.close_reason == "TRAILING"


async def test_the_time_limit_closes_a_position_held_too_long(engine: Engine, tmp_path: Path) -> None:
    runtime, slug, _ = await _started(engine, tmp_path, [{"exit_rules": {"max_hold_s": 60}}])
    try:
        await _buy(runtime, slug)
        assert await runtime.monitor.tick() == 0
        [position] = _rows(engine, positions)
        runtime.monitor._clock = _Shifted(runtime.clock, 61)  # type: ignore[assignment]
        assert await runtime.monitor.tick() == 1
    finally:
        await runtime.stop()
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
    runtime, slug, _ = await _started(engine, tmp_path, [{"risk_limits": limits}])
    try:
        await _buy(runtime, slug)
        await runtime.ingest.receive_tradingview(slug, _body(ticker="ETHUSDT", action="buy"), None, None)
        await runtime.bus.drain()
        pin_prices(runtime, {"BTC/USDT": "40000"})  # BTC closed 20 % lower: a loss of about 20
        await runtime.ingest.receive_tradingview(slug, _body(ticker="BTCUSDT", action="sell"), None, None)
        await runtime.bus.drain()
        assert await runtime.monitor.tick() == 1
    finally:
        await runtime.stop()
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
    runtime, slug, _ = await _started(engine, tmp_path, [spec])
    try:
        await _buy(runtime, slug)
        [position] = _rows(engine, positions)
        assert position.phase == "BUILDING" and position.amount == Decimal("0.002")
        assert [t["trigger"] for t in position.tranches["pending"]] == ["49000", "48000"]

        pin_prices(runtime, {"BTC/USDT": "49500"})
        assert await runtime.monitor.tick() == 0
        pin_prices(runtime, {"BTC/USDT": "48900"})  # through the second tranche's trigger
        assert await runtime.monitor.tick() == 1
        assert await runtime.monitor.tick() == 0  # bought once
        [position] = _rows(engine, positions)
        assert position.phase == "BUILDING" and position.amount == Decimal("0.004")
        assert position.avg_entry == Decimal("49450")  # (50,000 + 48,900) / 2
        assert position.stop_loss == Decimal("44505")  # 10 % below the new average entry

        pin_prices(runtime, {"BTC/USDT": "48000"})
        assert await runtime.monitor.tick() == 1
        [position] = _rows(engine, positions)
        assert position.phase == "OPEN" and position.amount == Decimal("0.006")
        assert position.tranches["pending"] == []

        # A partial sell (the strategy stays long with half) reduces; the exit closes.
        await runtime.ingest.receive_tradingview(
            slug,
            _body(
                ticker="BTCUSDT",
                action="sell",
                market_position="long",
                market_position_size="1",
                prev_market_position_size="2",
            ),
            None,
            None,
        )
        await runtime.bus.drain()
        [position] = _rows(engine, positions)
        assert position.phase == "REDUCING" and position.amount == Decimal("0.003")
        await runtime.ingest.receive_tradingview(slug, _body(ticker="BTCUSDT", action="exit"), None, None)
        await runtime.bus.drain()
    finally:
        await runtime.stop()
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
    runtime, slug, subs = await _started(engine, tmp_path, [{"exit_rules": {"stop_loss_pct": "2"}}])
    try:
        await _buy(runtime, slug)
        [position] = _rows(engine, positions)
        # A stop-loss exit stored but not yet settled (as while the exchange is slow to answer).
        [stored] = runtime.store.save_auto_orders(
            [
                AutoOrder(
                    position_id=position.id,
                    account_id=position.account_id,
                    subscription_id=subs[0],
                    user_id=position.user_id,
                    mode="paper",
                    exchange="paper",
                    symbol="BTC/USDT",
                    amount=position.amount,
                    reason=CloseReason.SL,
                    note="stop loss",
                )
            ],
            runtime.clock.now(),
        )
        await runtime.ingest.receive_tradingview(slug, _body(ticker="BTCUSDT", action="exit"), None, None)
        await runtime.bus.drain()
    finally:
        await runtime.stop()
    intents = _rows(engine, execution_intents)
    assert intents[-1].status == "rejected" and "automated exit" in intents[-1].reason
    assert [o.client_order_id for o in _rows(engine, orders) if o.side == "sell"] == [stored.client_order_id]
