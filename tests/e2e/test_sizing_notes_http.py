"""Over HTTP: every filled order's execution-log entry says how it was sized, in every sizing mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.support import PASSWORD, ServedRuntime, make_runtime, pin_prices

STOP = {"stop_loss_pct": "5"}
MODES: list[tuple[dict[str, Any], str]] = [
    ({"sizing_mode": "fixed_quote", "sizing_value": "100"}, "sized: fixed 100 USDT"),
    ({"sizing_mode": "equity_pct", "sizing_value": "5"}, "sized: 5 % of equity 10000"),
    ({"sizing_mode": "signal", "sizing_value": "2"}, "sized: signal 0.001 × 2"),
    (
        {"sizing_mode": "risk_pct", "sizing_value": "0.5", "sizing_params": STOP},
        "sized: equity 10000 × risk 0.5 % ÷ stop 5 % = 1000",
    ),
    (
        {"sizing_mode": "kelly", "sizing_value": "0.25", "sizing_params": STOP},
        "sized: equity 10000 × risk 1 % ÷ stop 5 % = 2000 (Kelly needs 20 trades, has 0)",
    ),
    (
        {"sizing_mode": "fixed_quote", "sizing_value": "5000"},
        "sized: fixed 5000 USDT, capped at 20 % of equity = 2000",
    ),
]
WEBHOOK = "/api/v1/webhooks/tradingview/tv-sizing"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRuntime]:
    runtime = make_runtime(tmp_path)
    pin_prices(runtime, {"BTC/USDT": "50000"})
    with ServedRuntime(runtime, free_port()) as served:
        yield served


def _user(http: httpx.Client, served: ServedRuntime, name: str) -> dict[str, str]:
    http.post("/api/v1/users", json={"username": name, "password": PASSWORD}).raise_for_status()
    return served.token(name)


def test_each_fill_says_how_it_was_sized_in_every_mode(served: ServedRuntime) -> None:
    http = httpx.Client(base_url=served.url, timeout=10)
    provider = _user(http, served, "provider")
    strategy = http.post(
        "/api/v1/strategies",
        headers=provider,
        json={"name": "sizing", "slug": "tv-sizing", "passphrase": "abcdefgh", "is_public": True},
    ).json()
    traders = []
    for number, (spec, _) in enumerate(MODES):
        auth = _user(http, served, f"trader{number}")
        account = http.post("/api/v1/accounts", headers=auth, json={"name": "paper"}).json()
        body = {"strategy_id": strategy["id"], "account_id": account["id"], **spec}
        created = http.post("/api/v1/subscriptions", headers=auth, json=body)
        assert created.status_code == 201, created.text
        traders.append(auth)

    buy = {"passphrase": "abcdefgh", "ticker": "BTCUSDT", "action": "buy", "contracts": "0.001"}
    assert http.post(WEBHOOK, json=buy).status_code == 202
    served.settle()
    close = {"passphrase": "abcdefgh", "ticker": "BTCUSDT", "action": "sell", "market_position": "flat"}
    assert http.post(WEBHOOK, json=close).status_code == 202
    served.settle()

    for auth, (spec, expected) in zip(traders, MODES, strict=True):
        log = http.get("/api/v1/execution-log", headers=auth).json()
        filled = [e["reason"] for e in log if e["status"] == "SUCCESS" and e["reason"].startswith("filled")]
        [sell, entry] = filled  # newest first
        assert expected in entry, (spec, entry)
        assert "sized: the whole position" in sell, (spec, sell)
