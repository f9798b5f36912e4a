"""Over HTTP: a HALTED subscription places no order at all — no entry, no signal exit, no stop loss,
no manual close — from the moment its owner sets it, whatever the exit monitor last loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import free_port
from tests.support import PASSWORD, ServedRuntime, make_runtime, pin_prices, until
from tradewire.adapters.store.tables import orders

WEBHOOK = "/api/v1/webhooks/tradingview/tv-halt"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRuntime]:
    runtime = make_runtime(tmp_path, monitor_interval_s=0.05)
    pin_prices(runtime, {"BTC/USDT": "50000"})
    with ServedRuntime(runtime, free_port()) as served:
        yield served


def test_a_halted_subscription_places_no_order_of_any_kind(served: ServedRuntime) -> None:
    http = httpx.Client(base_url=served.url, timeout=10)
    for name in ("provider", "trader"):
        http.post("/api/v1/users", json={"username": name, "password": PASSWORD}).raise_for_status()
    provider, trader = served.token("provider"), served.token("trader")
    strategy = http.post(
        "/api/v1/strategies",
        headers=provider,
        json={"name": "halt", "slug": "tv-halt", "passphrase": "abcdefgh", "is_public": True},
    ).json()
    account = http.post("/api/v1/accounts", headers=trader, json={"name": "paper"}).json()
    subscription = http.post(
        "/api/v1/subscriptions",
        headers=trader,
        json={
            "strategy_id": strategy["id"],
            "account_id": account["id"],
            "risk_limits": {"cooldown_s": 0},
            "exit_rules": {"stop_loss_pct": "2"},
        },
    ).json()
    alert = {"passphrase": "abcdefgh", "ticker": "BTCUSDT"}

    def send(**fields: str) -> dict[str, object]:
        response = http.post(WEBHOOK, json={**alert, **fields})
        assert response.status_code == 202, response.text
        served.settle()
        signal_id = response.json()["signal_id"]
        [intent] = [
            i for i in http.get("/api/v1/intents", headers=trader).json() if i["signal_id"] == signal_id
        ]
        return intent  # type: ignore[no-any-return]

    def order_count() -> int:
        with served.runtime.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(orders)).scalar_one())

    assert send(action="buy", comment="entry")["status"] == "done"
    [position] = http.get("/api/v1/positions", headers=trader).json()
    until(lambda: position["id"] in served.runtime.monitor.book, "the monitor to watch its stop", 10)

    halted = http.patch(
        f"/api/v1/subscriptions/{subscription['id']}", headers=trader, json={"trading_state": "HALTED"}
    )
    assert halted.status_code == 200 and halted.json()["trading_state"] == "HALTED"
    before = order_count()

    # The stop loss is crossed: the monitor still holds the ACTIVE copy it loaded, and places nothing.
    pin_prices(served.runtime, {"BTC/USDT": "48000"})
    evaluations = served.runtime.monitor.stats.evaluations
    until(lambda: served.runtime.monitor.stats.evaluations >= evaluations + 10, "ten more evaluations", 10)
    assert order_count() == before

    entry = send(action="buy", comment="another entry")
    assert entry["status"] == "rejected"
    assert entry["reason"] == "rejected by risk: trading_state: subscription is HALTED: no orders at all"
    close = send(action="sell", market_position="flat", comment="signal exit")
    assert close["status"] == "rejected" and "HALTED: no orders at all" in close["reason"]
    manual = http.post(f"/api/v1/positions/{position['id']}/close", headers=trader)
    assert manual.status_code == 409 and "no orders at all" in manual.text
    assert order_count() == before
    [still] = http.get("/api/v1/positions", headers=trader).json()
    assert still["status"] == "open"
