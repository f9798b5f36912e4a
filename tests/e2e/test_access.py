"""The access table (api/access.py) walked over HTTP: every route the app serves is in ACCESS, and
each is called anonymously, as a subscriber, a provider and an admin (with their own ids), and with
another user's ids; each answer is in the class the table promises: 401 without sign-in where one is
needed, 403 for a non-admin on an admin route and for a subscriber publishing, 404 for another user's
ids on owned routes, and neither 401 nor 403 where the caller is allowed. No answer is a 5xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import insert
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import free_port
from tests.e2e.owned import BOT_DEFINITION, Owned, seed_user
from tests.support import PASSPHRASE, ServedRuntime, make_runtime, now
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.ai import SqlAi
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.tables import models
from tradewire.api import access
from tradewire.api.access import ACCESS, Access, Who, app_routes, operations
from tradewire.api.app import create_app
from tradewire.api.auth import issue_token
from tradewire.domain.members import Role
from tradewire.ports.ai import NewAnalysis
from tradewire.runtime import Runtime

ROLES = ("subscriber", "provider", "admin")
# Bodies that pass validation, so a request reaches the ownership check (a body is read first).
VALID_BODIES: dict[str, Any] = {
    "PATCH /api/v1/bots/{bot_id}": {"definition": BOT_DEFINITION},
    "PUT /api/v1/strategies/{strategy_id}/pairs": {"symbol": "BTC/USDT", "status": "NORMAL"},
}
VALID_QUERIES: dict[str, dict[str, str]] = {
    "GET /api/v1/backtests/{backtest_id}/candles": {"symbol": "BTC/USDT"},
}


@dataclass(frozen=True)
class Caller:
    role: str
    owned: Owned
    model_id: int
    endpoint_id: int  # an AI endpoint, and an analysis of the owned strategy
    analysis_id: int


@dataclass
class Walk:
    served: ServedRuntime
    http: httpx.Client
    callers: dict[str, Caller]  # by role, and "other": whose ids nobody else may use
    target_id: int  # a user the admin routes act on

    def headers(self, role: str | None) -> dict[str, str]:
        """A new session per request: signing out or changing a password ends only its own."""
        if role is None:
            return {}
        runtime = self.served.runtime
        user = runtime.members.user_by_id(self.callers[role].owned.user_id)
        assert user is not None
        return {"Authorization": f"Bearer {issue_token(runtime, user)}"}


def _model(runtime: Runtime, owner_id: int) -> int:
    with write_transaction(runtime.engine) as conn:
        key = conn.execute(
            insert(models).values(
                owner_id=owner_id,
                symbol="BTC/USDT",
                version=1,
                feature_set="candles@1",
                manifest={},
                sha256="0" * 64,
                size=4,
                content=b"tree",
                created_at=now(),
            )
        ).inserted_primary_key
    assert key is not None
    return int(key[0])


def _ai(runtime: Runtime, owned: Owned) -> tuple[int, int]:
    ai = SqlAi(runtime.engine)
    endpoint_id = ai.add_endpoint(owned.user_id, "local", "https://ai.example.com/v1", "m", now())
    claim = NewAnalysis(owned.strategy_id, "BTC/USDT", "1h", 0, endpoint_id, None, 1, now(), b"\x89PNG")
    analysis_id = ai.claim_analysis(claim)
    assert analysis_id is not None
    return endpoint_id, analysis_id


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    runtime = make_runtime(tmp_path_factory.mktemp("access"), encryption_key=generate_key())
    callers = {}
    for role in (*ROLES, "other"):
        owned = seed_user(runtime, role, Role(role) if role in ROLES else Role.PROVIDER)
        callers[role] = Caller(role, owned, _model(runtime, owned.user_id), *_ai(runtime, owned))
    target = seed_user(runtime, "target")
    with ServedRuntime(runtime, free_port()) as served, httpx.Client(base_url=served.url, timeout=30) as http:
        yield Walk(served, http, callers, target.user_id)


def _routes(served: ServedRuntime) -> list[tuple[str, str, Access]]:
    app = create_app(served.runtime)
    found = []
    for path, route in app_routes(app):
        for name in operations(route, path):
            method, _, full = name.partition(" ")
            found.append((method, full, ACCESS[name]))
    return sorted(found)


def _path(path: str, ids: Caller, target_id: int) -> str:
    o = ids.owned
    values = {
        "{account_id}": o.account_id,
        "{strategy_id}": o.strategy_id,
        "{subscription_id}": o.subscription_id,
        "{bot_id}": o.bot_id,
        "{position_id}": o.position_id,
        "{intent_id}": o.intent_id,
        "{hook_id}": o.hook_id,
        "{backtest_id}": o.backtest_id,
        "{model_id}": ids.model_id,
        "{endpoint_id}": ids.endpoint_id,
        "{analysis_id}": ids.analysis_id,
        "{user_id}": target_id,
        "{slug}": "target-private",  # whose passphrase no call of the walk rotates
        "{kind}": "orders",
        "{year}": 2024,
        "{path:path}": "style.css",
    }
    for name, value in values.items():
        path = path.replace(name, str(value))
    assert "{" not in path, f"no value for a parameter of {path}"
    return path


def _call(walk: Walk, method: str, path: str, rule: Access, role: str | None, ids: Caller) -> httpx.Response:
    url = _path(path, ids, walk.target_id)
    body: Any = VALID_BODIES.get(f"{method} {path}", {})
    if rule.publishes:
        body = {"name": "published", "is_public": True} if method == "POST" else {"is_public": True}
    if method == "POST" and url.startswith("/api/v1/webhooks/"):
        body = {"passphrase": PASSPHRASE, "ticker": "BTCUSDT", "action": "sell"}
    if path == "/docs-assets":
        url = "/docs-assets/swagger-ui.css"
    json = body if method in ("POST", "PUT", "PATCH") else None
    query = VALID_QUERIES.get(f"{method} {path}")
    return walk.http.request(method, url, json=json, params=query, headers=walk.headers(role))


def test_every_served_route_is_in_the_access_table_and_every_entry_is_served(walk: Walk) -> None:
    routes = _routes(walk.served)
    served = {f"{method} {path}" for method, path, _ in routes}

    assert served == set(ACCESS)
    assert "WEBSOCKET /api/v1/ws" in served and "GET /docs-assets" in served


def test_a_route_missing_from_the_table_or_a_stale_entry_stops_the_app_being_built(
    walk: Walk, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = walk.served.runtime
    missing = {k: v for k, v in ACCESS.items() if k != "GET /api/v1/admin/executions"}
    monkeypatch.setattr(access, "ACCESS", missing)
    with pytest.raises(RuntimeError, match="GET /api/v1/admin/executions has no access rule"):
        create_app(runtime)

    monkeypatch.setattr(access, "ACCESS", {**ACCESS, "GET /api/v1/nowhere": access.USER})
    with pytest.raises(RuntimeError, match="names routes that do not exist: GET /api/v1/nowhere"):
        create_app(runtime)


def test_a_rule_that_contradicts_its_handler_stops_the_app_being_built(
    walk: Walk, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = walk.served.runtime
    monkeypatch.setitem(ACCESS, "GET /api/v1/accounts", access.ANYONE)  # its handler needs a user
    with pytest.raises(RuntimeError, match="ACCESS says anyone, but its handler needs a signed-in user"):
        create_app(runtime)
    monkeypatch.setitem(ACCESS, "GET /api/v1/accounts", access.USER)
    monkeypatch.setitem(ACCESS, "GET /api/v1/accounts/{account_id}", access.USER)  # an id, not owned
    with pytest.raises(RuntimeError, match="mark it owned"):
        create_app(runtime)


@pytest.mark.parametrize("role", [None, *ROLES])
def test_each_role_gets_what_the_table_promises_with_its_own_ids(walk: Walk, role: str | None) -> None:
    ids = walk.callers[role or "provider"]
    wrong = []
    for method, path, rule in _routes(walk.served):
        if method == "WEBSOCKET":
            continue
        answer = _call(walk, method, path, rule, role, ids)
        code = answer.status_code
        if role is None:
            expected = "allowed" if rule.who is Who.ANYONE else 401
        elif (rule.who is Who.ADMIN and role != "admin") or (rule.publishes and role == "subscriber"):
            expected = 403
        else:
            expected = "allowed"
        ok = code < 500 and (code not in (401, 403) if expected == "allowed" else code == expected)
        if not ok:
            wrong.append(
                f"{method} {path} as {role or 'anonymous'}: {code} (expected {expected}) {answer.text[:120]}"
            )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_another_user_s_ids_answer_404_on_every_owned_route_whatever_the_role(walk: Walk, role: str) -> None:
    other = walk.callers["other"]
    wrong = []
    owned_routes = [(m, p, r) for m, p, r in _routes(walk.served) if r.owned]
    assert len(owned_routes) >= 20
    for method, path, rule in owned_routes:
        answer = _call(walk, method, path, rule, role, other)
        if answer.status_code != 404:
            wrong.append(
                f"{method} {path} as {role} with other's ids: {answer.status_code} {answer.text[:120]}"
            )
    assert not wrong, "\n".join(wrong)


def test_the_live_channel_is_closed_to_a_caller_without_a_valid_token(walk: Walk) -> None:
    async def attempt(token: str) -> int | None:
        url = walk.served.url.replace("http://", "ws://") + "/api/v1/ws"
        async with connect(url) as ws:
            await ws.send(f'{{"op":"auth","token":"{token}"}}')
            try:
                await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
            return None

    assert asyncio.run(attempt("not-a-token")) == 4401


def test_only_these_routes_are_open_to_anyone_and_every_admin_route_is_admins_only() -> None:
    # Opening a route to anyone is a decision this list records; so is every admin route staying ADMIN.
    anyone = {name for name, rule in ACCESS.items() if rule.who is Who.ANYONE}
    assert anyone == {
        "POST /api/v1/webhooks/tradingview/{slug}",
        "POST /api/v1/telegram/updates",  # Telegram's webhook: its secret token, checked first
        "POST /api/v1/auth/token",
        "POST /api/v1/auth/refresh",
        "POST /api/v1/users",
        "GET /api/v1/markets",
        "GET /health",
        "GET /health/live",
        "GET /metrics",
        "GET /openapi.json",
        "GET /docs",
        "GET /docs/oauth2-redirect",
        "GET /redoc",
        "GET /docs-assets",
        "GET /",  # the dashboard's page and assets: no data, it signs in through the API
        "GET /assets/{path:path}",
    }
    admin = {name for name in ACCESS if name.split(" ")[1].startswith("/api/v1/admin/")}
    assert admin and all(ACCESS[name].who is Who.ADMIN for name in admin)
    assert {name for name, rule in ACCESS.items() if rule.who is Who.ADMIN} == admin
