"""Over HTTP: rate limits by tier, per user or per address, with X-RateLimit-* headers and a 429 that
says when to retry; the webhook's limits (accepted alerts per strategy, wrong passphrases per strategy
and address, the latter refused before any hashing); every endpoint in exactly one tier; counts
shared through Redis by two servers; sign-in still limited (in memory) when Redis cannot be reached."""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from tests.conftest import free_port, unavailable
from tests.fakes.tcp import accept_and_close
from tests.support import PASSWORD, ServedRuntime, make_runtime, seed_marketplace
from tradewire.api.app import create_app
from tradewire.api.limits import TIERS, Tier, include_limited, operation

ALERT = '{"passphrase":"abcdefgh","ticker":"BTCUSDT","action":"buy","contracts":"0.001","order_id":"%d"}'
WRONG = '{"passphrase":"not-it","ticker":"BTCUSDT","action":"buy"}'


class Client:
    def __init__(self, served: ServedRuntime, slug: str) -> None:
        self.served = served
        self.slug = slug
        self.http = httpx.Client(base_url=served.url, timeout=10)

    def get(self, path: str, address: str = "192.0.2.1", **headers: str) -> httpx.Response:
        return self.http.get(path, headers={"X-Forwarded-For": address, **headers})

    def sign_in(self, username: str, address: str, password: str = PASSWORD) -> httpx.Response:
        data = {"username": username, "password": password}
        return self.http.post("/api/v1/auth/token", data=data, headers={"X-Forwarded-For": address})

    def bearer(self, username: str) -> str:
        response = self.sign_in(username, f"198.18.0.{secrets.randbelow(250) + 1}")
        assert response.status_code == 200, response.text
        return f"Bearer {response.json()['access_token']}"

    def alert(self, body: str, address: str = "203.0.113.1") -> httpx.Response:
        url = f"/api/v1/webhooks/tradingview/{self.slug}"
        headers = {"Content-Type": "application/json", "X-Forwarded-For": address}
        return self.http.post(url, content=body.encode(), headers=headers)


class CountedIngest:
    """The runtime's ingest, counting the alerts handed to it."""

    def __init__(self, ingest: Any) -> None:
        self.ingest = ingest
        self.calls = 0

    async def receive_tradingview(self, *args: Any) -> Any:
        self.calls += 1
        return await self.ingest.receive_tradingview(*args)


def _serve(tmp_path: Path, **limits: str) -> Iterator[Client]:
    settings: dict[str, Any] = {f"rate_limit_{tier}": rate for tier, rate in limits.items()}
    # Requests come through a reverse proxy on this machine that names each client's address.
    runtime = make_runtime(tmp_path, trusted_proxies=["127.0.0.1"], **settings)
    seeded = seed_marketplace(runtime.engine, [{}, {}])
    with ServedRuntime(runtime, free_port()) as served:
        yield Client(served, seeded.slug)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    yield from _serve(tmp_path, general="3/minute", webhook="3/minute", webhook_failures="2/minute")


def _assert_retry_later(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 60 and body["retry_after_s"] == wait
    assert abs(datetime.fromisoformat(body["retry_at"]).timestamp() - (time.time() + wait)) < 5
    assert "retry after" in body["detail"]
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"


def test_a_user_gets_the_general_limit_with_headers_then_429_while_others_go_on(client: Client) -> None:
    provider, subscriber = client.bearer(f"provider-{client.slug}"), client.bearer(f"{client.slug}-sub1")

    answers = [client.get("/api/v1/me", Authorization=provider) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"3"}
    reset = int(answers[-1].headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61
    _assert_retry_later(client.get("/api/v1/orders", Authorization=provider), 3)  # the same tier
    # Per user, wherever they come from; another user has their own count.
    _assert_retry_later(client.get("/api/v1/me", "192.0.2.99", Authorization=provider), 3)
    assert client.get("/api/v1/me", Authorization=subscriber).status_code == 200
    assert client.get("/health").status_code == 200  # not limited
    assert "X-RateLimit-Limit" not in client.get("/health").headers


def test_anonymous_requests_count_per_address(client: Client) -> None:
    statuses = [client.get("/api/v1/me", "198.51.100.5").status_code for _ in range(3)]

    assert statuses == [401, 401, 401]
    _assert_retry_later(client.get("/api/v1/me", "198.51.100.5"), 3)
    assert client.get("/api/v1/me", "198.51.100.6").status_code == 401
    # A token that does not verify counts for its address, not for the user it names.
    _assert_retry_later(client.get("/api/v1/me", "198.51.100.5", Authorization="Bearer forged"), 3)


def test_sign_in_is_limited_per_address_by_default(tmp_path: Path) -> None:
    for client in _serve(tmp_path, signin="5/15minutes"):
        provider = f"provider-{client.slug}"
        answers = [client.sign_in(provider, "198.51.100.7") for _ in range(5)]
        assert [a.status_code for a in answers] == [200] * 5
        assert answers[-1].headers["X-RateLimit-Remaining"] == "0"

        refused = client.sign_in(provider, "198.51.100.7")

        assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 900
        assert client.sign_in(provider, "198.51.100.8").status_code == 200


def test_a_burst_of_alerts_passes_up_to_the_strategys_limit(client: Client) -> None:
    accepted = [client.alert(ALERT % n) for n in range(3)]

    assert [a.status_code for a in accepted] == [202, 202, 202]
    assert [a.headers["X-RateLimit-Remaining"] for a in accepted] == ["2", "1", "0"]
    _assert_retry_later(client.alert(ALERT % 3), 3)
    _assert_retry_later(client.alert(ALERT % 3, "203.0.113.2"), 3)  # per strategy, from anywhere


def test_wrong_passphrases_are_limited_per_address_without_hashing_and_never_block_the_real_alerts(
    client: Client,
) -> None:
    checks = client.served.runtime.ingest._passphrases
    hashed: list[str] = []
    real_verify = checks._verify

    def counted(secret: str, stored: str) -> bool:
        hashed.append(secret)
        return real_verify(secret, stored)

    checks._verify = counted
    tradingview = "203.0.113.1"  # every TradingView user's alerts come from the same few addresses

    # Someone else's alerts through that address guess this strategy's passphrase.
    assert [client.alert(WRONG, tradingview).status_code for _ in range(2)] == [401, 401]
    refused = client.alert(WRONG, tradingview)

    assert refused.status_code == 429 and "wrong passphrases" in refused.json()["detail"]
    assert int(refused.headers["Retry-After"]) >= 1
    # The owner's real alerts from that address still pass, up to the strategy's own limit, which
    # the failures did not touch; the passphrase is hashed once, then known.
    accepted = [client.alert(ALERT % n, tradingview).status_code for n in range(3)]
    assert accepted == [202, 202, 202]
    assert client.alert(WRONG, tradingview).status_code == 429  # still counted as spent
    assert hashed == ["not-it", "not-it", "not-it", "abcdefgh"]  # each guess hashed within the bounds


def test_every_endpoint_is_in_exactly_one_tier_and_an_unlisted_one_stops_the_build(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    app = create_app(runtime)
    documented = {
        operation(method, path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }

    assert documented <= set(TIERS)
    assert set(TIERS) - documented == {"GET /metrics"}  # kept out of the schema
    for name, tier in TIERS.items():
        method, path = name.split(" ")
        if name not in documented:
            continue
        responses = app.openapi()["paths"][path][method.lower()]["responses"]
        assert ("429" in responses) == (tier is not Tier.UNLIMITED), name
    stray = APIRouter()

    @stray.get("/api/v1/stray")
    async def stray_route() -> None: ...

    with pytest.raises(RuntimeError, match="GET /api/v1/stray has no rate-limit tier"):
        include_limited(app, stray)


def test_two_servers_share_the_counts_through_redis(tmp_path: Path) -> None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            assert conn.recv(16).startswith(b"+PONG")
    except OSError as exc:
        unavailable(f"Redis not reachable at 127.0.0.1:6379: {type(exc).__name__}")
    limits: dict[str, Any] = {
        "rate_limit_general": "4/minute",
        "redis_url": "redis://127.0.0.1:6379/0",
        "trusted_proxies": ["127.0.0.1"],  # a reverse proxy on this machine names each client
    }
    first = make_runtime(tmp_path / "a", **limits)
    second = make_runtime(tmp_path / "b", **limits)
    address = f"198.18.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"  # not counted before
    with ServedRuntime(first, free_port()) as a, ServedRuntime(second, free_port()) as b:
        statuses = [
            httpx.get(f"{server.url}/api/v1/me", headers={"X-Forwarded-For": address}).status_code
            for server in (a, b, a, b, a, b)
        ]

    assert statuses == [401, 401, 401, 401, 429, 429]


@contextlib.contextmanager
def _closed_port() -> Iterator[int]:
    yield free_port()  # bound a moment, then closed: nothing listens there


@pytest.mark.parametrize("redis", [_closed_port, accept_and_close], ids=["closed-port", "accepts-and-closes"])
def test_sign_in_is_still_limited_when_redis_cannot_be_reached(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, redis: Any
) -> None:
    caplog.set_level(logging.WARNING, "tradewire.rate_limits")
    with redis() as port:
        limits = {"rate_limit_signin": "3/15minutes", "redis_url": f"redis://127.0.0.1:{port}/0"}
        runtime = make_runtime(tmp_path, **limits, redis_retry_s=0.2, trusted_proxies=["127.0.0.1"])
        seeded = seed_marketplace(runtime.engine, [{}])
        with ServedRuntime(runtime, free_port()) as served:
            client = Client(served, seeded.slug)
            provider = f"provider-{seeded.slug}"
            answers = [client.sign_in(provider, "198.51.100.7") for _ in range(3)]
            time.sleep(0.3)  # past the retry interval: the next request tries Redis again, and fails
            refused = [client.sign_in(provider, "198.51.100.7") for _ in range(2)]
            elsewhere = client.sign_in(provider, "198.51.100.8")

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    for response in refused:
        assert response.status_code == 429, response.text
        assert (
            response.headers["X-RateLimit-Limit"] == "3" and response.headers["X-RateLimit-Remaining"] == "0"
        )
        assert 1 <= int(response.headers["Retry-After"]) <= 900
    assert elsewhere.status_code == 200  # still per address
    warnings = [r.getMessage() for r in caplog.records if r.name == "tradewire.rate_limits"]
    assert len(warnings) == 1 and "Redis unreachable" in warnings[0], warnings  # once per outage
