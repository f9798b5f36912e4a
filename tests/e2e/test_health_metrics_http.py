"""Over HTTP: /health checks the database and the bus (503 naming what failed, in time, sharing one
check in flight), /health/live stays cheap; /metrics counts webhooks, signals, intents and orders as the
database has them, and is served to this machine only unless a token is set."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.conftest import free_port
from tests.support import PASSPHRASE, ServedRuntime, make_runtime, pin_prices, seed_marketplace
from tradewire.adapters.health import HealthChecks
from tradewire.adapters.store.db import make_engine
from tradewire.adapters.store.tables import orders
from tradewire.api.app import create_app


def _serve(tmp_path: Path, **settings: Any) -> ServedRuntime:
    return ServedRuntime(make_runtime(tmp_path, **settings), free_port())


def _http(served: ServedRuntime) -> httpx.Client:
    return httpx.Client(base_url=served.url, timeout=10)


def _metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus' text format (None when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        metric, _, label_text = sample.partition("{")
        found = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if metric == name and found == wanted:
            return float(value)
    return None


# -- /health ---------------------------------------------------------------------------------------


def test_health_reports_the_database_and_the_bus(tmp_path: Path) -> None:
    with _serve(tmp_path) as served:
        http = _http(served)
        health = http.get("/health")
        live = http.get("/health/live")
        markets = len(served.runtime.venue.markets)

    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert body["markets"] == markets > 0 and body["version"]
    assert set(body["checks"]) == {"database", "bus"}
    assert all(check["ok"] and check["ms"] >= 0 for check in body["checks"].values())
    assert live.json() == {"status": "ok", "version": body["version"], "markets": body["markets"]}


def test_a_stopped_bus_answers_503_naming_it_while_liveness_stays_200(tmp_path: Path) -> None:
    with _serve(tmp_path) as served:
        served.run(served.runtime.bus.stop())
        http = _http(served)
        health, live = http.get("/health"), http.get("/health/live")
        served.run(served.runtime.bus.start())
        again = http.get("/health")

    assert health.status_code == 503
    assert health.json()["status"] == "failing" and health.json()["failing"] == ["bus"]
    assert health.json()["checks"]["bus"]["error"] == "not started"
    assert health.json()["checks"]["database"]["ok"]
    assert live.status_code == 200
    assert again.status_code == 200


class SilentServer:
    """A TCP port that accepts connections and never answers: a database that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        for connection in self.accepted:
            connection.close()
        self.sock.close()


def test_a_database_that_hangs_answers_503_in_time_and_holds_one_connection(tmp_path: Path) -> None:
    silent = SilentServer()
    hanging = make_engine(
        f"postgresql://u@127.0.0.1:{silent.port}/db", pool_pre_ping=False, connect_args={"connect_timeout": 5}
    )
    with _serve(tmp_path) as served:
        served.runtime.health = HealthChecks(hanging, served.runtime.bus.problem, timeout_s=0.3)
        http = _http(served)
        answers = [http.get("/health") for _ in range(4)]
    silent.close()
    hanging.dispose()

    for answer in answers:
        assert answer.status_code == 503
        assert answer.json()["failing"] == ["database"]
        assert answer.json()["checks"]["database"]["error"] == "no answer within 0.3s"
        assert answer.elapsed.total_seconds() < 2
    assert len(silent.accepted) == 1  # the checks in flight are shared: one stuck thread, not four


def test_a_database_that_refuses_answers_503_without_its_details(tmp_path: Path) -> None:
    refused = make_engine(f"postgresql://user:pw-secret@127.0.0.1:{free_port()}/db", pool_pre_ping=False)
    with _serve(tmp_path) as served:
        served.runtime.health = HealthChecks(refused, served.runtime.bus.problem, timeout_s=5)
        answer = _http(served).get("/health")
    refused.dispose()

    assert answer.status_code == 503
    assert answer.json()["checks"]["database"] == {
        "ok": False,
        "ms": answer.json()["checks"]["database"]["ms"],
        "error": "query failed",
    }
    assert "127.0.0.1" not in answer.text and "pw-secret" not in answer.text


# -- /metrics --------------------------------------------------------------------------------------


def test_metrics_count_webhooks_signals_and_orders_as_the_database_has_them(tmp_path: Path) -> None:
    with _serve(tmp_path) as served:
        runtime = served.runtime
        seeded = seed_marketplace(runtime.engine, [{"sizing_value": "10"}] * 3)
        pin_prices(runtime, {"BTC/USDT": "60000"})
        http = _http(served)
        hook = f"/api/v1/webhooks/tradingview/{seeded.slug}"
        for n in range(4):
            alert = {
                "passphrase": PASSPHRASE,
                "ticker": "BTCUSDT",
                "action": "buy",
                "time": f"2025-01-0{n + 1}",
            }
            assert http.post(hook, json=alert).status_code == 202
        assert (
            http.post(
                hook, json={"passphrase": "wrong-one", "ticker": "BTCUSDT", "action": "buy"}
            ).status_code
            == 401
        )
        served.settle()
        answer = http.get("/metrics")
        with runtime.engine.connect() as connection:
            by_state = dict(
                connection.execute(select(orders.c.state, func.count()).group_by(orders.c.state)).all()
            )

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    text = answer.text
    assert _metric(text, "tradewire_webhook_seconds_count", status="202") == 4
    assert _metric(text, "tradewire_webhook_seconds_count", status="401") == 1
    assert _metric(text, "tradewire_webhook_seconds_bucket", status="202", le="+Inf") == 4
    assert _metric(text, "tradewire_signals", status="routed") == 4
    assert sum(by_state.values()) == 12
    for state, count in by_state.items():
        assert _metric(text, "tradewire_orders", state=state) == count
    assert sum(_metric(text, "tradewire_intents", status=s) or 0 for s in ("done", "ordered")) == 12
    lag = _metric(text, "tradewire_exit_monitor_lag_seconds")
    assert lag is not None and 0 <= lag < 10
    assert (_metric(text, "tradewire_exit_monitor_rounds_total") or 0) >= 1


def test_metrics_are_served_to_this_machine_only_unless_a_token_is_set(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    app = create_app(runtime)

    async def get(client_host: str, headers: dict[str, str] | None = None) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(client_host, 50_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://tradewire") as http:
            return await http.get("/metrics", headers=headers)

    local, remote, ipv6_local = (asyncio.run(get(host)) for host in ("127.0.0.1", "203.0.113.7", "::1"))
    assert (local.status_code, remote.status_code, ipv6_local.status_code) == (200, 403, 200)

    runtime = make_runtime(tmp_path / "token", metrics_token="scrape-me")
    app = create_app(runtime)
    answers = {
        "none": asyncio.run(get("127.0.0.1")),
        "wrong": asyncio.run(get("203.0.113.7", {"Authorization": "Bearer nope"})),
        "right": asyncio.run(get("203.0.113.7", {"Authorization": "Bearer scrape-me"})),
    }
    assert answers["none"].status_code == 401 and answers["none"].headers["www-authenticate"] == "Bearer"
    assert answers["wrong"].status_code == 401
    assert answers["right"].status_code == 200 and "tradewire_webhook_seconds" in answers["right"].text
    assert "/metrics" not in app.openapi()["paths"]
