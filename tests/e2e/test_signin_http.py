"""Over HTTP: short-lived access tokens, refresh tokens rotated on use (a reused one ends its session),
sign-out and password change revoking every token at once, and tokens missing a required claim refused.
The server runs on a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import free_port
from tests.seeding import now
from tests.support import PASSWORD, ServedRuntime, make_runtime
from tradewire.adapters.passwords import hash_secret

ME = "/api/v1/me"


class ManualClock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class Server:
    def __init__(self, served: ServedRuntime, clock: ManualClock) -> None:
        self.served = served
        self.clock = clock
        self.http = httpx.Client(base_url=served.url, timeout=10)

    def sign_in(self, username: str = "alice", password: str = PASSWORD) -> httpx.Response:
        return self.http.post("/api/v1/auth/token", data={"username": username, "password": password})

    def pair(self, username: str = "alice", password: str = PASSWORD) -> dict[str, str]:
        response = self.sign_in(username, password)
        assert response.status_code == 200, response.text
        body: dict[str, str] = response.json()
        return body

    def me(self, access_token: str) -> int:
        return self.http.get(ME, headers={"Authorization": f"Bearer {access_token}"}).status_code

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    clock = ManualClock()
    runtime = make_runtime(tmp_path, clock=clock)
    runtime.members.create_user("alice", hash_secret(PASSWORD), now())
    with ServedRuntime(runtime, free_port()) as served:
        yield Server(served, clock)


def test_an_access_token_lives_fifteen_minutes_and_a_refresh_token_gives_the_next_pair(
    server: Server,
) -> None:
    pair = server.pair()
    assert pair["token_type"] == "bearer" and pair["expires_in"] == 15 * 60
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert {"sub", "sid", "iat", "exp", "jti"} <= claims.keys() and claims["exp"] - claims["iat"] == 900
    assert server.me(pair["access_token"]) == 200

    server.clock.advance(minutes=15, seconds=1)
    assert server.me(pair["access_token"]) == 401

    renewed = server.refresh(pair["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    new = renewed.json()
    assert new["refresh_token"] != pair["refresh_token"]
    assert server.me(new["access_token"]) == 200
    new_claims = jwt.decode(new["access_token"], options={"verify_signature": False})
    assert new_claims["sid"] == claims["sid"] and new_claims["jti"] != claims["jti"]

    again = server.refresh(new["refresh_token"])
    assert again.status_code == 200, again.text
    assert server.me(again.json()["access_token"]) == 200


def test_a_refresh_token_used_twice_ends_its_whole_session(server: Server) -> None:
    pair = server.pair()
    other = server.pair()  # another session of the same user is not touched
    first = server.refresh(pair["refresh_token"]).json()

    replayed = server.refresh(pair["refresh_token"])

    assert replayed.status_code == 401
    assert "sign in again" in replayed.json()["detail"]
    assert server.me(first["access_token"]) == 401  # the session is revoked, not just the token
    assert server.refresh(first["refresh_token"]).status_code == 401
    assert server.me(other["access_token"]) == 200
    assert server.refresh(other["refresh_token"]).status_code == 200


def test_a_refresh_token_expires_and_an_unknown_one_opens_nothing(server: Server) -> None:
    pair = server.pair()
    assert server.refresh("not-a-token").status_code == 401

    server.clock.advance(days=14, seconds=1)

    assert server.refresh(pair["refresh_token"]).status_code == 401


def test_signing_out_ends_the_session_at_once(server: Server) -> None:
    pair = server.pair()
    other = server.pair()
    auth = {"Authorization": f"Bearer {pair['access_token']}"}

    assert server.http.post("/api/v1/auth/logout", headers=auth).status_code == 204

    assert server.me(pair["access_token"]) == 401
    assert server.refresh(pair["refresh_token"]).status_code == 401
    assert server.http.post("/api/v1/auth/logout", headers=auth).status_code == 401
    assert server.me(other["access_token"]) == 200


def test_changing_the_password_needs_the_current_one_and_revokes_every_session(server: Server) -> None:
    pair = server.pair()
    other = server.pair()
    auth = {"Authorization": f"Bearer {pair['access_token']}"}
    new_password = "a much longer new passphrase 7"

    wrong = server.http.post(
        "/api/v1/auth/password",
        headers=auth,
        json={"current_password": "not it at all", "new_password": new_password},
    )
    assert wrong.status_code == 403 and server.me(pair["access_token"]) == 200

    changed = server.http.post(
        "/api/v1/auth/password",
        headers=auth,
        json={"current_password": PASSWORD, "new_password": new_password},
    )

    assert changed.status_code == 200, changed.text
    for old in (pair, other):
        assert server.me(old["access_token"]) == 401
        assert server.refresh(old["refresh_token"]).status_code == 401
    assert server.me(changed.json()["access_token"]) == 200
    assert server.sign_in(password=PASSWORD).status_code == 401
    assert server.me(server.pair(password=new_password)["access_token"]) == 200


def test_a_token_missing_a_claim_signed_elsewhere_or_of_another_session_is_refused(server: Server) -> None:
    pair = server.pair()
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    secret = server.served.runtime.jwt_secret

    for missing in ("exp", "jti", "sid", "iat"):
        forged = jwt.encode({k: v for k, v in claims.items() if k != missing}, secret, algorithm="HS256")
        assert server.me(forged) == 401, missing
    elsewhere = "another server's secret, long enough for HS256"
    assert server.me(jwt.encode(claims, elsewhere, algorithm="HS256")) == 401
    assert server.me(jwt.encode({**claims, "sid": "0" * 32}, secret, algorithm="HS256")) == 401
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    assert server.me(unsigned) == 401
    assert server.me(jwt.encode(claims, secret, algorithm="HS256")) == 200  # the same claims, signed
