"""The audit trail over HTTP: a failed sign-in, a sign-in, a password change, an API key (a live
account) created, a subscription created and changed (its risk limits), an export, two-factor
changes, an account deleted and a sign-out each leave an entry in the user's own trail
(GET /api/v1/audit), with the client's address (X-Forwarded-For from a trusted proxy) and
User-Agent, and none of them in another user's; no password, API key, passphrase, TOTP secret or
code is stored in any entry; what an admin does to a user (disable, enable, role) is in that user's
trail too, without the admin's address and client, and in nobody else's; the trail filters by
action and time and pages; the whole chain verifies afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select

from tests.conftest import free_port
from tests.e2e.owned import seed_user
from tests.seeding import now
from tests.support import PASSWORD, ServedRuntime, make_runtime, quick_hash
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.audit_tables import audit_log
from tradewire.domain.members import Role

AUDIT = "/api/v1/audit"
ALICE_AT = "192.0.2.44"
NEW_PASSWORD = "correct horse battery staple 42"
API_KEY = "AKIA-audit-api-key-0123456789"
API_SECRET = "audit-api-secret-abcdefghijklmnop"
PASSPHRASE = "hook-passphrase-xyz"


class Client:
    def __init__(self, served: ServedRuntime, address: str, agent: str) -> None:
        self.served = served
        self.http = httpx.Client(
            base_url=served.url, timeout=10, headers={"X-Forwarded-For": address, "User-Agent": agent}
        )
        self.auth: dict[str, str] = {}

    def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        response = self.http.post("/api/v1/auth/token", data={"username": username, "password": password})
        if response.status_code == 200:
            self.auth = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return response

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body, headers=self.auth)
        assert response.status_code in (200, 201), response.text
        return response.json()  # type: ignore[no-any-return]

    def trail(self, **params: Any) -> list[dict[str, Any]]:
        response = self.http.get(AUDIT, params=params, headers=self.auth)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRuntime]:
    runtime = make_runtime(
        tmp_path, trusted_proxies=["127.0.0.1"], encryption_key=generate_key(), allow_private_ai_urls=True
    )
    for name in ("alice", "bob"):
        runtime.members.create_user(name, quick_hash(PASSWORD), now())
    with ServedRuntime(runtime, free_port()) as served:
        yield served


def test_each_change_is_in_its_users_own_trail_only(served: ServedRuntime) -> None:
    alice = Client(served, ALICE_AT, "alice-browser/1.0")
    bob = Client(served, "198.51.100.9", "bob-cli/2.0")

    assert alice.sign_in("alice", "not the password").status_code == 401
    assert alice.sign_in("ghost").status_code == 401  # nobody's
    assert alice.sign_in("alice").status_code == 200
    changed = alice.http.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=alice.auth,
    )
    assert changed.status_code == 200, changed.text
    alice.auth = {"Authorization": f"Bearer {changed.json()['access_token']}"}
    live = alice.post(
        "/api/v1/accounts",
        {"name": "live", "mode": "live", "exchange": "binance", "api_key": API_KEY, "api_secret": API_SECRET},
    )
    paper = alice.post("/api/v1/accounts", {"name": "paper"})
    strategy = alice.post("/api/v1/strategies", {"name": "Mine", "slug": "mine", "passphrase": PASSPHRASE})
    subscription = alice.post(
        "/api/v1/subscriptions", {"strategy_id": strategy["id"], "account_id": paper["id"]}
    )
    patched = alice.http.patch(
        f"/api/v1/subscriptions/{subscription['id']}",
        json={"risk_limits": {"max_positions_total": 3}, "status": "PAUSED"},
        headers=alice.auth,
    )
    assert patched.status_code == 200, patched.text
    exported = alice.http.get("/api/v1/exports/orders", params={"format": "csv"}, headers=alice.auth)
    assert exported.status_code == 200, exported.text
    assert bob.sign_in("bob").status_code == 200

    mine = alice.trail()
    theirs = bob.trail()

    assert [e["action"] for e in reversed(mine)] == [
        "signin.failed",
        "signin",
        "password.changed",
        "account.created",
        "account.created",
        "strategy.created",
        "subscription.created",
        "subscription.changed",
        "export",
    ]
    assert {e["user_id"] for e in mine} == {served.runtime.members.user_by_name("alice").id}  # type: ignore[union-attr]
    assert {(e["address"], e["client"], e["username"]) for e in mine} == {
        (ALICE_AT, "alice-browser/1.0", "alice")
    }
    by_action = {e["action"]: e for e in mine}
    assert by_action["signin.failed"]["detail"] == {"reason": "wrong username or password"}
    key_created = mine[-4]
    assert (key_created["target_type"], key_created["target_id"]) == ("account", live["id"])
    assert key_created["detail"] == {"exchange": "binance", "mode": "live", "with_keys": True}
    change = by_action["subscription.changed"]
    assert (change["target_type"], change["target_id"]) == ("subscription", subscription["id"])
    assert change["detail"] == {"fields": ["risk_limits", "status"], "status": "PAUSED"}
    assert by_action["export"]["detail"]["kind"] == "orders"
    assert by_action["export"]["detail"]["format"] == "csv"
    assert [(e["action"], e["address"], e["client"]) for e in theirs] == [
        ("signin", "198.51.100.9", "bob-cli/2.0")
    ]

    everyone = served.run(served.runtime.audit.everyone(_all()))
    ghost = [e for e in everyone if e.username == "ghost"]
    assert len(ghost) == 1 and ghost[0].user_id is None  # kept, for administrators only
    with served.runtime.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(select(audit_log)) for v in row)
    for secret in (PASSWORD, NEW_PASSWORD, API_KEY, API_SECRET, PASSPHRASE):
        assert secret not in stored
    result = served.runtime.audit.verify()
    assert result.finding is None and result.checked == len(everyone) == 11


def test_two_factor_changes_account_deletion_and_sign_out_are_recorded(served: ServedRuntime) -> None:
    alice = Client(served, ALICE_AT, "alice-browser/1.0")
    assert alice.sign_in("alice").status_code == 200
    account = alice.post("/api/v1/accounts", {"name": "spare"})
    secret = alice.post("/api/v1/auth/totp", {})["secret"]
    totp = pyotp.TOTP(secret)
    code = totp.now()
    confirmed = alice.http.post("/api/v1/auth/totp/confirm", json={"code": code}, headers=alice.auth)
    assert confirmed.status_code == 204, confirmed.text
    assert alice.sign_in("alice").status_code == 401  # the code is missing: not a failure
    wrong = {"password": "not the password", "code": code}
    assert alice.http.post("/api/v1/auth/totp/disable", json=wrong, headers=alice.auth).status_code == 403
    later = totp.at(datetime.now(UTC) + timedelta(seconds=30))  # the next step's code (each works once)
    right = {"password": PASSWORD, "code": later}
    disabled = alice.http.post("/api/v1/auth/totp/disable", json=right, headers=alice.auth)
    assert disabled.status_code == 204, disabled.text
    deleted = alice.http.delete(f"/api/v1/accounts/{account['id']}", headers=alice.auth)
    assert deleted.status_code == 204, deleted.text
    ai_key = "sk-audit-ai-key-0123456789"
    endpoint = alice.post(
        "/api/v1/ai/endpoints",
        {"name": "local", "base_url": "http://127.0.0.1:9/v1", "model": "vision-1", "api_key": ai_key},
    )
    gone = alice.http.delete(f"/api/v1/ai/endpoints/{endpoint['id']}", headers=alice.auth)
    assert gone.status_code == 204, gone.text
    assert alice.http.post("/api/v1/auth/logout", headers=alice.auth).status_code == 204
    assert alice.sign_in("alice").status_code == 200

    assert [(e["action"], e["target_id"]) for e in reversed(alice.trail())] == [
        ("signin", None),
        ("account.created", account["id"]),
        ("totp.enrolled", None),
        ("totp.enabled", None),
        ("totp.disable_failed", None),
        ("totp.disabled", None),
        ("account.deleted", account["id"]),
        ("ai_endpoint.created", endpoint["id"]),
        ("ai_endpoint.deleted", endpoint["id"]),
        ("signout", None),
        ("signin", None),
    ]
    with served.runtime.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(select(audit_log)) for v in row)
        details = list(conn.execute(select(audit_log.c.detail)).scalars())
    assert secret not in stored and ai_key not in stored
    assert not [d for d in details if code in d or later in d]  # no code in any entry's facts
    assert served.runtime.audit.verify().finding is None


def test_admins_read_every_trail_and_their_actions_and_confirmations_are_recorded(
    served: ServedRuntime,
) -> None:
    root = seed_user(served.runtime, "root", Role.ADMIN)
    carol = seed_user(served.runtime, "carol", Role.SUBSCRIBER)
    http = httpx.Client(base_url=served.url, timeout=10)
    bob = Client(served, "198.51.100.9", "bob-cli/2.0")
    assert bob.sign_in("bob").status_code == 200
    assert bob.sign_in("ghost").status_code == 401

    declined = http.post(f"/api/v1/intents/{carol.intent_id}/decline", headers=carol.headers)
    assert declined.status_code == 200, declined.text
    for path in ("disable", "enable"):
        done = http.post(f"/api/v1/admin/users/{carol.user_id}/{path}", headers=root.headers)
        assert done.status_code == 200, done.text
    role = http.put(
        f"/api/v1/admin/users/{carol.user_id}/role", json={"role": "provider"}, headers=root.headers
    )
    assert role.status_code == 200, role.text
    halt = {"state": "REDUCING", "reason": "exchange maintenance"}
    assert http.put("/api/v1/admin/trading", json=halt, headers=root.headers).status_code == 200

    everything = http.get("/api/v1/admin/audit", params={"limit": 1000}, headers=root.headers).json()
    roots = http.get("/api/v1/admin/audit", params={"user_id": root.user_id}, headers=root.headers).json()
    carols = http.get("/api/v1/admin/audit", params={"user_id": carol.user_id}, headers=root.headers).json()
    refused = bob.http.get("/api/v1/admin/audit", headers=bob.auth)

    assert refused.status_code == 403
    assert [(e["action"], e["target_type"], e["target_id"], e["detail"]) for e in reversed(roots)] == [
        ("admin.user_disabled", "user", carol.user_id, {"username": "carol"}),
        ("admin.user_enabled", "user", carol.user_id, {"username": "carol"}),
        ("admin.role_set", "user", carol.user_id, {"role": "provider"}),
        ("admin.platform_trading", None, None, {"state": "REDUCING", "reason": "exchange maintenance"}),
    ]
    assert [(e["action"], e["target_id"], e["detail"]) for e in reversed(carols)] == [  # by and on carol
        ("intent.declined", carol.intent_id, {"status": declined.json()["status"]}),
        ("admin.user_disabled", carol.user_id, {"username": "carol"}),
        ("admin.user_enabled", carol.user_id, {"username": "carol"}),
        ("admin.role_set", carol.user_id, {"role": "provider"}),
    ]
    assert {e["address"] for e in carols} != {""}  # an admin sees every entry whole
    assert {e["username"] for e in everything} == {"bob", "ghost", "carol", "root"}
    assert [e["user_id"] for e in everything if e["username"] == "ghost"] == [None]


def test_what_an_admin_did_to_a_user_is_in_that_users_trail_without_the_admins_origin(
    served: ServedRuntime,
) -> None:
    root = seed_user(served.runtime, "root", Role.ADMIN)
    console = {"X-Forwarded-For": "203.0.113.7", "User-Agent": "root-console/3.0", **root.headers}
    admin = httpx.Client(base_url=served.url, timeout=10, headers=console)
    alice = Client(served, ALICE_AT, "alice-browser/1.0")
    bob = Client(served, "198.51.100.9", "bob-cli/2.0")
    ids = {name: served.runtime.members.user_by_name(name) for name in ("alice", "bob")}
    alice_id, bob_id = (user.id for user in ids.values() if user is not None)
    for path in ("disable", "enable"):
        done = admin.post(f"/api/v1/admin/users/{alice_id}/{path}")
        assert done.status_code == 200, done.text
    assert admin.put(f"/api/v1/admin/users/{bob_id}/role", json={"role": "subscriber"}).status_code == 200
    halt = {"state": "REDUCING", "reason": "exchange maintenance"}
    assert admin.put("/api/v1/admin/trading", json=halt).status_code == 200
    assert alice.sign_in("alice").status_code == 200  # disabling ended her sessions: a new one
    assert bob.sign_in("bob").status_code == 200

    alices, bobs = alice.trail(), bob.trail()
    roots = admin.get(AUDIT).json()

    def seen(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        fields = ("action", "username", "target_type", "target_id", "address", "client")
        return [tuple(e[f] for f in fields) for e in reversed(entries)]

    assert seen(alices) == [
        ("admin.user_disabled", "root", "user", alice_id, "", ""),
        ("admin.user_enabled", "root", "user", alice_id, "", ""),
        ("signin", "alice", None, None, ALICE_AT, "alice-browser/1.0"),
    ]
    assert [e["detail"] for e in reversed(alices)][:2] == [{"username": "alice"}] * 2
    assert seen(bobs) == [
        ("admin.role_set", "root", "user", bob_id, "", ""),
        ("signin", "bob", None, None, "198.51.100.9", "bob-cli/2.0"),
    ]
    assert bobs[-1]["detail"] == {"role": "subscriber"}
    # The admin's own trail keeps where they acted from.
    assert [(e["action"], e["target_id"], e["address"], e["client"]) for e in reversed(roots)] == [
        ("admin.user_disabled", alice_id, "203.0.113.7", "root-console/3.0"),
        ("admin.user_enabled", alice_id, "203.0.113.7", "root-console/3.0"),
        ("admin.role_set", bob_id, "203.0.113.7", "root-console/3.0"),
        ("admin.platform_trading", None, "203.0.113.7", "root-console/3.0"),
    ]
    # The same entries, the same numbers and hashes: one chain, shown to each with what is theirs.
    assert {(e["seq"], e["hash"]) for e in alices + bobs} - {(e["seq"], e["hash"]) for e in roots} == {
        (e["seq"], e["hash"]) for e in alices + bobs if e["action"] == "signin"
    }
    assert served.runtime.audit.verify().finding is None


def test_the_trail_filters_by_action_and_time_and_pages(served: ServedRuntime) -> None:
    alice = Client(served, ALICE_AT, "alice-browser/1.0")
    for _ in range(3):
        assert alice.sign_in("alice", "wrong").status_code == 401
    assert alice.sign_in("alice").status_code == 200
    assert alice.http.post("/api/v1/auth/logout", headers=alice.auth).status_code == 204
    assert alice.sign_in("alice").status_code == 200

    everything = alice.trail()
    failures = alice.trail(action="signin.failed")
    both = alice.trail(action=["signin", "signout"])
    first = alice.trail(limit=2)
    rest = alice.trail(limit=10, before_seq=first[-1]["seq"])
    window = alice.trail(**{"from": everything[3]["at"], "to": everything[1]["at"]})

    assert [e["action"] for e in everything] == ["signin", "signout", "signin", *["signin.failed"] * 3]
    assert len(failures) == 3 and {e["action"] for e in failures} == {"signin.failed"}
    assert [e["action"] for e in both] == ["signin", "signout", "signin"]
    assert [e["seq"] for e in first + rest] == [e["seq"] for e in everything]
    assert [e["seq"] for e in window] == [everything[2]["seq"], everything[3]["seq"]]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"action": "no.such.action"}, 422),
        ({"limit": 0}, 422),
        ({"limit": 1001}, 422),
        ({"before_seq": 2**63}, 422),
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 422),
        ({"from": "not a time"}, 422),
    ],
)
def test_bad_queries_are_refused(served: ServedRuntime, params: dict[str, Any], status: int) -> None:
    alice = Client(served, ALICE_AT, "t")
    assert alice.sign_in("alice").status_code == 200

    assert alice.http.get(AUDIT, params=params, headers=alice.auth).status_code == status


def test_the_trail_needs_a_signed_in_user(served: ServedRuntime) -> None:
    assert Client(served, ALICE_AT, "t").http.get(AUDIT).status_code == 401


def _all() -> Any:
    from tradewire.services.audit import AuditFilter

    return AuditFilter(limit=1000)


def test_a_refresh_token_used_twice_is_recorded_in_its_owners_trail(served: ServedRuntime) -> None:
    thief = Client(served, "203.0.113.66", "someone-else/1.0")
    alice = Client(served, ALICE_AT, "alice-browser/1.0")
    signed_in = alice.sign_in("alice").json()
    refresh = {"refresh_token": signed_in["refresh_token"]}
    assert alice.http.post("/api/v1/auth/refresh", json=refresh).status_code == 200

    replayed = thief.http.post("/api/v1/auth/refresh", json=refresh)  # a copy, used after the owner

    assert replayed.status_code == 401
    assert alice.sign_in("alice").status_code == 200
    [revoked] = alice.trail(action="session.revoked")
    assert revoked["detail"] == {"reason": "refresh token reused"}
    assert (revoked["address"], revoked["client"]) == ("203.0.113.66", "someone-else/1.0")
    assert served.runtime.audit.verify().finding is None
