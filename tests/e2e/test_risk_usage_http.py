"""GET /api/v1/risk over real HTTP: each subscription's daily loss, drawdown and open positions against
its limits, as the entry rules count them; a user sees only their own subscriptions; equity is in the
quote of the pair traded (a BTC/EUR live account on the fake exchange: the equity its entry is sized
on); more subscriptions than a page holds are reached page by page."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.e2e.test_risk_rules_http import PRICES, Desk
from tests.fakes.exchange import DEFAULT_MARKETS, FakeExchange, MarketSpec
from tests.support import (
    PASSPHRASE,
    PASSWORD,
    ServedRuntime,
    add_live_subscriber,
    add_paper_subscriptions,
    flatten_urls,
    make_runtime,
    pin_prices,
    seed_marketplace,
)
from tradewire.adapters.secrets_box import generate_key


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


EUR = MarketSpec("BTC/EUR", "BTC", "EUR", "0.00001", "0.01", "0.00001", "5")


def test_equity_is_in_the_quote_of_the_pair_as_the_entry_is_sized(tmp_path: Path) -> None:
    # A live account holding euros and bitcoin, trading BTC/EUR: its equity is 5,000 EUR plus
    # 0.1 BTC at 55,000 EUR, whatever the platform's default quote (USDT) would make of it.
    exchange = FakeExchange(
        "binance",
        markets=[*DEFAULT_MARKETS, EUR],
        prices={"BTC/USDT": "60000", "BTC/EUR": "55000"},
        balances={"EUR": "5000", "BTC": "0.1"},
    )
    exchange.start()
    try:
        runtime = make_runtime(tmp_path, encryption_key=generate_key(), reconcile_interval_s=0.2)
        seeded = seed_marketplace(runtime.engine, [])
        urls = flatten_urls(exchange.ccxt_urls())
        add_live_subscriber(runtime, seeded, "binance", urls, exchange.api_key, exchange.api_secret)
        with ServedRuntime(runtime, free_port()) as served:
            http = httpx.Client(base_url=served.url, timeout=20)
            mine = served.token(f"provider-{seeded.slug}")
            [sub] = http.get("/api/v1/subscriptions", headers=mine).json()
            changed = http.patch(
                f"/api/v1/subscriptions/{sub['id']}",
                headers=mine,
                json={"pairs": ["BTC/EUR"], "sizing_mode": "equity_pct", "sizing_value": "1"},
            )
            assert changed.status_code == 200, changed.text
            [usage] = http.get("/api/v1/risk", headers=mine).json()["subscriptions"]

            body = {"passphrase": PASSPHRASE, "ticker": "BTCEUR", "action": "buy"}
            assert http.post(f"/api/v1/webhooks/tradingview/{seeded.slug}", json=body).status_code == 202
            served.settle()
            [intent] = http.get("/api/v1/intents", headers=mine).json()
    finally:
        exchange.stop()

    assert (usage["quote"], usage["symbols"], usage["equity_error"]) == ("EUR", ["BTC/EUR"], None)
    assert Decimal(usage["equity"]) == Decimal(10500)
    # The executor sized the BTC/EUR entry against that very equity.
    assert intent["status"] == "done", intent
    assert Decimal(intent["sizing_equity"]) == Decimal(usage["equity"])
    loss = {u["rule"]: u for u in usage["limits"]}["daily_loss"]
    assert Decimal(loss["limit"]) == Decimal(525)  # 5 % of 10,500 EUR


def test_every_subscription_is_reached_page_by_page(tmp_path: Path) -> None:
    # 130 paper accounts with a subscription each: more than one page (100) holds.
    runtime = make_runtime(tmp_path)
    seeded = seed_marketplace(runtime.engine, [{}])
    user = seeded.subscriber_ids[0]
    add_paper_subscriptions(runtime, user, seeded.strategy_id, 129)
    with ServedRuntime(runtime, free_port()) as served:
        http = httpx.Client(base_url=served.url, timeout=30)
        mine = served.token(f"{seeded.slug}-sub1")
        first = http.get("/api/v1/risk", headers=mine).json()
        second = http.get("/api/v1/risk", headers=mine, params={"before_id": first["next_before_id"]}).json()
        small = http.get("/api/v1/risk", headers=mine, params={"limit": 7}).json()
        too_many = http.get("/api/v1/risk", headers=mine, params={"limit": 101})
        bad_cursor = http.get("/api/v1/risk", headers=mine, params={"before_id": "x"})

    ids = [s["subscription_id"] for s in first["subscriptions"] + second["subscriptions"]]
    assert len(first["subscriptions"]) == 100 and first["next_before_id"] == ids[99]
    assert len(second["subscriptions"]) == 30 and second["next_before_id"] is None
    assert len(ids) == len(set(ids)) == 130 and ids == sorted(ids, reverse=True)
    assert len({s["account_id"] for s in first["subscriptions"] + second["subscriptions"]}) == 130
    assert [s["subscription_id"] for s in small["subscriptions"]] == ids[:7]
    assert small["next_before_id"] == ids[6]
    assert too_many.status_code == 422 and bad_cursor.status_code == 422
