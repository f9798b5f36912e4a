"""Kill the real server at each dangerous gap, restart it, and find every order placed exactly once."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.cluster import stop_processes

BIN = Path(sys.executable).with_name("tradewire")
ALERT = {
    "passphrase": None,
    "time": "2025-01-15T14:30:05Z",
    "ticker": "BINANCE:BTCUSDT",
    "action": "buy",
    "contracts": "0.001",
}
SUBSCRIBERS = 5
FAILPOINTS = ["after_signal_stored", "after_intents", "after_orders_stored", "after_orders_sent"]


def _env(var_dir: Path, failpoint: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIRE_")}
    env.update(
        TRADEWIRE_VAR_DIR=str(var_dir),
        TRADEWIRE_DATA_DIR=str(var_dir / "no-candles"),  # seeded simulated prices
        TRADEWIRE_FEED_INTERVAL_S="3600",
        TRADEWIRE_RECONCILE_INTERVAL_S="0.5",
        TRADEWIRE_CONFIG=str(var_dir / "absent.toml"),
    )
    if failpoint:
        env["TRADEWIRE_FAILPOINT"] = failpoint
    return env


def _wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become healthy")


def _demo(
    var_dir: Path, port: int, failpoint: str, processes: list[subprocess.Popen[str]]
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """The demo, armed to die at `failpoint`, once healthy, and what it printed of itself."""
    demo = subprocess.Popen(
        [str(BIN), "demo", "--json", "--subscribers", str(SUBSCRIBERS), "--port", str(port)],
        env=_env(var_dir, failpoint),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    processes.append(demo)
    assert demo.stdout is not None
    info = json.loads(demo.stdout.readline())
    _wait_healthy(f"http://127.0.0.1:{port}", demo)
    return demo, info


def _serve(var_dir: Path, port: int, db: Path, processes: list[subprocess.Popen[str]]) -> None:
    """The server again on the demo's database `db`, without a failpoint, once healthy."""
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env={**_env(var_dir, None), "TRADEWIRE_DATABASE_URL": f"sqlite:///{db}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    processes.append(server)
    _wait_healthy(f"http://127.0.0.1:{port}", server)


def _until(done: Callable[[], bool], timeout_s: float = 15) -> None:
    """Wait for `done` (the assertions after it say what was missing if it never came)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done():
        time.sleep(0.2)


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    stop_processes(started, 10)


@pytest.mark.slow
@pytest.mark.parametrize("failpoint", FAILPOINTS)
def test_a_crash_at_any_step_is_finished_once_on_restart(
    failpoint: str, tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    # Arrange: the demo, armed to die at the failpoint.
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    demo, info = _demo(tmp_path, port, failpoint, processes)
    assert {"api", "webhook_url", "passphrase", "provider", "subscribers"} <= set(info)
    assert len(info["subscribers"]) == SUBSCRIBERS
    alert = {**ALERT, "passphrase": info["passphrase"]}

    # Act: the alert kills it; a restart without the failpoint recovers; TradingView's retry arrives.
    try:
        httpx.post(info["webhook_url"], json=alert, timeout=10)
    except httpx.HTTPError:
        assert failpoint == "after_signal_stored"  # died before answering
    assert demo.wait(20) == 137
    db = tmp_path / "demo.db"  # the demo's own database, served again as it was
    _serve(tmp_path, port, db, processes)
    retry = httpx.post(info["webhook_url"], json=alert, timeout=10)
    _until(
        lambda: (
            _rows(db, "SELECT count(*) FROM orders")[0][0] == SUBSCRIBERS
            and _rows(db, "SELECT count(*) FROM orders WHERE state NOT IN ('filled')")[0][0] == 0
        )
    )

    subscriber = info["subscribers"][0]
    login = httpx.post(f"{url}/api/v1/auth/token", data=subscriber, timeout=10)
    positions = httpx.get(
        f"{url}/api/v1/positions", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )

    # Assert: the demo's logins work; one signal, one intent per subscriber, one order per intent,
    # sent once, filled once.
    assert [p["symbol"] for p in positions.json()] == ["BTC/USDT"]
    assert retry.status_code == 202 and retry.json()["duplicate"] is True
    assert _rows(db, "SELECT count(*) FROM signals") == [(1,)]
    assert _rows(db, "SELECT status, count(*) FROM execution_intents GROUP BY status") == [
        ("done", SUBSCRIBERS)
    ]
    per_intent = _rows(db, "SELECT intent_id, count(*), min(state) FROM orders GROUP BY intent_id")
    assert len(per_intent) == SUBSCRIBERS
    assert all(count == 1 and state == "filled" for _, count, state in per_intent)
    assert _rows(db, "SELECT count(*), count(DISTINCT client_order_id) FROM paper_orders") == [
        (SUBSCRIBERS, SUBSCRIBERS)
    ]
    assert _rows(db, "SELECT count(*) FROM fills") == [(SUBSCRIBERS,)]
    assert _rows(db, "SELECT count(*) FROM positions WHERE status = 'open'") == [(SUBSCRIBERS,)]
    assert _rows(db, "SELECT count(*) FROM positions WHERE amount = '0.001'")[0][0] >= 1


@pytest.mark.slow
def test_orders_stored_before_a_halt_are_not_sent_on_restart(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    # Arrange: the demo dies right after its orders are stored (NEW, not sent); meanwhile two of the
    # subscriptions are set HALTED and one REDUCING (an entry is refused there too).
    port = free_port()
    demo, info = _demo(tmp_path, port, "after_orders_stored", processes)
    with contextlib.suppress(httpx.HTTPError):  # the answer may or may not leave before the crash
        httpx.post(info["webhook_url"], json={**ALERT, "passphrase": info["passphrase"]}, timeout=10)
    assert demo.wait(20) == 137
    db = tmp_path / "demo.db"
    assert _rows(db, "SELECT state, count(*) FROM orders GROUP BY state") == [("new", SUBSCRIBERS)]
    halted = [r[0] for r in _rows(db, "SELECT subscription_id FROM orders ORDER BY id")[:3]]
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE subscriptions SET trading_state = 'HALTED' WHERE id IN (?, ?)", halted[:2])
        conn.execute("UPDATE subscriptions SET trading_state = 'REDUCING' WHERE id = ?", halted[2:])

    # Act: start again; recovery resumes the stored orders.
    _serve(tmp_path, port, db, processes)
    _until(lambda: not _rows(db, "SELECT count(*) FROM orders WHERE state IN ('new', 'submitted')")[0][0])

    # Assert: the refused orders never reached the paper exchange; their intents say why.
    refused = _rows(
        db,
        "SELECT o.subscription_id, o.state, o.rejection, o.reason, i.status, i.reason FROM orders o "
        f"JOIN execution_intents i ON i.id = o.intent_id WHERE o.subscription_id IN {tuple(halted)} "
        "ORDER BY o.id",
    )
    assert [r[1:3] + r[4:5] for r in refused] == [("rejected", "not_sent", "failed")] * 3
    assert [r[5] for r in refused] == [
        "not sent: subscription HALTED (no orders at all)",
        "not sent: subscription HALTED (no orders at all)",
        "not sent: subscription REDUCING (exits only, no entries)",
    ]
    assert all(r[3] == r[5] for r in refused)
    sent = _rows(db, "SELECT client_order_id FROM paper_orders")
    refused_ids = _rows(db, f"SELECT client_order_id FROM orders WHERE subscription_id IN {tuple(halted)}")
    assert len(sent) == SUBSCRIBERS - 3 and not set(sent) & set(refused_ids)
    assert _rows(db, "SELECT state, count(*) FROM orders WHERE state != 'rejected' GROUP BY state") == [
        ("filled", SUBSCRIBERS - 3)
    ]
    assert _rows(db, f"SELECT count(*) FROM positions WHERE subscription_id IN {tuple(halted)}") == [(0,)]
