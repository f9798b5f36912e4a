"""A live account is priced and resolved by its own exchange, over HTTP and the real ccxt client against
the fake exchange: marks, PnL, balance and equity follow the exchange (never the paper market), a pair
only the live exchange lists trades there and is skipped with its reason on paper, and the equity an
entry was sized against is on its order and intent."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, update

from tests.conftest import free_port
from tests.fakes.exchange import DEFAULT_MARKETS, FakeExchange, MarketSpec
from tests.support import (
    PASSPHRASE,
    Seeded,
    ServedRuntime,
    add_live_subscriber,
    flatten_urls,
    make_runtime,
    now,
    pin_prices,
    seed_marketplace,
)
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.tables import exchange_accounts

pytestmark = pytest.mark.slow

SUI = MarketSpec("SUI/USDT", "SUI", "USDT", "0.1", "0.0001", "0.1", "5")  # not on the paper market
FAST = {
    "exchange_timeout_ms": 800,
    "reconcile_interval_s": 0.2,
    "ticker_ttl_s": 0.2,
    "balance_ttl_s": 5.0,
    "markets_retry_s": 60.0,
}
# Nothing listens on port 1 of the loopback.
UNREACHABLE = {key: "http://127.0.0.1:1/api/v3" for key in ("public", "private", "v1", "sapi")}


@dataclass
class Platform:
    served: ServedRuntime
    fake: FakeExchange
    seeded: Seeded
    live_account: int

    @property
    def url(self) -> str:
        return self.served.url

    def provider(self) -> dict[str, str]:
        return self.served.token(f"provider-{self.seeded.slug}")

    def subscriber(self, number: int = 1) -> dict[str, str]:
        return self.served.token(f"{self.seeded.slug}-sub{number}")

    def alert(self, ticker: str, action: str = "buy", **extra: Any) -> httpx.Response:
        body = {"passphrase": PASSPHRASE, "ticker": ticker, "action": action, **extra}
        # 20 s as for reads: a loaded CI machine once took over httpx's default 5 s to answer.
        return httpx.post(f"{self.url}/api/v1/webhooks/tradingview/{self.seeded.slug}", json=body, timeout=20)

    def get(self, path: str, headers: dict[str, str], **params: Any) -> Any:
        response = httpx.get(f"{self.url}/api/v1{path}", headers=headers, params=params, timeout=20)
        response.raise_for_status()
        return response.json()

    def filled(self, headers: dict[str, str], count: int = 1) -> list[dict[str, Any]] | None:
        """The filled orders, once there are `count` of them."""
        found = [o for o in self.get("/orders", headers) if o["state"] == "filled"]
        return found if len(found) >= count else None

    def exchange_info_calls(self) -> int:
        return sum(1 for r in self.fake.request_log if r.path.endswith("/exchangeInfo"))

    def markets_state(self) -> list[dict[str, Any]]:
        return self.served.runtime.exchanges.market_lists()


def until(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    """Poll until `condition` returns something truthy; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    exchange = FakeExchange(
        "binance",
        markets=[*DEFAULT_MARKETS, SUI],
        prices={"BTC/USDT": "60000", "ETH/USDT": "3000", "SUI/USDT": "2"},
        balances={"USDT": "10000", "XYZ": "5"},  # XYZ: an asset with no market to value it by
    )
    exchange.start()
    yield exchange
    exchange.stop()


@contextmanager
def platform(
    tmp_path: Path,
    fake: FakeExchange,
    paper: list[dict[str, Any]],
    wait_for_markets: bool = True,
    live_accounts: int = 1,
    before_start: Callable[[Engine, list[int]], None] | None = None,
    **settings: Any,
) -> Iterator[Platform]:
    """Paper subscribers as given, and the provider's own live accounts on the fake (120 USDT entries)."""
    runtime = make_runtime(tmp_path, encryption_key=generate_key(), **{**FAST, **settings})
    seeded = seed_marketplace(runtime.engine, paper)
    urls = flatten_urls(fake.ccxt_urls())
    live = [
        add_live_subscriber(
            runtime, seeded, "binance", urls, fake.api_key, fake.api_secret, f"live{n}", quote_amount="120"
        )
        for n in range(live_accounts)
    ]
    if before_start is not None:
        before_start(runtime.engine, live)
    with ServedRuntime(runtime, free_port()) as served:
        found = Platform(served, fake, seeded, live[0])
        if wait_for_markets:  # loaded at start, in the background
            until(lambda: any(m["loaded"] for m in found.markets_state()))
        yield found


def test_a_live_position_is_marked_by_its_exchange_and_a_paper_one_by_the_paper_market(
    tmp_path: Path, fake: FakeExchange
) -> None:
    with platform(tmp_path, fake, [{"sizing_mode": "equity_pct", "sizing_value": "1"}]) as p:
        pin_prices(p.served.runtime, {"BTC/USDT": "20000"})  # the paper market is far from the exchange
        assert p.alert("BTCUSDT").status_code == 202
        live_orders = until(lambda: p.filled(p.provider()))
        paper_orders = until(lambda: p.filled(p.subscriber()))
        fake.set_price("BTC/USDT", "66000")
        [live] = until(
            lambda: [x for x in p.get("/positions", p.provider()) if x["mark_price"] == "66000"], timeout=5
        )
        [paper] = p.get("/positions", p.subscriber())
        live_intents = p.get("/intents", p.provider())
        paper_intents = p.get("/intents", p.subscriber())

        fake.fail_next("GET", "/ticker", status=503, times=10_000)  # the exchange's prices go away
        [dark] = until(lambda: [x for x in p.get("/positions", p.provider()) if x["mark_price"] is None])

    assert live["mark_source"] == "binance" and live["exchange"] == "binance"
    assert Decimal(live["unrealized_pnl"]) == (Decimal(66000) - Decimal(live["avg_entry"])) * Decimal(
        live["amount"]
    )
    assert Decimal(live["unrealized_pnl"]) > 0  # bought near 60,000 on the exchange
    assert paper["mark_source"] == "paper" and paper["mark_price"] == "20000"
    assert Decimal(paper["unrealized_pnl"]) == (Decimal(20000) - Decimal(paper["avg_entry"])) * Decimal(
        paper["amount"]
    )
    # A price that cannot be had is said so, never borrowed from the paper market.
    assert dark["unrealized_pnl"] is None and dark["mark_error"]
    # The equity each entry was sized against: the exchange's 10,000 USDT, the paper account's 10,000.
    assert live_orders[0]["sizing_equity"] == "10000" and live_intents[0]["sizing_equity"] == "10000"
    assert live_intents[0]["order_id"] == live_orders[0]["id"]
    assert paper_orders[0]["sizing_equity"] == "10000" and paper_intents[0]["sizing_equity"] == "10000"
    assert Decimal(paper_orders[0]["amount"]) == Decimal("0.005")  # 1 % of 10,000 at 20,000


def test_a_live_balance_is_the_exchanges_with_equity_at_its_prices_cached_briefly(
    tmp_path: Path, fake: FakeExchange
) -> None:
    with platform(tmp_path, fake, []) as p:
        headers = p.provider()
        assert p.alert("BTCUSDT").status_code == 202
        until(lambda: p.filled(headers))
        calls = sum(1 for r in fake.request_log if r.path.endswith("/account"))
        balance = p.get(f"/accounts/{p.live_account}/balance", headers)
        again = p.get(f"/accounts/{p.live_account}/balance", headers)
        asked = sum(1 for r in fake.request_log if r.path.endswith("/account")) - calls
        held = fake.balances

        runtime = p.served.runtime
        dead = runtime.members.create_account(
            {
                "user_id": p.seeded.provider_id,
                "name": "unreachable",
                "exchange": "binance",
                "mode": "live",
                "sandbox": False,
                "api_urls": UNREACHABLE,
                "created_at": now(),
            }
        )
        assert runtime.secret_box is not None
        runtime.members.set_account_secrets(
            dead,
            {
                "api_key_enc": runtime.secret_box.encrypt("k", f"account:{dead}:api_key"),
                "api_secret_enc": runtime.secret_box.encrypt("s", f"account:{dead}:api_secret"),
                "api_password_enc": None,
            },
        )
        unreachable = httpx.get(f"{p.url}/api/v1/accounts/{dead}/balance", headers=headers, timeout=20)

    assert balance == again and asked == 1  # the second answer came from the cache
    assert balance["mode"] == "live" and balance["quote"] == "USDT"
    for asset in ("USDT", "BTC"):
        mine = balance["assets"][asset]
        theirs = held[asset]
        assert (mine["free"], mine["used"], mine["total"]) == (
            theirs["free"],
            theirs["locked"],
            theirs["total"],
        )
    expected = Decimal(held["USDT"]["total"]) + Decimal(held["BTC"]["total"]) * Decimal(60000)
    assert Decimal(balance["equity"]) == expected
    assert set(balance["unvalued"]) == {"XYZ"} and "not listed" in balance["unvalued"]["XYZ"]
    assert unreachable.status_code == 503
    assert "binance unreachable" in unreachable.json()["detail"]


def test_a_pair_only_the_live_exchange_lists_trades_there_and_is_skipped_on_paper(
    tmp_path: Path, fake: FakeExchange
) -> None:
    with platform(tmp_path, fake, [{}], live_accounts=2) as p:
        loads = p.exchange_info_calls()
        accepted = p.alert("SUIUSDT")
        unknown = p.alert("BINANCE:NOPEUSDT")
        live_orders = until(lambda: p.filled(p.provider(), 2))
        paper_intents = until(
            lambda: [i for i in p.get("/intents", p.subscriber()) if i["status"] != "created"]
        )
        paper_orders = p.get("/orders", p.subscriber())
        loads_during_webhooks = p.exchange_info_calls() - loads
        [live_subscription, _] = p.get("/subscriptions", p.provider())
        [paper_subscription] = p.get("/subscriptions", p.subscriber())
        filters = {
            (subscription["id"], pair): httpx.patch(
                f"{p.url}/api/v1/subscriptions/{subscription['id']}", headers=headers, json={"pairs": [pair]}
            ).status_code
            for headers, subscription in (
                (p.provider(), live_subscription),
                (p.subscriber(), paper_subscription),
            )
            for pair in ("SUI/USDT", "NEO/BTC")
        }

    assert accepted.status_code == 202 and accepted.json()["symbol"] == "SUI/USDT"
    assert unknown.status_code == 422
    assert "paper" in unknown.json()["detail"] and "binance" in unknown.json()["detail"]
    for order in live_orders:  # both live accounts
        assert order["symbol"] == "SUI/USDT" and Decimal(order["amount"]) == Decimal(60)  # 120 USDT at 2
        assert fake.order(order["client_order_id"]) is not None
    assert {o["account_id"] for o in live_orders} == {p.live_account, p.live_account + 1}
    [skipped] = paper_intents
    assert skipped["status"] == "rejected" and skipped["reason"] == "SUI/USDT is not listed on paper"
    assert paper_orders == []
    assert loads_during_webhooks == 0  # the market list was loaded at start, not on the webhook's path
    assert loads == 1  # once for the exchange, not once per account
    # A pair filter names markets of the account's own exchange: SUI/USDT on binance, NEO/BTC on paper.
    assert filters == {
        (live_subscription["id"], "SUI/USDT"): 200,
        (live_subscription["id"], "NEO/BTC"): 422,
        (paper_subscription["id"], "SUI/USDT"): 422,
        (paper_subscription["id"], "NEO/BTC"): 200,
    }


def test_a_signal_that_arrives_before_the_live_market_list_is_kept_and_decided_when_routed(
    tmp_path: Path, fake: FakeExchange
) -> None:
    fake.fail_next("GET", "/exchangeInfo", status=503, times=4)  # the load at start fails
    with platform(tmp_path, fake, [{}], wait_for_markets=False) as p:
        until(lambda: any(m["error"] for m in p.markets_state()))
        accepted = p.alert("SUIUSDT")
        live_orders = until(lambda: p.filled(p.provider()))
        [skipped] = until(lambda: [i for i in p.get("/intents", p.subscriber()) if i["status"] != "created"])
        [signal] = p.get("/signals", p.provider())

    assert accepted.status_code == 202 and accepted.json()["symbol"] is None  # resolved when routed
    assert [o["symbol"] for o in live_orders] == ["SUI/USDT"]
    assert skipped["reason"] == "SUI/USDT is not listed on paper"
    assert signal["symbol"] == "SUI/USDT" and signal["status"] == "routed"


def test_a_signal_no_venue_can_resolve_is_skipped_for_each_subscriber_with_its_reason(
    tmp_path: Path, fake: FakeExchange
) -> None:
    fake.fail_next("GET", "/exchangeInfo", status=503, times=10_000)  # the exchange's list stays away
    with platform(tmp_path, fake, [{}], wait_for_markets=False) as p:
        until(lambda: any(m["error"] for m in p.markets_state()))
        accepted = p.alert("SUIUSDT")
        [live] = until(lambda: [i for i in p.get("/intents", p.provider()) if i["status"] != "created"])
        [paper] = until(lambda: [i for i in p.get("/intents", p.subscriber()) if i["status"] != "created"])
        [signal] = p.get("/signals", p.provider())
        orders = p.get("/orders", p.provider()) + p.get("/orders", p.subscriber())

    assert accepted.status_code == 202  # the signal is kept, not lost
    assert orders == [] and fake.orders == []  # and nothing trades on a guess
    assert live["status"] == "rejected" and "binance markets could not be loaded" in live["reason"]
    assert paper["status"] == "rejected" and "'SUIUSDT'" in paper["reason"] and "paper" in paper["reason"]
    assert signal["status"] == "unresolved" and signal["symbol"] == ""


def test_an_account_whose_keys_cannot_be_read_does_not_keep_the_market_list_from_the_others(
    tmp_path: Path, fake: FakeExchange
) -> None:
    def spoil_first_keys(engine: Engine, accounts: list[int]) -> None:
        with engine.begin() as conn:  # as after a key rotation gone wrong: this one cannot decrypt
            conn.execute(
                update(exchange_accounts)
                .where(exchange_accounts.c.id == accounts[0])
                .values(api_key_enc="not-a-token")
            )

    with platform(tmp_path, fake, [], live_accounts=2, before_start=spoil_first_keys) as p:
        [state] = p.markets_state()
        accepted = p.alert("SUIUSDT")
        [order] = until(lambda: p.filled(p.provider()))
        refused = until(lambda: [i for i in p.get("/intents", p.provider()) if i["status"] == "rejected"])

    assert state["loaded"] and state["markets"] > 0  # through the second account
    assert accepted.status_code == 202 and accepted.json()["symbol"] == "SUI/USDT"
    assert order["account_id"] == p.live_account + 1 and order["symbol"] == "SUI/USDT"
    assert [i["account_id"] for i in refused] == [p.live_account]
    assert "cannot be decrypted" in refused[0]["reason"]
