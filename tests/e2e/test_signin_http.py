"""Over HTTP: short-lived access tokens, refresh tokens rotated on use (a reused one ends its session),
sign-out and password change revoking every token at once, tokens missing a required claim refused;
failed sign-ins delayed then locked per address and per account (a lock that ends on its own, and
that does not shut a user out where they signed in before), the password policy, and a closed
sign-up; two-factor sign-in with TOTP codes that work once. The server runs on a clock the test
moves; requests name their address in X-Forwarded-For (the test's 127.0.0.1 is a trusted proxy)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pyotp
import pytest
from sqlalchemy import select

from tests.conftest import free_port
from tests.seeding import now
from tests.support import PASSWORD, ServedRuntime, make_runtime, quick_hash
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.signin_tables import totp_secrets
from tradewire.services.signin import CODE_NEEDED, CODE_WRONG

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

    def sign_in(
        self, username: str = "alice", password: str = PASSWORD, address: str = "192.0.2.1"
    ) -> httpx.Response:
        return self.http.post(
            "/api/v1/auth/token",
            data={"username": username, "password": password},
            headers={"X-Forwarded-For": address},
        )

    def pair(self, username: str = "alice", password: str = PASSWORD) -> dict[str, str]:
        response = self.sign_in(username, password)
        assert response.status_code == 200, response.text
        body: dict[str, str] = response.json()
        return body

    def me(self, access_token: str) -> int:
        return self.http.get(ME, headers={"Authorization": f"Bearer {access_token}"}).status_code

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.http.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def _serve(tmp_path: Path, **settings: Any) -> Iterator[Server]:
    clock = ManualClock()
    runtime = make_runtime(tmp_path, clock=clock, trusted_proxies=["127.0.0.1"], **settings)
    for name in ("alice", "bob"):
        runtime.members.create_user(name, quick_hash(PASSWORD), now())
    with ServedRuntime(runtime, free_port()) as served:
        yield Server(served, clock)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    yield from _serve(tmp_path)


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


def _answer(response: httpx.Response) -> tuple[int, object, str | None]:
    body = response.json()
    body.pop("retry_at", None)
    return response.status_code, body, response.headers.get("Retry-After")


def test_an_account_is_delayed_then_locked_and_the_lock_ends_on_its_own(server: Server) -> None:
    home = "203.0.113.7"
    assert server.sign_in(address=home).status_code == 200  # alice's usual address
    attacker, elsewhere = "198.51.100.1", "198.51.100.2"

    answers = []
    for _ in range(10):
        answers.append(_answer(server.sign_in(password="guess-guess-guess", address=attacker)))
        server.clock.advance(seconds=60)  # past every delay, well within the lock's memory
    assert [status for status, _, _ in answers] == [401] * 10
    assert {body["detail"] for _, body, _ in answers} == {"wrong username or password"}  # type: ignore[index]
    server.clock.advance(seconds=-60)

    locked = server.sign_in(address=elsewhere)  # the right password, from an address alice never used
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "900"
    body = locked.json()
    assert body["detail"] == "too many failed sign-ins: locked, retry after 900 s"
    assert body["retry_after_s"] == 900
    assert datetime.fromisoformat(body["retry_at"]) == server.clock.at + timedelta(seconds=900)
    assert server.sign_in(address=home).status_code == 200  # not locked out where she signs in

    server.clock.advance(seconds=899)
    assert server.sign_in(address=elsewhere).status_code == 429
    server.clock.advance(seconds=1)
    assert server.sign_in(address=elsewhere).status_code == 200


def test_an_address_is_locked_whatever_names_it_tries(server: Server) -> None:
    attacker = "198.51.100.9"
    for attempt in range(10):
        refused = server.sign_in(f"user{attempt}", "guess-guess-guess", address=attacker)
        assert refused.status_code == 401
        server.clock.advance(seconds=60)  # past every delay, well within the lock's memory

    assert server.sign_in("bob", address=attacker).status_code == 429
    assert server.sign_in("bob", address="198.51.100.10").status_code == 200
    server.clock.advance(minutes=15)
    assert server.sign_in("bob", address=attacker).status_code == 200


def test_an_unknown_username_is_answered_exactly_like_a_real_one(server: Server) -> None:
    def attempts(username: str, address: str) -> list[tuple[int, object, str | None]]:
        return [_answer(server.sign_in(username, "guess-guess-guess", address=address)) for _ in range(6)]

    real = attempts("alice", "198.51.100.20")
    unknown = attempts("nobody", "198.51.100.21")

    assert real == unknown
    assert [status for status, _, _ in real] == [401, 401, 401, 401, 429, 429]


def test_a_new_password_must_follow_the_policy_and_a_wrong_current_one_is_throttled(server: Server) -> None:
    pair = server.pair()
    auth = {"Authorization": f"Bearer {pair['access_token']}", "X-Forwarded-For": "198.51.100.30"}

    def change(current: str, new: str) -> httpx.Response:
        body = {"current_password": current, "new_password": new}
        return server.http.post("/api/v1/auth/password", headers=auth, json=body)

    for weak in ("password123456", "short-1", "x" * 257):
        refused = change(PASSWORD, weak)
        assert refused.status_code == 422, weak
    assert server.me(pair["access_token"]) == 200  # nothing changed

    statuses = [change("not the password", "quiet-harbor-71").status_code for _ in range(5)]
    assert statuses == [403, 403, 403, 403, 429]
    assert change(PASSWORD, "quiet-harbor-71").status_code == 429  # the right one waits too
    server.clock.advance(seconds=1)
    assert change(PASSWORD, "quiet-harbor-71").status_code == 200


def test_sign_up_open_checks_the_password_and_says_409_for_a_taken_name(server: Server) -> None:
    def sign_up(username: str, password: str) -> httpx.Response:
        return server.http.post("/api/v1/users", json={"username": username, "password": password})

    assert sign_up("carol", "password123456").status_code == 422
    assert sign_up("carol", "short-1").status_code == 422
    assert sign_up("alice", "quiet-harbor-71").status_code == 409
    created = sign_up("carol", "quiet-harbor-71")
    assert created.status_code == 201
    assert server.sign_in("carol", "quiet-harbor-71").status_code == 200


@pytest.fixture
def closed(tmp_path: Path) -> Iterator[Server]:
    yield from _serve(tmp_path, signup_enabled=False)


def test_sign_up_is_closed_by_default_and_then_says_nothing_about_names(closed: Server) -> None:
    from tradewire.config import Settings

    assert Settings().signup_enabled is False

    def sign_up(username: str) -> tuple[int, str]:
        body = {"username": username, "password": "quiet-harbor-71"}
        response = closed.http.post("/api/v1/users", json=body)
        return response.status_code, response.text

    assert sign_up("alice") == sign_up("carol") == (403, '{"detail":"sign-up is disabled on this server"}')


@pytest.fixture
def with_key(tmp_path: Path) -> Iterator[Server]:
    yield from _serve(tmp_path, encryption_key=generate_key())


def test_two_factor_sign_in_needs_a_code_and_each_code_works_once(with_key: Server) -> None:
    server = with_key
    auth = {"Authorization": f"Bearer {server.pair()['access_token']}"}

    def sign_in(otp: str | None = None) -> httpx.Response:
        data = {"username": "alice", "password": PASSWORD, **({"otp": otp} if otp is not None else {})}
        return server.http.post("/api/v1/auth/token", data=data)

    enrolled = server.http.post("/api/v1/auth/totp", headers=auth)
    assert enrolled.status_code == 201, enrolled.text
    secret = enrolled.json()["secret"]
    assert enrolled.json()["otpauth_uri"].startswith("otpauth://totp/tradewire:alice?secret=" + secret)
    with server.served.runtime.engine.connect() as conn:
        [stored] = conn.execute(select(totp_secrets.c.secret_enc)).scalars()
    assert stored.startswith("v1:") and secret not in stored  # sealed like API keys
    totp = pyotp.TOTP(secret)
    assert sign_in().status_code == 200  # not on until confirmed

    wrong = server.http.post("/api/v1/auth/totp/confirm", headers=auth, json={"code": "000000"})
    assert wrong.status_code == 422
    code = totp.at(server.clock.at)
    confirmed = server.http.post("/api/v1/auth/totp/confirm", headers=auth, json={"code": code})
    assert confirmed.status_code == 204, confirmed.text

    missing, bad, replayed = sign_in(), sign_in("123456" if code != "123456" else "654321"), sign_in(code)
    assert (missing.status_code, missing.json()["detail"]) == (401, CODE_NEEDED)
    assert (bad.status_code, bad.json()["detail"]) == (401, CODE_WRONG)
    assert (replayed.status_code, replayed.json()["detail"]) == (401, CODE_WRONG)  # used to confirm
    server.clock.advance(seconds=30)
    code = totp.at(server.clock.at)
    assert sign_in(code).status_code == 200
    assert sign_in(code).status_code == 401  # the same code, within its window: once only
    assert server.http.post("/api/v1/auth/totp", headers=auth).status_code == 409  # on already

    server.clock.advance(seconds=30)
    code = totp.at(server.clock.at)
    body = {"password": "not the password", "code": code}
    assert server.http.post("/api/v1/auth/totp/disable", headers=auth, json=body).status_code == 403
    body = {"password": PASSWORD, "code": code}
    # Four failures from this address (three codes, a password): the next attempt waits a second.
    assert server.http.post("/api/v1/auth/totp/disable", headers=auth, json=body).status_code == 429
    server.clock.advance(seconds=1)
    assert server.http.post("/api/v1/auth/totp/disable", headers=auth, json=body).status_code == 204
    assert sign_in().status_code == 200


def test_two_factor_needs_an_encryption_key_on_the_server(server: Server) -> None:
    auth = {"Authorization": f"Bearer {server.pair()['access_token']}"}

    refused = server.http.post("/api/v1/auth/totp", headers=auth)

    assert refused.status_code == 403 and "TRADEWIRE_ENCRYPTION_KEY" in refused.json()["detail"]
