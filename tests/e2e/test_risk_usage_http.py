"""GET /api/v1/risk over real HTTP: each subscription's daily loss, drawdown and open positions against
its limits, as the entry rules count them; a user sees only their own subscriptions."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.test_risk_rules_http import PRICES, Desk
from tests.support import PASSWORD, ServedRuntime, make_runtime, pin_prices


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    runtime = make_runtime(tmp_path)
    pin_prices(runtime, PRICES)
    with ServedRuntime(runtime, free_port()) as served:
        yield Desk(served)


def test_usage_counts_what_the_rules_count_and_stays_private(desk: Desk) -> None:
    desk.limits(max_positions_per_strategy=2, daily_loss_quote="40")
    # Someone else's subscription to the same strategy, with a position of its own.
    assert (
        desk.http.post("/api/v1/users", json={"username": "other", "password": PASSWORD}).status_code == 201
    )
    other = desk.served.token("other")
    account = desk.http.post("/api/v1/accounts", headers=other, json={"name": "theirs"}).json()
    created = desk.http.post(
        "/api/v1/subscriptions",
        headers=other,
        json={
            "strategy_id": desk.strategy_id,
            "account_id": account["id"],
            "sizing_mode": "fixed_quote",
            "sizing_value": "100",
            "risk_limits": {"cooldown_s": 0, "max_positions_per_strategy": 7},
        },
    )
    assert created.status_code == 201, created.text
    assert desk.alert("BTCUSDT", "buy")["status"] == "done"
    assert desk.alert("ETHUSDT", "buy")["status"] == "done"

    mine = desk.get("/api/v1/risk")
    [sub] = mine["subscriptions"]
    assert sub["subscription_id"] == desk.subscription and sub["strategy_slug"] == "risky"
    assert sub["mode"] == "paper" and sub["quote"] == "USDT"
    assert sub["equity"] is not None and Decimal(sub["equity"]) > 0 and sub["equity_error"] is None
    limits = {u["rule"]: u for u in sub["limits"]}
    assert list(limits) == ["daily_loss", "drawdown", "positions_per_strategy", "positions_total"]
    per = limits["positions_per_strategy"]
    assert (per["used"], per["limit"], per["passed"]) == ("2", "2", False)
    assert per["detail"] == "2 open, limit 2"
    assert (limits["positions_total"]["used"], limits["positions_total"]["limit"]) == ("2", "50")
    # No loss yet; the smaller of 5 % of equity and 40 USDT bounds it.
    loss = limits["daily_loss"]
    assert (loss["used"], loss["limit"], loss["passed"]) == ("0", "40", True)
    assert (limits["drawdown"]["used"], limits["drawdown"]["limit"], limits["drawdown"]["warn"]) == (
        "0",
        "25",
        "15",
    )

    # A third entry is refused by the very rule the usage showed failing.
    refused = desk.alert("SOLUSDT", "buy")
    assert refused["failed"] == {"positions_per_strategy"}

    theirs = desk.get("/api/v1/risk", headers=other)
    [their] = theirs["subscriptions"]
    assert their["subscription_id"] == created.json()["id"] and their["account_id"] == account["id"]
    their_limits = {u["rule"]: u for u in their["limits"]}
    assert their_limits["positions_per_strategy"]["used"] == "3"  # its own three (SOL too), not mine
    assert their_limits["positions_per_strategy"]["limit"] == "7"
    # The provider subscribes to nothing: nothing to show, nobody else's.
    assert desk.get("/api/v1/risk", headers=desk.provider)["subscriptions"] == []
    assert desk.http.get("/api/v1/risk").status_code == 401
