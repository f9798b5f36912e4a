"""Confirm before trade over real HTTP: a webhook's entry on a subscription with `confirmation: api`
waits with its proposal until its owner confirms (one filled order) or declines (nothing); unanswered,
it expires (nothing); a server restart while it waits changes nothing, and the confirm after it gives
exactly one order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.support import PASSWORD, ServedRuntime, make_runtime, pin_prices, until

PRICES = {"BTC/USDT": "96388.12", "ETH/USDT": "3456.78"}
INTENTS = "/api/v1/intents"


class ShiftedClock:
    """The wall clock, moved forward by what the test adds (a proposal's deadline without waiting)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class Platform:
    """A provider's webhook strategy and two subscribers made over HTTP: trader asks for confirmation
    through the API, other does not."""

    def __init__(self, served: ServedRuntime) -> None:
        self.served = served
        self.http = httpx.Client(base_url=served.url, timeout=10)
        self._signup("provider")
        created = self.http.post(
            "/api/v1/strategies",
            headers=served.token("provider"),
            json={"name": "TV", "slug": "tv-confirm", "passphrase": "abcdefgh", "is_public": True},
        )
        assert created.status_code == 201, created.text
        self.strategy_id = created.json()["id"]
        self.trader = self._subscriber("trader", confirmation="api", confirmation_timeout_s=120)
        self.other = self._subscriber("other")

    def _signup(self, username: str) -> None:
        response = self.http.post("/api/v1/users", json={"username": username, "password": PASSWORD})
        assert response.status_code == 201, response.text

    def _subscriber(self, name: str, **settings: Any) -> dict[str, str]:
        self._signup(name)
        headers = self.served.token(name)
        account = self.http.post("/api/v1/accounts", headers=headers, json={"name": "paper"}).json()
        body = {
            "strategy_id": self.strategy_id,
            "account_id": account["id"],
            "risk_limits": {"cooldown_s": 0},
            **settings,
        }
        subscription = self.http.post("/api/v1/subscriptions", headers=headers, json=body)
        assert subscription.status_code == 201, subscription.text
        return headers

    def buy(self, ticker: str = "BTCUSDT") -> int:
        body = {"passphrase": "abcdefgh", "ticker": ticker, "action": "buy"}
        response = self.http.post("/api/v1/webhooks/tradingview/tv-confirm", json=body)
        assert response.status_code == 202, response.text
        self.served.settle()
        return int(response.json()["signal_id"])

    def get(self, path: str, headers: dict[str, str], **params: Any) -> Any:
        response = self.http.get(path, headers=headers, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def waiting(self) -> list[dict[str, Any]]:
        return list(self.get(INTENTS, self.trader, status="awaiting_confirmation"))

    def answer(self, intent_id: int, what: str, headers: dict[str, str] | None = None) -> httpx.Response:
        response = self.http.post(f"{INTENTS}/{intent_id}/{what}", headers=headers or self.trader)
        self.served.settle()
        return response

    def orders(self, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/orders", headers or self.trader))


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def platform(tmp_path: Path, clock: ShiftedClock) -> Iterator[Platform]:
    runtime = make_runtime(tmp_path, clock=clock)
    pin_prices(runtime, PRICES)
    with ServedRuntime(runtime, free_port()) as served:
        yield Platform(served)


def test_an_entry_waits_with_its_proposal_and_a_confirm_fills_it_once(platform: Platform) -> None:
    platform.buy()

    assert platform.orders() == [] and len(platform.orders(platform.other)) == 1  # only trader waits
    [intent] = platform.waiting()
    proposal = intent["proposal"]
    assert (proposal["symbol"], proposal["side"], proposal["price"]) == ("BTC/USDT", "buy", "96388.12")
    assert proposal["amount"] == "0.00103" and proposal["order_type"] == "market"
    assert {v["rule"] for v in proposal["risk"]} >= {"positions_total", "daily_loss"}
    assert intent["confirm_by"] is not None and intent["confirmed_at"] is None

    assert platform.answer(intent["id"], "confirm", platform.other).status_code == 404  # not theirs
    confirmed = platform.answer(intent["id"], "confirm")
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "created"
    until(lambda: [o["state"] for o in platform.orders()] == ["filled"], "the order filled", 10)

    again = platform.answer(intent["id"], "confirm")
    assert again.status_code == 409
    assert "is done" in again.json()["detail"]
    assert platform.answer(intent["id"], "decline").status_code == 409
    [done] = platform.get(INTENTS, platform.trader)
    assert (done["status"], done["confirmed_at"] is not None) == ("done", True)
    assert len(platform.orders()) == 1
    assert platform.http.post(f"{INTENTS}/{intent['id']}/confirm").status_code == 401


def test_a_declined_entry_trades_nothing(platform: Platform) -> None:
    platform.buy("ETHUSDT")
    [intent] = platform.waiting()

    declined = platform.answer(intent["id"], "decline")

    assert declined.status_code == 200
    assert declined.json() == {
        "intent_id": intent["id"],
        "status": "rejected",
        "reason": "declined by trader: nothing traded",
    }
    assert platform.orders() == [] and platform.waiting() == []
    late = platform.answer(intent["id"], "confirm")
    assert late.status_code == 409 and "is rejected (declined by trader" in late.json()["detail"]
    assert platform.orders() == []


def test_an_entry_confirmed_after_its_subscription_was_paused_trades_nothing(platform: Platform) -> None:
    platform.buy()
    [intent] = platform.waiting()
    [subscription] = platform.get("/api/v1/subscriptions", platform.trader)
    paused = platform.http.patch(
        f"/api/v1/subscriptions/{subscription['id']}", headers=platform.trader, json={"status": "PAUSED"}
    )
    assert paused.status_code == 200, paused.text

    assert platform.answer(intent["id"], "confirm").status_code == 200
    until(
        lambda: platform.get(INTENTS, platform.trader)[0]["status"] == "rejected", "the intent rejected", 10
    )

    [refused] = platform.get(INTENTS, platform.trader)
    assert refused["reason"] == "the subscription is PAUSED: no new entries"
    assert platform.orders() == []


def test_an_unanswered_entry_expires_and_trades_nothing(platform: Platform, clock: ShiftedClock) -> None:
    platform.buy()
    [intent] = platform.waiting()

    clock.offset = timedelta(seconds=121)
    until(lambda: platform.waiting() == [], "the confirmation expired", 10)  # by the sweep (every 0.2 s here)

    [expired] = platform.get(INTENTS, platform.trader)
    assert (expired["status"], expired["reason"]) == (
        "rejected",
        "not confirmed within 120 s: nothing traded",
    )
    late = platform.answer(intent["id"], "confirm")
    assert late.status_code == 409
    assert platform.orders() == []


def test_a_restart_while_waiting_changes_nothing_and_the_confirm_after_it_orders_once(
    tmp_path: Path, clock: ShiftedClock
) -> None:
    runtime = make_runtime(tmp_path, clock=clock)
    pin_prices(runtime, PRICES)
    with ServedRuntime(runtime, free_port()) as served:
        first = Platform(served)
        first.buy()
        [intent] = first.waiting()
        trader = first.trader
    restarted = make_runtime(tmp_path, clock=clock)  # the same database, a new process's runtime
    pin_prices(restarted, PRICES)
    with ServedRuntime(restarted, free_port()) as served:
        http = httpx.Client(base_url=served.url, timeout=10)
        trader = served.token("trader")
        time.sleep(0.5)  # recovery and a few sweeps have run
        still = http.get(INTENTS, headers=trader, params={"status": "awaiting_confirmation"}).json()
        assert [i["id"] for i in still] == [intent["id"]]
        assert http.get("/api/v1/orders", headers=trader).json() == []

        confirms = [http.post(f"{INTENTS}/{intent['id']}/confirm", headers=trader) for _ in range(3)]
        served.settle()

        assert [c.status_code for c in confirms] == [200, 409, 409]
        until(
            lambda: [o["state"] for o in http.get("/api/v1/orders", headers=trader).json()] == ["filled"],
            "the order filled",
            10,
        )
        time.sleep(0.5)  # more sweeps: still one order
        assert len(http.get("/api/v1/orders", headers=trader).json()) == 1


def test_the_settings_are_bounded_and_shown(platform: Platform) -> None:
    [subscription] = platform.get("/api/v1/subscriptions", platform.trader)
    assert (subscription["confirmation"], subscription["confirmation_timeout_s"]) == ("api", 120)
    assert subscription["max_confirm_drift_pct"] == "1"
    path = f"/api/v1/subscriptions/{subscription['id']}"
    for bad in (
        {"confirmation": "sms"},
        {"confirmation_timeout_s": 9},
        {"confirmation_timeout_s": 86_401},
        {"max_confirm_drift_pct": "-0.1"},
        {"max_confirm_drift_pct": "100.01"},
    ):
        response = platform.http.patch(path, headers=platform.trader, json=bad)
        assert response.status_code == 422, (bad, response.text)
    # This server runs no Telegram bot: nobody could ever be asked there, so it is refused.
    nowhere = platform.http.patch(path, headers=platform.trader, json={"confirmation": "telegram"})
    assert nowhere.status_code == 422 and "needs this server's Telegram bot" in nowhere.text
    changed = platform.http.patch(
        path, headers=platform.trader, json={"confirmation": "dashboard", "max_confirm_drift_pct": "0.5"}
    )
    assert changed.status_code == 200, changed.text
    shown = changed.json()
    assert (shown["confirmation"], shown["confirmation_timeout_s"], shown["max_confirm_drift_pct"]) == (
        "dashboard",
        120,
        "0.5",
    )
