"""End to end over real HTTP: TradingView's sample alerts become paper orders for every subscriber."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import free_port
from tests.support import PASSWORD, ServedRuntime, make_runtime, pin_prices
from tradewire.adapters.store.tables import execution_intents, orders, signals

PRICES = {
    "BTC/USDT": "96388.12",
    "ETH/USDT": "3456.78",
    "SOL/USDT": "184.37",
    "DOGE/USDT": "0.0027451",
}
SUBSCRIBERS: list[dict[str, Any]] = [
    {"sizing_mode": "fixed_quote", "sizing_value": "100"},
    {"sizing_mode": "equity_pct", "sizing_value": "5"},
    {"sizing_mode": "fixed_quote", "sizing_value": "50", "pairs": ["ETH/USDT"]},
    {"sizing_mode": "signal", "sizing_value": "1"},
    {"sizing_mode": "fixed_quote", "sizing_value": "100", "paused": True},
]


class Platform:
    """A served platform with a provider, a strategy and five subscribers, all made through the API."""

    def __init__(self, served: ServedRuntime) -> None:
        self.served = served
        self.http = httpx.Client(base_url=served.url, timeout=10)
        self.users: list[dict[str, Any]] = []
        self._signup("provider")
        self.provider = served.token("provider")
        created = self.http.post(
            "/api/v1/strategies",
            headers=self.provider,
            json={"name": "TV strategy", "slug": "tv-strategy", "passphrase": "abcdefgh", "is_public": True},
        )
        assert created.status_code == 201, created.text
        self.strategy = created.json()
        self.webhook = f"/api/v1/webhooks/tradingview/{self.strategy['slug']}"
        for number, spec in enumerate(SUBSCRIBERS, start=1):
            name = f"trader{number}"
            self._signup(name)
            headers = served.token(name)
            account = self.http.post("/api/v1/accounts", headers=headers, json={"name": "paper"}).json()
            body = {
                "strategy_id": self.strategy["id"],
                "account_id": account["id"],
                "sizing_mode": spec["sizing_mode"],
                "sizing_value": spec["sizing_value"],
                "pairs": spec.get("pairs"),
                # The samples trade BTC/USDT several times within seconds; the cooldown has its own test.
                "risk_limits": {"cooldown_s": 0},
            }
            subscription = self.http.post("/api/v1/subscriptions", headers=headers, json=body)
            assert subscription.status_code == 201, subscription.text
            if spec.get("paused"):
                paused = self.http.patch(
                    f"/api/v1/subscriptions/{subscription.json()['id']}",
                    headers=headers,
                    json={"status": "PAUSED"},
                )
                assert paused.json()["status"] == "PAUSED"
            self.users.append({"headers": headers, "account": account, "subscription": subscription.json()})

    def _signup(self, username: str) -> None:
        response = self.http.post("/api/v1/users", json={"username": username, "password": PASSWORD})
        assert response.status_code == 201, response.text

    def alert(self, case: dict[str, Any], passphrase_in_url: bool = False) -> httpx.Response:
        url = self.webhook + ("?passphrase=abcdefgh" if passphrase_in_url else "")
        response = self.http.post(
            url, content=case["body"].encode(), headers={"Content-Type": case["content_type"]}
        )
        self.served.settle()
        return response

    def get(self, path: str, user: int, **params: Any) -> Any:
        response = self.http.get(path, headers=self.users[user]["headers"], params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def send(self, method: str, path: str, user: int, body: dict[str, Any]) -> httpx.Response:
        """A JSON request as subscriber `user`."""
        return self.http.request(method, path, headers=self.users[user]["headers"], json=body)

    def buy(self, ticker: str) -> httpx.Response:
        """A JSON buy alert for `ticker`, handled to the end."""
        body = {"passphrase": "abcdefgh", "ticker": ticker, "action": "buy"}
        response = self.http.post(self.webhook, json=body)
        self.served.settle()
        return response

    def count(self, table: Any) -> int:
        with self.served.runtime.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def cases(data_dir: Path) -> dict[str, dict[str, Any]]:
    raw = json.loads((data_dir / "webhooks" / "tradingview_cases.json").read_text())
    return {case["id"]: case for case in raw["cases"]}


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    runtime = make_runtime(tmp_path)
    pin_prices(runtime, PRICES)
    with ServedRuntime(runtime, free_port()) as served:
        yield Platform(served)


def _orders_of(platform: Platform, user: int, symbol: str) -> list[dict[str, Any]]:
    return [o for o in platform.get("/api/v1/orders", user) if o["symbol"] == symbol]


def test_every_sample_alert_gets_the_handling_its_case_expects(
    platform: Platform, cases: dict[str, dict[str, Any]]
) -> None:
    # A strategy entry: DOGE for every subscriber without a pair filter, the paused one excluded.
    doge = platform.alert(cases["tv01_strategy_full_buy"])
    assert doge.status_code == 202, doge.text
    assert doge.json()["symbol"] == "DOGE/USDT"
    assert [len(_orders_of(platform, u, "DOGE/USDT")) for u in range(5)] == [1, 1, 0, 1, 0]
    assert _orders_of(platform, 3, "DOGE/USDT")[0]["amount"] == "10000"  # copies the signal's size

    # Quoted numbers.
    assert platform.alert(cases["tv04_flat_quoted_strings"]).status_code == 202
    assert _orders_of(platform, 3, "SOL/USDT")[0]["amount"] == "0.85"

    # No passphrase in the body: refused, unless the webhook URL carries it.
    pine = cases["tv06_alert_message_from_pine"]
    assert platform.alert(pine).status_code == 401
    assert platform.alert(pine, passphrase_in_url=True).status_code == 202
    assert [len(_orders_of(platform, u, "ETH/USDT")) for u in range(5)] == [1, 1, 1, 0, 0]
    [skipped] = [i for i in platform.get("/api/v1/intents", 3) if i["symbol"] == "ETH/USDT"]
    assert skipped["status"] == "rejected" and "no contracts" in skipped["reason"]

    # Plain text.
    text = platform.alert(cases["tv07_plain_text"], passphrase_in_url=True)
    assert text.status_code == 202 and text.json()["action"] == "buy"
    assert _orders_of(platform, 3, "BTC/USDT")[0]["amount"] == "0.01"

    # Close long: every BTC position is sold in full and closed with reason SIGNAL.
    close = platform.alert(cases["tv02_strategy_full_close_long"])
    assert close.status_code == 202 and close.json()["action"] == "exit"
    for user in (0, 1, 3):
        [position] = [p for p in platform.get("/api/v1/positions", user) if p["symbol"] == "BTC/USDT"]
        assert position["status"] == "closed" and position["close_reason"] == "SIGNAL"
        sells = [o for o in _orders_of(platform, user, "BTC/USDT") if o["side"] == "sell"]
        assert len(sells) == 1 and sells[0]["state"] == "filled"

    # Malformed and unauthenticated bodies create nothing.
    before = (platform.count(signals), platform.count(execution_intents), platform.count(orders))
    broken = platform.alert(cases["tv09_broken_json_empty_number"])
    assert broken.status_code == 400 and "JSON" in broken.json()["detail"]
    assert platform.alert(cases["tv10_wrong_passphrase"]).status_code == 401
    assert (platform.count(signals), platform.count(execution_intents), platform.count(orders)) == before

    # A duplicate delivery answers with the first signal and trades once.
    first = platform.alert(cases["tv12_duplicate_delivery"])
    second = platform.alert(cases["tv12_duplicate_delivery"])
    assert first.status_code == second.status_code == 202
    assert second.json() == {**first.json(), "duplicate": True}
    assert platform.count(signals) == before[0] + 1

    # Below the minimum notional: refused before anything is sent, with the reason on record.
    assert platform.alert(cases["tv14_below_min_notional"]).status_code == 202
    notional = [i for i in platform.get("/api/v1/intents", 3) if i["status"] == "rejected"]
    assert any("minimum notional" in i["reason"] for i in notional)
    log = platform.get("/api/v1/execution-log", 3)
    assert any(r["status"] == "SKIPPED" and "minimum notional" in r["reason"] for r in log)

    # Amount truncated to the step.
    assert platform.alert(cases["tv15_amount_needs_truncation"]).status_code == 202
    latest = platform.get("/api/v1/orders", 3, limit=1)[0]
    assert latest["symbol"] == "BTC/USDT" and latest["amount"] == "0.00123"

    # Nothing in any subscriber's book is stuck: every order reached a final state.
    assert all(o["state"] == "filled" for u in range(4) for o in platform.get("/api/v1/orders", u))


def test_each_owner_sees_only_their_own_records(platform: Platform) -> None:
    assert platform.buy("BTCUSDT").status_code == 202

    provider_signals = platform.http.get("/api/v1/signals", headers=platform.provider).json()
    provider_orders = platform.http.get("/api/v1/orders", headers=platform.provider).json()
    strategy = platform.http.get(
        f"/api/v1/strategies/{platform.strategy['id']}", headers=platform.provider
    ).json()
    other_account = platform.users[1]["account"]["id"]
    peek = platform.http.get(f"/api/v1/accounts/{other_account}", headers=platform.users[0]["headers"])
    subscriber_signals = platform.get("/api/v1/signals", 0)
    as_subscriber = platform.http.get(
        f"/api/v1/strategies/{platform.strategy['id']}", headers=platform.users[0]["headers"]
    ).json()

    assert [s["intent_count"] for s in provider_signals] == [3]
    assert provider_orders == []
    assert strategy["subscriber_count"] == 4
    assert strategy["webhook_url"].endswith("/api/v1/webhooks/tradingview/tv-strategy")
    assert as_subscriber["webhook_url"] is None
    assert peek.status_code == 404
    assert subscriber_signals == []
    assert len(platform.get("/api/v1/orders", 0)) == 1


def test_positions_report_pnl_and_balances_follow(platform: Platform) -> None:
    platform.buy("ETHUSDT")
    pin_prices(platform.served.runtime, {"ETH/USDT": "3500"})

    [position] = platform.get("/api/v1/positions", 0, status="open")
    account = platform.users[0]["account"]["id"]
    balance = platform.get(f"/api/v1/accounts/{account}/balance", 0)

    amount = Decimal(position["amount"])
    assert amount == Decimal("0.0289")  # 100 USDT / 3456.78, truncated to the 0.0001 step
    assert Decimal(position["unrealized_pnl"]) == (Decimal(3500) - Decimal("3456.78")) * amount
    assert Decimal(position["fees"]) == amount * Decimal("3456.78") * Decimal("0.001")
    assert Decimal(balance["balances"]["ETH"]) == amount
    assert Decimal(balance["equity"]) == Decimal(balance["balances"]["USDT"]) + amount * 3500


def test_the_api_rejects_bad_input_clearly_and_changes_nothing(platform: Platform) -> None:
    unknown = platform.http.post("/api/v1/webhooks/tradingview/nope", json={"action": "buy"})
    symbol = platform.http.post(
        platform.webhook, json={"passphrase": "abcdefgh", "ticker": "FOOBAR", "action": "buy"}
    )
    huge = platform.http.post(platform.webhook, content=b"x" * 70_000)
    bad_pairs = platform.send(
        "POST",
        "/api/v1/subscriptions",
        0,
        {"strategy_id": platform.strategy["id"], "account_id": 1, "pairs": ["NOPE/USDT"]},
    )
    too_much = platform.send(
        "PATCH",
        f"/api/v1/subscriptions/{platform.users[0]['subscription']['id']}",
        0,
        {"sizing_mode": "equity_pct", "sizing_value": "150"},
    )
    live_without_key = platform.send(
        "POST",
        "/api/v1/accounts",
        0,
        {
            "name": "real",
            "exchange": "binance",
            "mode": "live",
            "api_key": "K" * 20,
            "api_secret": "S3cr3t" * 5,
        },
    )
    anonymous = platform.http.get("/api/v1/orders")

    assert unknown.status_code == 404
    assert symbol.status_code == 422 and "unknown symbol" in symbol.json()["detail"]
    assert huge.status_code == 413
    assert bad_pairs.status_code == 422
    assert too_much.status_code == 422 and "at most 100" in too_much.text
    assert live_without_key.status_code == 422 and "S3cr3t" not in live_without_key.text
    assert anonymous.status_code == 401
    assert platform.count(signals) == 0
    assert platform.get("/api/v1/subscriptions", 0)[0]["sizing_mode"] == "fixed_quote"
    assert len(platform.get("/api/v1/accounts", 0)) == 1


def test_risk_based_sizing_is_set_through_the_api_and_explained_in_the_log(platform: Platform) -> None:
    account = platform.send("POST", "/api/v1/accounts", 0, {"name": "risky"}).json()
    risk_pct = {
        "strategy_id": platform.strategy["id"],
        "account_id": account["id"],
        "pairs": ["BTC/USDT"],
        "sizing_mode": "risk_pct",
        "sizing_value": "2",
    }
    missing_stop = platform.send("POST", "/api/v1/subscriptions", 0, risk_pct)
    created = platform.send(
        "POST", "/api/v1/subscriptions", 0, {**risk_pct, "sizing_params": {"stop_loss_pct": "5"}}
    )

    platform.buy("BTCUSDT")

    assert missing_stop.status_code == 422 and "stop_loss_pct" in missing_stop.text
    assert created.status_code == 201, created.text
    assert created.json()["sizing_params"]["stop_loss_pct"] == "5"
    [order] = [o for o in platform.get("/api/v1/orders", 0) if o["account_id"] == account["id"]]
    # equity 10,000 × 2 % ÷ 5 % = 4,000, capped at 20 % = 2,000 → 2,000 / 96,388.12 to the step
    assert order["amount"] == "0.02074"
    [entry] = [r for r in platform.get("/api/v1/execution-log", 0) if r["order_id"] == order["id"]]
    assert "capped at 20 % of equity = 2000" in entry["reason"]


def test_a_signal_refused_by_a_risk_rule_says_why_through_the_api(platform: Platform) -> None:
    subscription = platform.users[0]["subscription"]["id"]
    limited = platform.send(
        "PATCH", f"/api/v1/subscriptions/{subscription}", 0, {"risk_limits": {"max_positions_total": 1}}
    )
    for ticker in ("ETHUSDT", "SOLUSDT"):
        platform.buy(ticker)

    [refused] = [i for i in platform.get("/api/v1/intents", 0) if i["symbol"] == "SOL/USDT"]
    [entry] = [r for r in platform.get("/api/v1/execution-log", 0) if r["intent_id"] == refused["id"]]
    assert limited.status_code == 200 and limited.json()["risk_limits"]["max_positions_total"] == 1
    assert refused["status"] == "rejected"
    assert refused["reason"] == "rejected by risk: positions_total: 1 open, limit 1"
    assert entry["status"] == "SKIPPED"
    verdicts = {c["rule"]: c["passed"] for c in entry["exchange_response"]["risk"]}
    assert verdicts["positions_total"] is False and verdicts["daily_loss"] is True
    assert [rule for rule, passed in verdicts.items() if not passed] == ["positions_total"]
