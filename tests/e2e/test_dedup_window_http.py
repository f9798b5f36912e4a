"""Over HTTP: a strategy's duplicate window is stored, validated, changed, and applied to its alerts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support import PASSWORD, ServedRuntime, make_runtime

ALERT = {"passphrase": "abcdefgh", "ticker": "BTCUSDT", "action": "buy", "contracts": "0.01"}


@pytest.fixture
def http(tmp_path: Path) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    with ServedRuntime(make_runtime(tmp_path), free_port()) as served:
        client = httpx.Client(base_url=served.url, timeout=10)
        client.post("/api/v1/users", json={"username": "provider", "password": PASSWORD}).raise_for_status()
        yield client, served.token("provider")


def test_a_strategy_stores_validates_and_changes_its_duplicate_window(
    http: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, auth = http
    body = {"name": "tv", "slug": "tv-window", "passphrase": "abcdefgh"}

    default = client.post("/api/v1/strategies", headers=auth, json=body)
    assert default.status_code == 201 and default.json()["dedup_window_s"] == 60
    for bad in (0, -1, 86_401, 1.5, "soon"):
        refused = client.post(
            "/api/v1/strategies", headers=auth, json={**body, "slug": "tv-bad", "dedup_window_s": bad}
        )
        assert refused.status_code == 422, (bad, refused.text)
        assert "dedup_window_s" in refused.text

    strategy_id = default.json()["id"]
    changed = client.patch(f"/api/v1/strategies/{strategy_id}", headers=auth, json={"dedup_window_s": 1})
    assert changed.status_code == 200 and changed.json()["dedup_window_s"] == 1
    assert client.get(f"/api/v1/strategies/{strategy_id}", headers=auth).json()["dedup_window_s"] == 1
    refused = client.patch(f"/api/v1/strategies/{strategy_id}", headers=auth, json={"dedup_window_s": 0})
    assert refused.status_code == 422

    webhook = "/api/v1/webhooks/tradingview/tv-window"
    first = client.post(webhook, json=ALERT).json()
    again = client.post(webhook, json=ALERT).json()
    assert not first["duplicate"] and again == {**first, "duplicate": True}
    time.sleep(1.05)  # the 1 s window has passed
    later = client.post(webhook, json=ALERT).json()
    assert not later["duplicate"] and later["signal_id"] != first["signal_id"]
