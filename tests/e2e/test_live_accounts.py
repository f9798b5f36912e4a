"""Live exchange accounts: keys encrypted at rest, never returned, never logged; no silent live trading."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import free_port
from tests.support import PASSWORD, ServedRuntime, make_runtime, seed_marketplace
from tradewire.adapters.secrets_box import SecretBox, decode_key, generate_key
from tradewire.adapters.store.tables import exchange_accounts
from tradewire.runtime import StartupError

API_KEY = "live-api-key-0123456789"
API_SECRET = "live-api-secret-abcdefghijklmnop"


# Nothing listens on port 1 of the loopback: a live account pointed there never leaves the machine.
UNREACHABLE = {key: "http://127.0.0.1:1/api/v3" for key in ("public", "private", "v1", "sapi")}


def _create_live_account(served: ServedRuntime, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{served.url}/api/v1/accounts",
        headers=headers,
        json={
            "name": "binance",
            "exchange": "binance",
            "mode": "live",
            "api_key": API_KEY,
            "api_secret": API_SECRET,
            "api_urls": UNREACHABLE,
        },
    )


def test_api_keys_are_sealed_at_rest_and_write_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = generate_key()
    caplog.set_level(logging.DEBUG)
    runtime = make_runtime(tmp_path, encryption_key=key)
    seeded = seed_marketplace(runtime.engine, [])
    with ServedRuntime(runtime, free_port()) as served:
        headers = served.token(f"provider-{seeded.slug}")
        created = _create_live_account(served, headers)
        listed = httpx.get(f"{served.url}/api/v1/accounts", headers=headers)

    with runtime.engine.connect() as conn:
        row = conn.execute(select(exchange_accounts)).one()
    box = SecretBox(decode_key(key))
    assert created.status_code == 201
    assert created.json()["has_api_key"] is True
    for text in (created.text, listed.text, caplog.text, str(row.api_key_enc), str(row.api_secret_enc)):
        assert API_KEY not in text and API_SECRET not in text
    assert box.decrypt(row.api_key_enc, f"account:{row.id}:api_key") == API_KEY
    assert box.decrypt(row.api_secret_enc, f"account:{row.id}:api_secret") == API_SECRET


def test_an_unreachable_exchange_is_the_reason_on_record_and_nothing_is_ordered(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path, encryption_key=generate_key())
    seeded = seed_marketplace(runtime.engine, [])
    with ServedRuntime(runtime, free_port()) as served:
        headers = served.token(f"provider-{seeded.slug}")
        account = _create_live_account(served, headers).json()
        httpx.post(
            f"{served.url}/api/v1/subscriptions",
            headers=headers,
            json={"strategy_id": seeded.strategy_id, "account_id": account["id"]},
        ).raise_for_status()
        alert = {"passphrase": "abcdefgh", "ticker": "BTCUSDT", "action": "buy"}
        httpx.post(f"{served.url}/api/v1/webhooks/tradingview/{seeded.slug}", json=alert).raise_for_status()
        served.settle()
        intents = httpx.get(f"{served.url}/api/v1/intents", headers=headers).json()
        orders = httpx.get(f"{served.url}/api/v1/orders", headers=headers).json()

    assert orders == []
    assert intents[0]["status"] == "rejected"
    assert "binance markets could not be loaded" in intents[0]["reason"]
    assert "network" in intents[0]["reason"] or "unavailable" in intents[0]["reason"]


def test_the_server_refuses_to_start_with_live_accounts_and_no_key(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path, encryption_key=generate_key())
    seeded = seed_marketplace(runtime.engine, [])
    with ServedRuntime(runtime, free_port()) as served:
        _create_live_account(served, served.token(f"provider-{seeded.slug}")).raise_for_status()

    with pytest.raises(StartupError, match="TRADEWIRE_ENCRYPTION_KEY"):
        make_runtime(tmp_path)


def test_wrong_logins_get_401_without_telling_which_part_was_wrong(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    seeded = seed_marketplace(runtime.engine, [])
    with ServedRuntime(runtime, free_port()) as served:
        wrong_password = httpx.post(
            f"{served.url}/api/v1/auth/token",
            data={"username": f"provider-{seeded.slug}", "password": "nope-nope"},
        )
        no_user = httpx.post(
            f"{served.url}/api/v1/auth/token", data={"username": "ghost", "password": PASSWORD}
        )
        forged = httpx.get(f"{served.url}/api/v1/me", headers={"Authorization": "Bearer abc.def.ghi"})

    assert wrong_password.status_code == no_user.status_code == forged.status_code == 401
    assert wrong_password.json() == no_user.json()
