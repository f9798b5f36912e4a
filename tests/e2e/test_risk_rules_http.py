"""End to end over real HTTP: signals refused by each risk rule in turn, each refusal readable through
the API with the rule's numbers; exits still work while entries are paused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.support import PASSWORD, ServedRuntime, make_runtime, pin_prices

PRICES = {
    "BTC/USDT": "96000",
    "ETH/USDT": "3456.78",
    "SOL/USDT": "184.37",
    "BNB/USDT": "600",
    "DOGE/USDT": "0.25",
}


class Desk:
    """A provider with a public strategy and one trader subscribed to it, all made through the API."""

    def __init__(self, served: ServedRuntime) -> None:
        self.served = served
        self.http = httpx.Client(base_url=served.url, timeout=10)
        for name in ("provider", "trader"):
            assert (
                self.http.post("/api/v1/users", json={"username": name, "password": PASSWORD}).status_code
                == 201
            )
        self.provider = served.token("provider")
        self.trader = served.token("trader")
        strategy = self.http.post(
            "/api/v1/strategies",
            headers=self.provider,
            json={"name": "Risky", "slug": "risky", "passphrase": "abcdefgh", "is_public": True},
        ).json()
        self.strategy_id = strategy["id"]
        account = self.http.post("/api/v1/accounts", headers=self.trader, json={"name": "paper"}).json()
        subscription = self.http.post(
            "/api/v1/subscriptions",
            headers=self.trader,
            json={
                "strategy_id": self.strategy_id,
                "account_id": account["id"],
                "sizing_mode": "fixed_quote",
                "sizing_value": "100",
                "risk_limits": {"cooldown_s": 0},
            },
        )
        assert subscription.status_code == 201, subscription.text
        self.subscription = subscription.json()["id"]
        self.steps = 0

    def limits(self, **limits: Any) -> None:
        response = self.http.patch(
            f"/api/v1/subscriptions/{self.subscription}",
            headers=self.trader,
            json={"risk_limits": {"cooldown_s": 0, **limits}},
        )
        assert response.status_code == 200, response.text

    def state(self, state: str) -> dict[str, Any]:
        response = self.http.patch(
            f"/api/v1/subscriptions/{self.subscription}", headers=self.trader, json={"trading_state": state}
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def alert(self, ticker: str, action: str, **fields: Any) -> dict[str, Any]:
        """Send an alert; the trader's intent for it, with the execution log's rule verdicts."""
        self.steps += 1
        body = {"passphrase": "abcdefgh", "ticker": ticker, "action": action, "comment": f"step {self.steps}"}
        response = self.http.post("/api/v1/webhooks/tradingview/risky", json={**body, **fields})
        assert response.status_code == 202, response.text
        self.served.settle()
        signal_id = response.json()["signal_id"]
        [intent] = [i for i in self.get("/api/v1/intents") if i["signal_id"] == signal_id]
        entries = [e for e in self.get("/api/v1/execution-log") if e["intent_id"] == intent["id"]]
        verdicts = (entries[0]["exchange_response"] or {}).get("risk", []) if entries else []
        intent["failed"] = {v["rule"] for v in verdicts if not v["passed"]}
        intent["log"] = entries
        return intent  # type: ignore[no-any-return]

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        response = self.http.get(path, headers=headers or self.trader)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def desk(tmp_path: Path, data_dir: Path) -> Iterator[Desk]:
    # Real candles, so the correlation rule has returns to measure (SOL and BNB: the same 4h period).
    runtime = make_runtime(tmp_path, data_dir=data_dir)
    for _ in range(120):
        runtime.feed.step()
    pin_prices(runtime, PRICES)
    with ServedRuntime(runtime, free_port()) as served:
        yield Desk(served)


def test_each_rule_refuses_an_entry_in_turn_and_says_why(desk: Desk) -> None:
    # Trading state: REDUCING takes exits only.
    desk.state("REDUCING")
    refused = desk.alert("BTCUSDT", "buy")
    assert refused["status"] == "rejected" and refused["failed"] == {"trading_state"}
    assert refused["reason"] == "rejected by risk: trading_state: subscription is REDUCING: exits only"
    assert desk.state("ACTIVE")["trading_state"] == "ACTIVE"

    # The strategy's owner blacklists a pair; the trader reads why, and the per-pair table shows it.
    override = desk.http.put(
        f"/api/v1/strategies/{desk.strategy_id}/pairs",
        headers=desk.provider,
        json={"symbol": "DOGE/USDT", "status": "BLACKLISTED"},
    )
    assert override.status_code == 200, override.text
    refused = desk.alert("DOGEUSDT", "buy")
    assert refused["failed"] == {"pair_blacklist"}
    assert "pair blacklisted for the strategy: blacklisted by provider" in refused["reason"]
    [doge] = [
        p for p in desk.get(f"/api/v1/strategies/{desk.strategy_id}/pairs") if p["symbol"] == "DOGE/USDT"
    ]
    assert doge["status"] == "BLACKLISTED" and doge["manual"] is True
    not_owner = desk.http.put(
        f"/api/v1/strategies/{desk.strategy_id}/pairs",
        headers=desk.trader,
        json={"symbol": "DOGE/USDT", "status": "NORMAL"},
    )
    assert not_owner.status_code == 404

    # Largest entry in quote units.
    desk.limits(max_position_quote="50")
    refused = desk.alert("BTCUSDT", "buy")
    assert refused["failed"] == {"max_position_size"}
    assert "max_position_size: entry of 99.84, limit 50" in refused["reason"]  # 0.00104 BTC at 96,000

    # Open positions of the subscription, then of the whole account.
    desk.limits(max_positions_per_strategy=1)
    assert desk.alert("BTCUSDT", "buy")["status"] == "done"
    refused = desk.alert("ETHUSDT", "buy")
    assert refused["failed"] == {"positions_per_strategy"} and "1 open, limit 1" in refused["reason"]
    desk.limits(max_positions_total=1)
    assert desk.alert("ETHUSDT", "buy")["failed"] == {"positions_total"}

    # Cooldown after a trade on the same pair.
    desk.limits(cooldown_s=900)
    refused = desk.alert("BTCUSDT", "buy")
    assert refused["failed"] == {"cooldown"} and "cooldown 900s" in refused["reason"]

    # Correlation with the pairs already held, from real candles.
    desk.limits(max_correlated=1, correlation_threshold="0.3")
    assert desk.alert("BNBUSDT", "buy")["status"] == "done"
    refused = desk.alert("SOLUSDT", "buy")
    assert refused["failed"] == {"correlation"} and "BNB/USDT 0." in refused["reason"]

    # Minimum risk/reward of the signal's own stop and target.
    desk.limits()
    refused = desk.alert("ETHUSDT", "buy", price="3456.78", sl="3400", tp="3480")
    assert refused["failed"] == {"risk_reward"} and "R/R 0.41, minimum 1" in refused["reason"]

    # A stale signal.
    desk.limits(max_signal_age_s=60)
    old = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    assert desk.alert("ETHUSDT", "buy", time=old)["failed"] == {"signal_age"}

    # A losing round trip: BTC sold 27 % lower. The daily loss limit in quote units refuses entries.
    pin_prices(desk.served.runtime, {"BTC/USDT": "70080"})
    assert desk.alert("BTCUSDT", "sell")["status"] == "done"
    desk.limits(daily_loss_quote="1", drawdown_warn_pct="99", drawdown_pause_pct="99")
    refused = desk.alert("ETHUSDT", "buy")
    assert refused["failed"] == {"daily_loss"} and "limit 1 until 00:00 UTC" in refused["reason"]

    # Drawdown: the subscription's and the strategy's own (its track record lost 27 %). The
    # subscription's pause is sticky: it turns REDUCING until its owner resumes it.
    desk.limits(drawdown_warn_pct="0.1", drawdown_pause_pct="0.2")
    refused = desk.alert("ETHUSDT", "buy")
    assert refused["failed"] == {"drawdown", "strategy_drawdown"}
    paused = desk.get(f"/api/v1/subscriptions/{desk.subscription}")
    assert paused["trading_state"] == "REDUCING" and paused["state_reason"].startswith(
        "paused: subscription drawdown"
    )
    # Exits still go through while entries are paused.
    assert desk.alert("BNBUSDT", "sell")["status"] == "done"
    desk.state("ACTIVE")  # resuming measures the subscription's drawdown afresh
    desk.limits()
    refused = desk.alert("ETHUSDT", "buy")
    assert refused["failed"] == {"strategy_drawdown"}
    assert "strategy drawdown 27.0%, pause at 25%" in refused["reason"]
    # Its owner reads the record as it is now (others get it as kept for a few seconds).
    records = desk.get(f"/api/v1/strategies/{desk.strategy_id}/pairs", desk.provider)
    [btc] = [p for p in records if p["symbol"] == "BTC/USDT"]
    assert btc["trades"] == 1 and btc["return_pct"] == "-27"


def test_an_approved_entry_keeps_the_numbers_it_was_approved_on(desk: Desk) -> None:
    desk.limits(drawdown_warn_pct="15")
    done = desk.alert("BTCUSDT", "buy")

    [fill] = [e for e in done["log"] if e["status"] == "SUCCESS"]
    assert "risk ok: positions 0/20, account 0/50, day 0" in fill["reason"]


def test_a_trader_closes_a_position_by_hand(desk: Desk) -> None:
    desk.alert("ETHUSDT", "buy")
    [position] = desk.get("/api/v1/positions")

    closing = desk.http.post(f"/api/v1/positions/{position['id']}/close", headers=desk.trader)
    again = desk.http.post(f"/api/v1/positions/{position['id']}/close", headers=desk.trader)
    someone_else = desk.http.post(f"/api/v1/positions/{position['id']}/close", headers=desk.provider)

    assert closing.status_code == 200, closing.text
    assert again.status_code == 409 and "already closed" in again.json()["detail"]
    assert someone_else.status_code == 404
    [closed] = desk.get("/api/v1/positions")
    assert closed["status"] == "closed" and closed["close_reason"] == "MANUAL"
    sells = [e for e in desk.get("/api/v1/execution-log") if "MANUAL: closed by trader" in e["reason"]]
    assert len(sells) == 1 and sells[0]["status"] == "SUCCESS"


def test_dca_and_exit_rules_are_set_through_the_api_and_shown_on_the_position(desk: Desk) -> None:
    bad = desk.http.patch(
        f"/api/v1/subscriptions/{desk.subscription}",
        headers=desk.trader,
        json={"dca": {"mode": "sideways", "tranches": 3}, "exit_rules": {"stop_loss_pct": "150"}},
    )
    assert bad.status_code == 422
    assert desk.get(f"/api/v1/subscriptions/{desk.subscription}")["dca"] is None  # nothing changed

    changed = desk.http.patch(
        f"/api/v1/subscriptions/{desk.subscription}",
        headers=desk.trader,
        json={
            "sizing_mode": "fixed_quote",
            "sizing_value": "300",
            "dca": {"mode": "pyramid_down", "tranches": 3, "step_pct": "1.5"},
            "exit_rules": {"stop_loss_pct": "8", "take_profit_pct": "12", "trailing_pct": "3"},
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["dca"] == {"mode": "pyramid_down", "tranches": 3, "step_pct": "1.5"}

    desk.alert("ETHUSDT", "buy")

    [position] = desk.get("/api/v1/positions")
    assert position["phase"] == "BUILDING"
    assert [t["number"] for t in position["tranches"]["pending"]] == [2, 3]
    assert position["stop_loss"] is not None and position["trailing_pct"] == "3"
