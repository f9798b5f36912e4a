"""Bad input after sign-in gets a clear 422 and changes nothing, on SQLite and PostgreSQL; another
user's objects answer 404 exactly like objects that do not exist, whatever their state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from tests.conftest import free_port
from tests.e2e.owned import BOT_DEFINITION, Owned, seed_user
from tests.support import PASSWORD, ServedRuntime, make_runtime
from tradewire.adapters.store import tables

MAX_ID = 2**63 - 1
ABSENT = 10**15  # an id no row has


class Site:
    def __init__(self, served: ServedRuntime) -> None:
        self.served = served
        self.runtime = served.runtime
        self.http = httpx.Client(base_url=served.url, timeout=20)
        self.alice = seed_user(self.runtime, "alice")
        self.bob = seed_user(self.runtime, "bob")

    def call(self, who: Owned, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers=who.headers, **kwargs)

    def snapshot(self) -> dict[str, Any]:
        """Every row of the tables a request could change."""
        watched = [
            tables.users,
            tables.exchange_accounts,
            tables.strategies,
            tables.strategy_pairs,
            tables.subscriptions,
            tables.positions,
            tables.orders,
            tables.backtests,
        ]
        with self.runtime.engine.connect() as conn:
            return {
                t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key))] for t in watched
            }


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> Iterator[Site]:
    url = engine.url.render_as_string(hide_password=False)
    runtime = make_runtime(tmp_path, url, allow_private_exchange_urls=False)
    with ServedRuntime(runtime, free_port()) as served:
        yield Site(served)


def _raw(site: Site, who: Owned, method: str, path: str, body: str) -> httpx.Response:
    """A JSON body sent as written (escapes such as \\u0000 and \\ud800 kept)."""
    headers = {**who.headers, "Content-Type": "application/json"}
    return site.http.request(method, path, headers=headers, content=body.encode())


def test_ids_beyond_int64_are_refused_and_the_largest_is_merely_absent(site: Site) -> None:
    a = site.alice
    too_big = MAX_ID + 1
    for path in (
        f"/api/v1/accounts/{too_big}",
        f"/api/v1/strategies/{too_big}",
        f"/api/v1/subscriptions/{too_big}",
        f"/api/v1/bots/{too_big}",
        f"/api/v1/backtests/{too_big}",
        f"/api/v1/strategies/{too_big}/backtests",
        f"/api/v1/signals?strategy_id={too_big}",
        f"/api/v1/intents?signal_id={too_big}",
        f"/api/v1/execution-log?intent_id={too_big}",
        f"/api/v1/orders?before_id={too_big}",
        "/api/v1/accounts/0",
        "/api/v1/accounts/-1",
    ):
        assert site.call(a, "GET", path).status_code == 422, path
    assert site.call(a, "POST", f"/api/v1/positions/{too_big}/close").status_code == 422
    refused = site.call(
        a, "POST", "/api/v1/subscriptions", json={"strategy_id": too_big, "account_id": a.account_id}
    )
    assert refused.status_code == 422
    assert site.call(a, "GET", f"/api/v1/accounts/{MAX_ID}").status_code == 404
    assert site.call(a, "GET", f"/api/v1/signals?strategy_id={MAX_ID}").json() == []


TEXT_CASES = [
    ("POST", "/api/v1/accounts", '{"name": "a\\u0000b"}'),
    ("POST", "/api/v1/accounts", '{"name": "a\\ud800b"}'),
    ("POST", "/api/v1/accounts", '{"name": "line\\nbreak"}'),
    ("POST", "/api/v1/accounts", '{"name": "' + "x" * 65 + '"}'),
    ("POST", "/api/v1/strategies", '{"name": "s", "description": "nul \\u0000 here"}'),
    ("POST", "/api/v1/strategies", '{"name": "s", "passphrase": "\\udc00\\udc00\\udc00\\udc00x"}'),
    ("POST", "/api/v1/strategies", '{"name": "\\ud83d"}'),
    ("POST", "/api/v1/users", '{"username": "carol", "password": "\\ud800\\ud800\\ud800\\ud800x"}'),
]


def test_text_storage_cannot_hold_is_refused(site: Site) -> None:
    before = site.snapshot()
    for method, path, body in TEXT_CASES:
        response = _raw(site, site.alice, method, path, body)
        assert response.status_code == 422, (body, response.text)
    assert site.snapshot() == before


NUMBER_CASES: list[dict[str, Any]] = [
    {"sizing_value": "1e20"},
    {"sizing_value": 1e30},
    {"sizing_value": "1e400000"},
    {"sizing_value": "1e-30"},
    {"sizing_value": "0.0000000000000000001"},  # 19 places: PostgreSQL would round it to 0
    {"sizing_value": "1234567890.12345678901234567890"},  # 30 significant digits
    {"sizing_value": "NaN"},
    {"risk_limits": {"max_position_quote": "1e20"}},
    {"risk_limits": {"daily_loss_quote": "1e-400000"}},
    {"risk_limits": {"max_signal_age_s": 10**40}},
    {"exit_rules": {"max_hold_s": 10**30}},
    {"pairs": ["B" * 500 + "/USDT"]},
    {"pairs": ["BTC/USDT"] * 501},
]


def test_numbers_and_lists_storage_cannot_hold_are_refused(site: Site) -> None:
    a = site.alice
    before = site.snapshot()
    for fields in NUMBER_CASES:
        created = site.call(
            a,
            "POST",
            "/api/v1/subscriptions",
            json={"strategy_id": a.public_strategy_id, "account_id": a.account_id, **fields},
        )
        changed = site.call(a, "PATCH", f"/api/v1/subscriptions/{a.subscription_id}", json=_as_update(fields))
        assert created.status_code == 422, (fields, created.text)
        assert changed.status_code == 422, (fields, changed.text)
    assert site.snapshot() == before


def _as_update(fields: dict[str, Any]) -> dict[str, Any]:
    return {"sizing_mode": "fixed_quote", **fields} if "sizing_value" in fields else fields


def test_the_widest_amounts_storage_holds_are_kept_exactly(site: Site) -> None:
    a = site.alice
    for value in ("99999999999999999999", "0.000000000000000001", "12345678901234567890.12345678"):
        changed = site.call(
            a,
            "PATCH",
            f"/api/v1/subscriptions/{a.subscription_id}",
            json={"sizing_mode": "fixed_quote", "sizing_value": value},
        )
        assert changed.status_code == 200, changed.text
        assert Decimal(changed.json()["sizing_value"]) == Decimal(value)
        read = site.call(a, "GET", f"/api/v1/subscriptions/{a.subscription_id}").json()
        assert Decimal(read["sizing_value"]) == Decimal(value)


def test_other_bodies_and_queries_out_of_bounds_are_refused(site: Site) -> None:
    a = site.alice
    before = site.snapshot()
    backtest = {"strategy": "ema_cross", "symbols": ["BTC/USDT"], "timeframe": "5m"}
    deep: Any = 1
    for _ in range(20):
        deep = {"a": deep}
    cases = [
        ("POST", "/api/v1/backtests", {"strategy": "ema_cross", "params": deep, "symbols": ["BTC/USDT"]}),
        ("POST", "/api/v1/backtests", {**backtest, "start": "0001-01-01T00:00:00+05:00"}),
        ("POST", "/api/v1/backtests", {**backtest, "end": "9999-12-31T23:59:59-05:00"}),
        ("POST", "/api/v1/bots", {"name": "b", "definition": {**BOT_DEFINITION, "symbols": ["X" * 40]}}),
        ("POST", "/api/v1/bots", {"name": "b", "definition": {**BOT_DEFINITION, "candles_from": "a\x00"}}),
        (
            "POST",
            "/api/v1/accounts",
            {
                "name": "n",
                "mode": "live",
                "exchange": "binance",
                "api_key": "k" * 8,
                "api_secret": "s" * 8,
                "api_urls": {f"k{i}": "https://x.io" for i in range(17)},
            },
        ),
        ("PUT", f"/api/v1/strategies/{a.strategy_id}/pairs", {"symbol": "A" * 100, "status": "BLACKLISTED"}),
    ]
    for method, path, body in cases:
        response = site.call(a, method, path, json=body)
        assert response.status_code == 422, (path, response.text)
    assert site.call(a, "GET", "/api/v1/orders?state=%00").status_code == 422
    assert site.call(a, "GET", "/api/v1/orders?state=lost").status_code == 422
    login = site.http.post("/api/v1/auth/token", data={"username": "alice\x00", "password": PASSWORD})
    assert login.status_code == 422
    login = site.http.post("/api/v1/auth/token", data={"username": "alice", "password": "p" * 300})
    assert login.status_code == 422
    assert site.snapshot() == before


def test_another_users_objects_answer_exactly_like_absent_ones(site: Site) -> None:
    """Bob walks every route with Alice's ids: each answers 404 with the words an absent id gets
    (her account's subscriptions, her strategy's kind, the body's pairs make no difference)."""
    a, b = site.alice, site.bob
    definition = {"definition": {**BOT_DEFINITION, "bot": None}}
    routes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/api/v1/strategies/{strategy}", None),
        ("PATCH", "/api/v1/strategies/{strategy}", {"name": "mine now"}),
        ("PATCH", "/api/v1/strategies/{public}", definition),  # public, but not Bob's
        ("PATCH", "/api/v1/strategies/{public}", {"name": "mine now"}),
        ("POST", "/api/v1/strategies/{strategy}/passphrase", None),
        ("POST", "/api/v1/strategies/{public}/passphrase", None),
        ("GET", "/api/v1/strategies/{strategy}/pairs", None),
        ("PUT", "/api/v1/strategies/{strategy}/pairs", {"symbol": "NOPE/USDT", "status": "BLACKLISTED"}),
        ("PUT", "/api/v1/strategies/{public}/pairs", {"symbol": "NOPE/USDT", "status": "BLACKLISTED"}),
        ("GET", "/api/v1/strategies/{strategy}/backtests", None),
        ("GET", "/api/v1/accounts/{account}", None),
        ("GET", "/api/v1/accounts/{account}/balance", None),
        ("POST", "/api/v1/accounts/{account}/sync", None),
        ("DELETE", "/api/v1/accounts/{account}", None),  # it has an active subscription
        ("GET", "/api/v1/subscriptions/{subscription}", None),
        ("PATCH", "/api/v1/subscriptions/{subscription}", {"pairs": ["NOPE/USDT"]}),
        ("PATCH", "/api/v1/subscriptions/{subscription}", {"status": "PAUSED"}),
        ("GET", "/api/v1/bots/{bot}", None),
        ("PATCH", "/api/v1/bots/{bot}", {"definition": {**BOT_DEFINITION, "symbols": ["NOPE/USDT"]}}),
        ("POST", "/api/v1/bots/{bot}/start", None),
        ("POST", "/api/v1/bots/{bot}/stop", None),
        ("POST", "/api/v1/positions/{position}/close", None),
        ("GET", "/api/v1/backtests/{backtest}", None),
        ("GET", "/api/v1/backtests/{backtest}/equity.png", None),
    ]
    ids = {
        "strategy": a.strategy_id,
        "public": a.public_strategy_id,
        "account": a.account_id,
        "subscription": a.subscription_id,
        "bot": a.bot_id,
        "position": a.position_id,
        "backtest": a.backtest_id,
    }
    before = site.snapshot()
    for method, template, body in routes:
        kind = template.split("{")[1].split("}")[0]
        theirs = site.call(b, method, template.format(**{kind: ids[kind]}), json=body)
        absent = site.call(b, method, template.format(**{kind: ABSENT}), json=body)
        assert theirs.status_code == 404, (method, template, theirs.status_code, theirs.text)
        assert absent.status_code == 404, (method, template, absent.text)
        assert theirs.text.replace(str(ids[kind]), "ID") == absent.text.replace(str(ABSENT), "ID")
    # Bodies naming Alice's objects: the same.
    for path, body in [
        ("/api/v1/subscriptions", {"strategy_id": b.public_strategy_id, "account_id": a.account_id}),
        ("/api/v1/subscriptions", {"strategy_id": a.strategy_id, "account_id": b.account_id}),
        (
            "/api/v1/bots",
            {
                "name": "x",
                "account_id": a.account_id,
                **{"definition": {**BOT_DEFINITION, "symbols": ["NOPE/USDT"]}},
            },
        ),
        ("/api/v1/backtests", {"strategy_id": a.strategy_id}),
    ]:
        response = site.call(b, "POST", path, json=body)
        assert response.status_code == 404, (path, response.text)
    assert site.snapshot() == before
    # Alice herself is answered on the merits: her account still has a subscription (409).
    assert site.call(a, "DELETE", f"/api/v1/accounts/{a.account_id}").status_code == 409
    assert json.loads(site.call(a, "GET", f"/api/v1/accounts/{a.account_id}").text)["id"] == a.account_id
