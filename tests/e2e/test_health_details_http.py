"""GET /api/v1/health/details over HTTP, through the real ccxt client against the local fake Binance:
the checks, the exit monitor's lag, the live channel's clients, each account's circuit breaker, last
latency, last failure and rate-limit headroom; a user sees their own accounts only, an admin every
live account in use and the last warnings and errors (secrets blanked)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_live_exchange import Live, _start
from tests.fakes.exchange import FakeExchange
from tests.support import PASSWORD, now, quick_hash
from tradewire.adapters.store.tables import orders
from tradewire.api.app import create_app
from tradewire.domain.members import Role
from tradewire.ports import ExchangeUnavailable

pytestmark = pytest.mark.slow


@pytest.fixture
async def live(tmp_path: Path, fake: FakeExchange) -> AsyncIterator[Live]:
    started = await _start(tmp_path, fake, exchange_retry_base_s=0.005)
    for name, role in (("root", Role.ADMIN), ("alice", Role.SUBSCRIBER)):
        started.runtime.members.create_user(name, quick_hash(PASSWORD), now(), role)
    yield started
    await started.runtime.stop()


async def _details(http: httpx.AsyncClient, username: str) -> dict[str, Any]:
    token = await http.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert token.status_code == 200, token.text
    answer = await http.get(
        "/api/v1/health/details", headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def test_each_user_sees_its_own_exchange_health_and_admins_every_one(live: Live) -> None:
    await live.alert("buy")
    await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"])
    [account_id] = live.account_ids
    transport = httpx.ASGITransport(app=create_app(live.runtime))  # the runtime is running already
    async with httpx.AsyncClient(transport=transport, base_url="http://tradewire") as http:
        assert (await http.get("/api/v1/health/details")).status_code == 401
        owner = await _details(http, "provider-tv-test")
        assert owner["status"] == "ok" and set(owner["checks"]) == {"database", "bus"}
        assert owner["checks"]["database"]["ok"] is True
        assert owner["monitor_rounds"] >= 1 and owner["monitor_lag_s"] is not None
        assert owner["ws_clients"] == 0 and owner["errors"] is None  # errors: admins only
        [mine] = owner["accounts"]
        assert (mine["account_id"], mine["name"], mine["exchange"], mine["mode"]) == (
            account_id,
            "live0",
            "binance",
            "live",
        )
        health = mine["health"]
        assert health["circuit"] == "closed" and health["retry_in_s"] == 0
        assert health["last_latency_ms"] is not None and health["last_latency_ms"] > 0
        assert health["last_call_at"] is not None and health["last_error"] is None
        assert health["rate_per_s"] > 0 and 0 <= health["headroom_pct"] <= 100 and health["blocked_s"] == 0

        # Another user has no account: nothing of the provider's is shown to them.
        alice = await _details(http, "alice")
        assert alice["accounts"] == [] and alice["errors"] is None

        # The exchange goes away: the breaker opens, and the failure's kind is shown.
        client = live.runtime.exchanges.live_accounts()[account_id]
        live.fake.stop()
        for _ in range(2):
            with pytest.raises(ExchangeUnavailable):
                await client.fetch_balance()
        logging.getLogger("tradewire.test").warning("key leak check api_key=%s", "AKIASECRETVALUE123")
        root = await _details(http, "root")
        [seen] = [a for a in root["accounts"] if a["account_id"] == account_id]
        assert seen["name"] is None  # another user's account: its id, exchange and health only
        assert seen["health"]["circuit"] == "open" and seen["health"]["retry_in_s"] > 0
        assert seen["health"]["last_error"] is not None and seen["health"]["last_error_at"] is not None
        assert root["errors"], "the breaker's opening is a warning an admin reads"
        messages = [e["message"] for e in root["errors"]]
        assert any("circuit open" in m for m in messages)
        assert any("key leak check api_key=***" in m for m in messages)
        assert not any("AKIASECRETVALUE123" in m for m in messages)
        assert root["errors"][0]["message"].startswith("key leak check")  # newest first
