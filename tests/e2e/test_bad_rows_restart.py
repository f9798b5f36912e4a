"""Rows no current alert can create (an older version stored them, or a hand did) never stop a batch,
the sweep, a restart or a read endpoint: on SQLite and PostgreSQL, over HTTP, across a real restart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, insert, select

from tests.conftest import free_port
from tests.support import (
    Seeded,
    ServedRuntime,
    first_subscriber_columns,
    make_runtime,
    now,
    pin_prices,
    seed_marketplace,
)
from tradewire.adapters.store.tables import execution_intents, orders, signals
from tradewire.runtime import Runtime
from tradewire.services import execution
from tradewire.services.routing import SignalRouter

PRICES = {"BTC/USDT": "96388.12", "ETH/USDT": "3456.78", "SOL/USDT": "184.37"}
# Subscribers: two fixed-size, one copying the signal's size.
SUBSCRIBERS: list[dict[str, Any]] = [
    {"sizing_mode": "fixed_quote", "sizing_value": "100"},
    {"sizing_mode": "signal", "sizing_value": "1"},
    {"sizing_mode": "fixed_quote", "sizing_value": "50"},
]


@dataclass
class Deployment:
    """One database and the runtimes started on it, one after another (a restart)."""

    tmp_path: Path
    database_url: str
    engine: Engine

    def runtime(self) -> Runtime:
        runtime = make_runtime(self.tmp_path, self.database_url)
        pin_prices(runtime, PRICES)
        return runtime


@pytest.fixture
def deployment(engine: Engine, tmp_path: Path) -> Deployment:
    """Runtimes on the `engine` fixture's database (a SQLite file, or a fresh PostgreSQL database)."""
    return Deployment(tmp_path, engine.url.render_as_string(hide_password=False), engine)


def _absurd(engine: Engine) -> Decimal:
    """The worst number each database let an older version store: SQLite kept 1e400000 written out
    in full (400,001 digits); NUMERIC(38, 18) takes nothing past 20 integer digits."""
    if engine.dialect.name == "sqlite":
        return Decimal("1E+400000")
    return Decimal("99999999999999999999.999999999999999999")


def _old_signal(engine: Engine, seeded: Seeded, symbol: str, action: str, **values: Any) -> int:
    row = {
        "strategy_id": seeded.strategy_id,
        "dedup_key": f"old-{symbol}-{action}-{values.get('price')}",
        "status": "received",
        "action": action,
        "ticker": symbol.replace("/", ""),
        "symbol": symbol,
        "details": {"ticker": symbol.replace("/", "")},
        "received_at": now() - timedelta(minutes=1),
        **values,
    }
    with engine.begin() as conn:
        return int(conn.execute(insert(signals).values(row)).inserted_primary_key[0])  # type: ignore[index]


def _stuck_order(engine: Engine, seeded: Seeded) -> int:
    """An order sent before a crash whose outcome is unknown: the sweep must keep checking it."""
    row = {
        **first_subscriber_columns(seeded),
        "client_order_id": "tw-stuck-order-0001",
        "symbol": "SOL/USDT",
        "side": "buy",
        "type": "market",
        "amount": Decimal("0.5"),
        "state": "submitted",
        "filled": Decimal(0),
        "fee": Decimal(0),
        "created_at": now(),
        "updated_at": now(),
        "next_check_at": now(),
        "check_attempts": 0,
    }
    with engine.begin() as conn:
        return int(conn.execute(insert(orders).values(row)).inserted_primary_key[0])  # type: ignore[index]


def _rows(engine: Engine, query: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(query).all())


def _post(served: ServedRuntime, seeded: Seeded, **fields: str) -> httpx.Response:
    body = {"passphrase": "abcdefgh", **fields}
    response = httpx.post(f"{served.url}/api/v1/webhooks/tradingview/{seeded.slug}", json=body, timeout=10)
    served.settle()
    return response


def test_old_rows_with_absurd_numbers_stop_nothing_across_a_restart(deployment: Deployment) -> None:
    # Arrange: the platform runs and trades; then, with it stopped, the rows an older version could
    # have stored: a buy with an absurd size and price, unrouted (the server died after storing it),
    # a sell at an absurd price after an entry at the smallest price (its track-record return
    # overflows NUMERIC on PostgreSQL), and an order whose outcome is still unknown.
    runtime = deployment.runtime()
    seeded = seed_marketplace(runtime.engine, SUBSCRIBERS)
    with ServedRuntime(runtime, free_port()) as served:
        entry = _post(
            served, seeded, ticker="BTCUSDT", action="buy", contracts="0.001", price="0.000000000000000001"
        )
        assert entry.status_code == 202, entry.text
    engine = deployment.engine
    absurd = _absurd(engine)
    bad_buy = _old_signal(engine, seeded, "ETH/USDT", "buy", contracts=absurd, price=absurd)
    exit_ = _old_signal(engine, seeded, "BTC/USDT", "exit", price=Decimal("99999999999999999999"))
    stuck = _stuck_order(engine, seeded)

    # Act: a real restart on the same database (recovery runs in the app's start-up), then a fresh alert
    restarted = deployment.runtime()
    with ServedRuntime(restarted, free_port()) as served:
        fresh = _post(served, seeded, ticker="SOLUSDT", action="buy", contracts="0.1")
        served.run(restarted.pipeline.sweep())  # one more sweep, as the loop does every 2 s
        provider = served.token(f"provider-{seeded.slug}")
        listed = httpx.get(f"{served.url}/api/v1/signals", headers=provider, timeout=10)
        subscriber = served.token(f"{seeded.slug}-sub2")
        intents = httpx.get(f"{served.url}/api/v1/intents", headers=subscriber, timeout=10)

    # Assert: the start-up finished, every signal was routed and every intent decided
    assert fresh.status_code == 202, fresh.text
    statuses = dict(_rows(engine, select(signals.c.id, signals.c.status)))
    assert statuses[bad_buy] == "routed" and statuses[exit_] == "routed"
    decided = _rows(engine, select(execution_intents.c.signal_id, execution_intents.c.status))
    assert decided and all(status in ("done", "rejected") for _, status in decided)
    # The fixed-size subscribers traded the old buy (they never read its size) and closed BTC.
    by_signal = {
        signal_id: sorted(
            r.state
            for r in _rows(
                engine,
                select(orders.c.state)
                .join(execution_intents, execution_intents.c.id == orders.c.intent_id)
                .where(execution_intents.c.signal_id == signal_id),
            )
        )
        for signal_id in (bad_buy, exit_)
    }
    assert by_signal[exit_] == ["filled"] * 3
    assert by_signal[bad_buy].count("filled") >= 2
    # The SOL alert after the restart traded for everyone.
    sol = _rows(
        engine, select(orders.c.state).where(orders.c.symbol == "SOL/USDT", orders.c.intent_id.is_not(None))
    )
    assert [r.state for r in sol] == ["filled"] * 3
    # The order of unknown outcome was looked up by the sweep.
    [checked] = _rows(engine, select(orders.c.state, orders.c.check_attempts).where(orders.c.id == stuck))
    assert checked.state != "submitted" or checked.check_attempts >= 1
    # GET /signals lists every signal, the absurd one included.
    assert listed.status_code == 200, listed.text
    assert {s["id"] for s in listed.json()} >= {bad_buy, exit_}
    assert intents.status_code == 200
    if deployment.engine.dialect.name == "sqlite":
        [old] = [s for s in listed.json() if s["id"] == bad_buy]
        assert old["contracts"] == "1E+400000"
        [copied] = [i for i in intents.json() if i["signal_id"] == bad_buy]
        assert copied["status"] == "rejected" and "beyond what can be stored" in copied["reason"]


def test_an_intent_that_keeps_failing_stops_after_five_tries_and_its_batch_trades(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: an error nobody foresaw, raised while deciding ETH entries of the signal-sized subscriber
    runtime = deployment.runtime()
    seeded = seed_marketplace(runtime.engine, SUBSCRIBERS)
    real_plan = execution.plan_spot_order
    copying = seeded.subscription_ids[1]

    def failing_plan(signal: Any, sizing: Any, market: Any, *args: Any, **kwargs: Any) -> Any:
        if market.symbol == "ETH/USDT" and sizing.mode.value == "signal":
            raise RuntimeError("unforeseen")
        return real_plan(signal, sizing, market, *args, **kwargs)

    monkeypatch.setattr(execution, "plan_spot_order", failing_plan)
    with ServedRuntime(runtime, free_port()) as served:
        accepted = _post(served, seeded, ticker="ETHUSDT", action="buy", contracts="0.01")
        for _ in range(6):
            served.run(runtime.pipeline.sweep())
        subscriber = served.token(f"{seeded.slug}-sub2")
        intents = httpx.get(f"{served.url}/api/v1/intents", headers=subscriber, timeout=10).json()
        log = httpx.get(f"{served.url}/api/v1/execution-log", headers=subscriber, timeout=10).json()

    # Assert: the other subscribers of the same batch traded at once; the failing intent is failed,
    # with its reason, after exactly five attempts, and logged.
    assert accepted.status_code == 202
    engine = deployment.engine
    rows = _rows(
        engine,
        select(execution_intents.c.subscription_id, execution_intents.c.status, execution_intents.c.attempts),
    )
    states = {r.subscription_id: (r.status, r.attempts) for r in rows}
    assert states[copying] == ("failed", 5)
    assert {states[s][0] for s in seeded.subscription_ids if s != copying} == {"done"}
    [failed] = intents
    assert (
        failed["status"] == "failed"
        and "failed 5 times" in failed["reason"]
        and "unforeseen" in failed["reason"]
    )
    assert any(entry["status"] == "FAILED" and "unforeseen" in entry["reason"] for entry in log)


def test_a_signal_whose_routing_keeps_failing_is_marked_failed_and_the_sweep_goes_on(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: routing of one signal raises every time; an order is due for a check meanwhile
    runtime = deployment.runtime()
    seeded = seed_marketplace(runtime.engine, SUBSCRIBERS)
    broken = _old_signal(deployment.engine, seeded, "ETH/USDT", "buy")
    real_route = SignalRouter.route

    async def route(self: SignalRouter, signal_id: int) -> int:
        if signal_id == broken:
            raise RuntimeError("cannot route this one")
        return await real_route(self, signal_id)

    monkeypatch.setattr(SignalRouter, "route", route)

    # Act: the start-up recovery; an order of unknown outcome comes due; five sweeps
    with ServedRuntime(runtime, free_port()) as served:
        stuck = _stuck_order(deployment.engine, seeded)
        for _ in range(5):
            served.run(runtime.pipeline.sweep())
        fresh = _post(served, seeded, ticker="SOLUSDT", action="buy", contracts="0.1")
        provider = served.token(f"provider-{seeded.slug}")
        listed = httpx.get(f"{served.url}/api/v1/signals", headers=provider, timeout=10).json()

    # Assert
    [signal] = [s for s in listed if s["id"] == broken]
    assert signal["status"] == "failed"
    assert "routing failed 5 times" in signal["reason"] and "cannot route this one" in signal["reason"]
    # The sweep went on to check the due order (the paper venue had never seen it: it was sent and filled).
    [checked] = _rows(deployment.engine, select(orders.c.state).where(orders.c.id == stuck))
    assert checked.state == "filled"
    assert fresh.status_code == 202
    sol = _rows(
        deployment.engine,
        select(orders.c.state).where(orders.c.symbol == "SOL/USDT", orders.c.intent_id.is_not(None)),
    )
    assert [r.state for r in sol] == ["filled"] * 3
