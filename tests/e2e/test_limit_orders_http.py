"""Limit entries end to end: settings over the API, alerts over HTTP, orders through the real ccxt
client against the fake Binance (filled, partly filled or cancelled by hand there), and on paper."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.fakes.exchange import FakeExchange
from tests.support import (
    PASSPHRASE,
    ServedRuntime,
    add_live_subscriber,
    flatten_urls,
    make_runtime,
    pin_prices,
    seed_marketplace,
    until,
)
from tradewire.adapters.secrets_box import generate_key

pytestmark = pytest.mark.slow


@dataclass
class Platform:
    served: ServedRuntime
    http: httpx.Client
    headers: dict[str, str]
    slug: str
    subscription_id: int
    account_id: int

    def set_entry(self, entry_order: dict[str, Any]) -> httpx.Response:
        return self.http.patch(
            f"/api/v1/subscriptions/{self.subscription_id}",
            headers=self.headers,
            json={"entry_order": entry_order},
        )

    def alert(self, **fields: Any) -> httpx.Response:
        body = {"passphrase": PASSPHRASE, "ticker": "BTCUSDT", "action": "buy", **fields}
        response = self.http.post(f"/api/v1/webhooks/tradingview/{self.slug}", json=body)
        self.served.settle()
        return response

    def get(self, path: str) -> Any:
        response = self.http.get(f"/api/v1/{path}", headers=self.headers)
        response.raise_for_status()
        return response.json()

    def order(self) -> dict[str, Any]:
        return dict(self.get("orders")[0])


@pytest.fixture
def live(tmp_path: Path, fake: FakeExchange) -> Iterator[Platform]:
    runtime = make_runtime(
        tmp_path, encryption_key=generate_key(), exchange_timeout_ms=800, exchange_streams=False
    )
    seeded = seed_marketplace(runtime.engine, [])
    account_id = add_live_subscriber(
        runtime,
        seeded,
        "binance",
        flatten_urls(fake.ccxt_urls(), ""),
        fake.api_key,
        fake.api_secret,
        quote_amount="120",
    )
    with ServedRuntime(runtime, free_port()) as served, httpx.Client(base_url=served.url, timeout=10) as http:
        headers = served.token(f"provider-{seeded.slug}")
        [subscription] = http.get("/api/v1/subscriptions", headers=headers).json()
        yield Platform(served, http, headers, seeded.slug, subscription["id"], account_id)


def test_a_limit_alert_rests_fills_in_part_by_hand_and_the_timeout_cancels_the_rest(
    live: Platform, fake: FakeExchange
) -> None:
    entry = {"type": "limit_signal", "limit_order_timeout_s": 4}
    changed = live.set_entry(entry)
    assert changed.status_code == 200, changed.text
    assert changed.json()["entry_order"] == entry
    assert live.get(f"subscriptions/{live.subscription_id}")["entry_order"] == entry

    accepted = live.alert(order_type="limit", price="59000")
    assert accepted.status_code == 202, accepted.text
    until(lambda: live.get("orders") != [] and live.order()["state"] == "open", "the order open", 10)
    order = live.order()
    assert (order["type"], order["price"], order["amount"]) == ("limit", "59000", "0.00203")  # 120 at 59,000
    assert fake.order(order["client_order_id"])["status"] == "open"
    assert live.get("positions") == []

    fake.fill(order["client_order_id"], amount="0.001")  # by hand, on the exchange's own site
    # "Sync now" rather than the next check (2 s): a loaded machine could meet the timeout first.
    synced = live.http.post(f"/api/v1/accounts/{live.account_id}/sync", headers=live.headers)
    assert synced.json() == {"checked": 1}
    assert live.order()["state"] == "partially_filled"
    [position] = live.get("positions")
    assert (position["status"], position["amount"], position["avg_entry"]) == ("open", "0.001", "59000")

    until(lambda: live.order()["state"] == "canceled", "the order canceled", 10)
    order = live.order()
    assert order["filled"] == "0.001"
    assert fake.order(order["client_order_id"])["status"] == "canceled"
    [position] = live.get("positions")
    assert position["amount"] == "0.001" == fake.balances["BTC"]["total"]
    [intent] = live.get("intents")
    assert intent["status"] == "done"


def test_a_resting_limit_order_cancelled_by_hand_ends_canceled_with_no_position(
    live: Platform, fake: FakeExchange
) -> None:
    assert live.set_entry({"type": "limit_offset", "offset_pct": "1"}).status_code == 200

    live.alert()  # a plain buy: the subscription bids 1 % below the market
    until(lambda: live.get("orders") != [] and live.order()["state"] == "open", "the order open", 10)
    order = live.order()
    assert (order["type"], order["price"]) == ("limit", "59400")
    fake.cancel_manually(order["client_order_id"])
    until(lambda: live.order()["state"] == "canceled", "the order canceled", 10)

    assert live.order()["filled"] == "0"
    assert live.get("positions") == []
    [intent] = live.get("intents")
    assert intent["status"] == "failed" and "canceled" in intent["reason"]


def test_a_resting_limit_order_filled_by_hand_ends_filled_with_its_position(
    live: Platform, fake: FakeExchange
) -> None:
    # The default entry follows the alert: a limit order when the alert asks for one.
    live.alert(order_type="limit", price="58000.004")
    until(lambda: live.get("orders") != [] and live.order()["state"] == "open", "the order open", 10)
    order = live.order()
    assert order["price"] == "58000"  # on the tick, never above what the alert asked

    fake.fill(order["client_order_id"])
    until(lambda: live.order()["state"] == "filled", "the order filled", 10)

    [position] = live.get("positions")
    assert (position["amount"], position["avg_entry"]) == (live.order()["filled"], "58000")
    assert position["amount"] == fake.balances["BTC"]["total"]


def test_entry_order_settings_are_validated_and_a_limit_alert_needs_a_price(live: Platform) -> None:
    refused = [
        {"type": "limit_offset"},
        {"type": "limit_offset", "offset_pct": "50"},
        {"type": "limit_offset", "offset_pct": "-1"},
        {"type": "market", "offset_pct": "1"},
        {"type": "stop"},
        {"limit_order_timeout_s": -1},
        {"limit_order_timeout_s": 10**12},
        {"type": "market", "extra": 1},
    ]
    for body in refused:
        assert live.set_entry(body).status_code == 422, body
    no_price = live.alert(order_type="limit")

    assert no_price.status_code == 400 and "needs a price" in no_price.text
    assert live.get(f"subscriptions/{live.subscription_id}")["entry_order"] is None
    assert live.get("orders") == []


def test_paper_limit_entries_rest_fill_when_the_market_reaches_them_and_time_out(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    seeded = seed_marketplace(runtime.engine, [{"sizing_value": "100"}])
    pin_prices(runtime, {"BTC/USDT": "60000"})
    with ServedRuntime(runtime, free_port()) as served, httpx.Client(base_url=served.url, timeout=10) as http:
        headers = served.token(f"{seeded.slug}-sub1")
        [subscription] = http.get("/api/v1/subscriptions", headers=headers).json()
        paper = Platform(served, http, headers, seeded.slug, subscription["id"], seeded.account_ids[0])
        entry = {"type": "limit_signal", "limit_order_timeout_s": 2}
        assert paper.set_entry(entry).json()["entry_order"] == entry

        paper.alert(order_type="limit", price="59000", time="2025-01-01T00:00:00Z")
        until(lambda: paper.get("orders") != [] and paper.order()["state"] == "open", "the order open", 10)
        assert paper.get("positions") == []
        pin_prices(runtime, {"BTC/USDT": "58900"})
        served.run(runtime.venue.match_resting_orders())
        until(lambda: paper.order()["state"] == "filled", "the order filled", 10)
        [position] = paper.get("positions")
        assert (position["avg_entry"], position["amount"]) == ("59000", paper.order()["amount"])

        paper.alert(order_type="limit", price="50000", time="2025-01-01T00:05:00Z")
        until(lambda: len(paper.get("orders")) == 2, "a second order", 10)
        until(lambda: paper.get("orders")[0]["state"] == "canceled", "the newest order canceled", 10)
        newest = paper.get("orders")[0]
        positions = paper.get("positions")
        balance = http.get(f"/api/v1/accounts/{paper.account_id}/balance", headers=headers).json()

    assert (newest["price"], newest["filled"]) == ("50000", "0")
    assert [p["amount"] for p in positions] == [position["amount"]]  # the timed-out order bought nothing
    assert balance["balances"]["BTC"] == position["amount"]
