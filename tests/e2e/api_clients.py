"""Clients of a served runtime's API as the end-to-end tests call it: a user who signs up over HTTP
(publishing strategies, subscribing paper accounts), one user's JSON calls with the status checked,
and a seeded platform's subscriber that sends its strategy alerts."""

from __future__ import annotations

from typing import Any

import httpx

from tests.seeding import Seeded
from tests.support import PASSWORD, ServedRuntime, send_alert


class SignedUpUser:
    """A user signed up over HTTP (POST /users) and signed in: its calls carry its token."""

    def __init__(self, served: ServedRuntime, username: str) -> None:
        self.http = httpx.Client(base_url=served.url, timeout=30)
        signup = self.http.post("/api/v1/users", json={"username": username, "password": PASSWORD})
        assert signup.status_code == 201, signup.text
        self.headers = served.token(username)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers, **kwargs)

    def publish(self, name: str, definition: dict[str, Any]) -> dict[str, Any]:
        """A public strategy of this user's, created (201): the strategy."""
        created = self.call(
            "POST", "/api/v1/strategies", json={"name": name, "is_public": True, "definition": definition}
        )
        assert created.status_code == 201, created.text
        result: dict[str, Any] = created.json()
        return result

    def subscribe_paper_account(self, strategy_id: int, **fields: Any) -> dict[str, Any]:
        """A new paper account of this user's ("paper") subscribed to `strategy_id` (201), with
        `fields` (risk_limits ...) in the subscription's body: the subscription."""
        account = self.call("POST", "/api/v1/accounts", json={"name": "paper"}).json()
        body = {"strategy_id": strategy_id, "account_id": account["id"], **fields}
        subscribed = self.call("POST", "/api/v1/subscriptions", json=body)
        assert subscribed.status_code == 201, subscribed.text
        result: dict[str, Any] = subscribed.json()
        return result


class JsonApi:
    """An API (one served runtime or one process of a cluster) as one user calls it: each call
    checks the status it expects and answers the JSON body, if any."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=url, timeout=10, headers=headers)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, expect: int = 200) -> Any:
        response = self.http.request(method, path, json=body)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    def listing(self) -> dict[str, dict[str, Any]]:
        """GET /strategies by slug."""
        return {s["slug"]: s for s in self.call("GET", "/api/v1/strategies")}


class SubscribedPlatform:
    """A served runtime with a seeded webhook strategy (tests/support.py seed_marketplace): the API
    called as its first subscriber (tv-test-sub1) unless told otherwise, and TradingView alerts to the
    strategy handled to the end (routed, ordered, filled); each alert has an id of its own."""

    def __init__(self, served: ServedRuntime, seeded: Seeded) -> None:
        self.served, self.seeded = served, seeded
        self.url = served.url
        self.headers = served.token("tv-test-sub1")
        self.sent = 0

    def api(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return httpx.request(
            method, f"{self.url}/api/v1{path}", headers=headers or self.headers, timeout=10, **kw
        )

    def alert(self, action: str = "buy") -> None:
        self.sent += 1
        send_alert(self.url, action, self.sent)
        self.served.settle()
