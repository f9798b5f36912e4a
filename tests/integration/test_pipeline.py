"""A signal through ingest, routing, execution and recording, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from tests.support import make_runtime, pin_prices, seed_marketplace
from tradewire.adapters.store.tables import execution_intents, execution_log, orders, positions

SUBSCRIPTIONS = [
    {"sizing_mode": "fixed_quote", "sizing_value": "100"},
    {"sizing_mode": "equity_pct", "sizing_value": "10"},
    {"pairs": ["ETH/USDT"]},
    {"status": "PAUSED"},
    {"sizing_mode": "signal", "sizing_value": "1"},
]


def _body(**fields: object) -> bytes:
    return json.dumps({"passphrase": "abcdefgh", **fields}).encode()


async def test_a_buy_then_a_close_trades_every_matching_subscription(engine: Engine, tmp_path: Path) -> None:
    seeded = seed_marketplace(engine, SUBSCRIPTIONS)
    runtime = make_runtime(tmp_path, engine.url.render_as_string(hide_password=False))
    pin_prices(runtime, {"BTC/USDT": "50000"})
    await runtime.start()
    try:
        buy = await runtime.ingest.receive_tradingview(
            seeded.slug, _body(ticker="BINANCE:BTCUSDT", action="buy", contracts="0.001234567"), None, None
        )
        await runtime.bus.drain()
        pin_prices(runtime, {"BTC/USDT": "51000"})
        close = await runtime.ingest.receive_tradingview(
            seeded.slug, _body(ticker="BTCUSDT", action="sell", market_position="flat"), None, None
        )
        await runtime.bus.drain()
    finally:
        await runtime.stop()

    with engine.connect() as conn:
        intents = conn.execute(select(execution_intents).order_by(execution_intents.c.id)).all()
        placed = conn.execute(select(orders).order_by(orders.c.id)).all()
        held = conn.execute(select(positions).order_by(positions.c.id)).all()
        log = conn.execute(select(execution_log)).all()
    subscribed = {seeded.subscription_ids[i] for i in (0, 1, 4)}
    assert {i.subscription_id for i in intents if i.signal_id == buy.signal_id} == subscribed
    assert {i.subscription_id for i in intents if i.signal_id == close.signal_id} == subscribed
    buys = {o.subscription_id: o for o in placed if o.side == "buy"}
    assert buys[seeded.subscription_ids[0]].amount == Decimal("0.002")  # 100 USDT at 50,000
    assert buys[seeded.subscription_ids[1]].amount == Decimal("0.02")  # 10 % of 10,000 USDT
    assert buys[seeded.subscription_ids[4]].amount == Decimal("0.00123")  # the signal's size, to step
    assert all(o.state == "filled" for o in placed)
    assert len(placed) == 6
    assert all(p.status == "closed" and p.close_reason == "SIGNAL" for p in held)
    first = next(p for p in held if p.subscription_id == seeded.subscription_ids[0])
    assert first.realized_pnl == Decimal("2")  # (51,000 − 50,000) × 0.002
    assert first.fees == Decimal("0.1") + Decimal("0.102")  # 0.1 % of each side's value
    assert sorted(r.status for r in log) == ["SUCCESS"] * 6


async def test_equity_and_balances_follow_the_fills(engine: Engine, tmp_path: Path) -> None:
    seeded = seed_marketplace(engine, [{}])
    runtime = make_runtime(tmp_path, engine.url.render_as_string(hide_password=False))
    pin_prices(runtime, {"BTC/USDT": "50000"})
    await runtime.start()
    try:
        await runtime.ingest.receive_tradingview(
            seeded.slug, _body(ticker="BTCUSDT", action="buy"), None, None
        )
        await runtime.bus.drain()
        balance = await runtime.venue.account(seeded.account_ids[0]).fetch_balance()
    finally:
        await runtime.stop()

    assert balance["USDT"] == Decimal("9899.9")
    assert balance["BTC"] == Decimal("0.002")
