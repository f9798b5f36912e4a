"""The split deployment (issue #15): an API process (TRADEWIRE_ROLE=api) and `tradewire worker`
processes on one PostgreSQL and one Redis, as real processes.

The API process routes and executes nothing: a webhook's signal reaches the active worker through
Redis, a manual close is stored by the API and sent by the worker, balances and prices shown by the
API are the worker's. One worker is active at a time; kill -9 it and the standing-by worker takes over:
nothing is lost and nothing is done twice.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from websockets.sync.client import connect

from tests.conftest import free_port
from tests.e2e.cluster import STARTUP_S, process_env, stop_processes
from tests.support import PASSWORD, orders_by_account, seed_marketplace, send_alert, until
from tradewire.adapters.store.tables import orders, paper_prices, positions, signals

BIN = Path(sys.executable).with_name("tradewire")
SUBSCRIBERS = 4


def _env(tmp_path: Path, data: Path, engine: Engine, prefix: str, **extra: str) -> dict[str, str]:
    return process_env(
        tmp_path,
        engine,
        prefix,
        data,  # the paper market replays it; backtests read it
        TRADEWIRE_JWT_SECRET="split-processes-test-secret-0123456789abcdef",
        TRADEWIRE_RATE_LIMIT_SIGNIN="1000/minute",  # the limits' Redis counts are shared by other tests
        TRADEWIRE_RATE_LIMIT_GENERAL="1000/minute",
        TRADEWIRE_RATE_LIMIT_TRADING="1000/minute",
        # The live channel's catch-up only after 60 s: a fill seen sooner came by the relay's wake-up.
        TRADEWIRE_WS_CATCH_UP_S="60",
        **extra,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    stop_processes(started, 15)


def _count(engine: Engine, table: object, *where: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())  # type: ignore[arg-type]


@pytest.mark.postgres
@pytest.mark.slow
def test_api_and_workers_trade_once_and_a_standby_worker_takes_over_from_a_killed_one(
    tmp_path: Path,
    data_dir: Path,
    postgres_engine: Engine,
    redis_prefix: str,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    engine = postgres_engine
    seeded = seed_marketplace(engine, [{"cooldown_s": 0}] * SUBSCRIBERS)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name: str, args: list[str], **extra: str) -> subprocess.Popen[bytes]:
        with (logs / f"{name}.log").open("wb") as out:
            process = subprocess.Popen(
                [str(BIN), *args],
                env=_env(tmp_path, data_dir, engine, redis_prefix, **extra),
                stdout=out,
                stderr=out,
            )
        processes.append(process)
        return process

    api = start("api", ["serve", "--port", str(port)], TRADEWIRE_ROLE="api")

    def healthy() -> bool:
        assert api.poll() is None, (logs / "api.log").read_text()
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        return False

    until(healthy, "the API process", STARTUP_S)
    token = httpx.post(
        f"{url}/api/v1/auth/token", data={"username": "tv-test-sub1", "password": PASSWORD}, timeout=30
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    def worker_check() -> dict[str, Any]:
        details = httpx.get(f"{url}/api/v1/health/details", headers=auth, timeout=10).json()
        return {**details["checks"]["worker"], "monitor_rounds": details["monitor_rounds"]}

    # No worker yet: the Health page says webhooks wait (the API's readiness does not depend on it).
    until(lambda: "no worker active" in (worker_check()["error"] or ""), "the Health page to miss the worker")
    first = start("worker-a", ["worker"])
    # The worker shares its market's prices; the API shows them.
    until(lambda: _count(engine, paper_prices) > 0, "the worker's paper prices")
    until(lambda: worker_check()["ok"] and worker_check()["monitor_rounds"] > 0, "the worker's status")
    with connect(url.replace("http://", "ws://") + "/api/v1/ws", open_timeout=10) as live:
        live.send(json.dumps({"op": "auth", "token": token}))
        assert json.loads(live.recv(10)) == {"op": "ready"}
        live.send(json.dumps({"op": "subscribe", "topics": ["fills"], "since": None}))
        assert json.loads(live.recv(10))["op"] == "subscribed"
        # 1. A webhook at the API fills every subscriber once, through the worker.
        sent = time.monotonic()
        send_alert(url, "buy", 1)
        until(
            lambda: _count(engine, orders, orders.c.state == "filled") == SUBSCRIBERS, "the buys to fill", 60
        )
        assert first.poll() is None
        # The worker committed the fill; the API's live channel hears of it through Redis at once.
        frame = json.loads(live.recv(20))
        while frame.get("topic") != "fills":
            frame = json.loads(live.recv(20))
        assert time.monotonic() - sent < 20, "the fill came by the 60 s catch-up, not by the relay"
        assert frame["data"]["side"] == "buy"

    # The API reads what the worker keeps: balances from the paper books, prices from the market.
    account_id = seeded.account_ids[0]
    balance = httpx.get(f"{url}/api/v1/accounts/{account_id}/balance", headers=auth, timeout=10)
    assert balance.status_code == 200, balance.text
    assets = balance.json()["assets"]
    assert Decimal(assets["BTC"]["total"]) > 0
    assert Decimal(assets["USDT"]["total"]) < Decimal("10000")

    def same_price() -> bool:  # the worker steps its market every 0.3 s: the API follows it
        with engine.connect() as conn:
            stored = conn.execute(
                select(paper_prices.c.price).where(paper_prices.c.symbol == "BTC/USDT")
            ).scalar_one()
        shown = httpx.get(f"{url}/api/v1/markets", headers=auth, timeout=10).json()
        return any(m["symbol"] == "BTC/USDT" and Decimal(str(m["price"])) == stored for m in shown)

    until(same_price, "the API to show the worker's price")

    # A backtest accepted by the API is run by the worker (API processes run none: a worker that
    # starts would otherwise fail those running in an API process as left by a dead one).
    accepted = httpx.post(
        f"{url}/api/v1/backtests",
        headers=auth,
        json={"strategy": "ema_cross", "symbols": ["BTC/USDT"], "timeframe": "4h"},
        timeout=30,
    )
    assert accepted.status_code == 202, accepted.text
    backtest = f"{url}/api/v1/backtests/{accepted.json()['id']}"
    until(
        lambda: httpx.get(backtest, headers=auth, timeout=10).json()["status"] == "done", "the backtest", 60
    )
    assert f"backtest {accepted.json()['id']} done" in (logs / "worker-a.log").read_text()
    assert "backtest" not in (logs / "api.log").read_text()

    # 2. A manual close at the API is stored there and sent by the worker.
    with engine.connect() as conn:
        position_id = conn.execute(
            select(positions.c.id).where(positions.c.account_id == account_id, positions.c.status == "open")
        ).scalar_one()
    closed = httpx.post(f"{url}/api/v1/positions/{position_id}/close", headers=auth, timeout=10)
    assert closed.status_code in (200, 202, 204), closed.text
    until(
        lambda: _count(engine, positions, positions.c.id == position_id, positions.c.status == "closed") == 1,
        "the manual close to fill",
    )

    # 3. A second worker stands by; kill -9 the active one; the next webhook is traded by the other.
    second = start("worker-b", ["worker"])
    until(lambda: "standing by" in (logs / "worker-b.log").read_text(), "the second worker to stand by")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    send_alert(url, "sell", 2)
    until(
        lambda: _count(engine, positions, positions.c.status == "open") == 0,
        "the sells to close every position",
        60,
    )
    assert second.poll() is None
    assert "active now" in (logs / "worker-b.log").read_text()
    until(lambda: worker_check()["ok"], "the Health page to show the new worker")

    # Nothing lost, nothing twice: one buy per subscriber, one sell each (the manual close for the
    # first), every order filled; both signals routed once.
    time.sleep(1.5)  # a late duplicate would show up within the sweep's interval
    by_account = orders_by_account(engine)
    assert set(by_account) == set(seeded.account_ids)
    for account, placed in by_account.items():
        assert placed == [("buy", "filled"), ("sell", "filled")], (account, placed)
    assert _count(engine, signals) == 2
    assert api.poll() is None
