"""Inputs a fuzzer found to answer 500 (or reset the connection), on SQLite and PostgreSQL, over
HTTP: each now gets a clear 4xx and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import free_port
from tests.e2e.owned import Owned, seed_user
from tests.support import ServedRuntime, make_runtime
from tradewire.adapters.secrets_box import generate_key


class Site:
    def __init__(self, served: ServedRuntime) -> None:
        self.served = served
        self.http = httpx.Client(base_url=served.url, timeout=30)
        self.alice: Owned = seed_user(served.runtime, "alice")


@pytest.fixture(scope="module")
def site(module_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = module_engine.url.render_as_string(hide_password=False)
    runtime = make_runtime(tmp_path_factory.mktemp("findings"), url, encryption_key=generate_key())
    with ServedRuntime(runtime, free_port()) as served:
        yield Site(served)
    runtime.engine.dispose()


@pytest.mark.parametrize("zone", ["America", "Europe", "__pycache__", "Etc"])
def test_a_time_zone_directory_is_an_unknown_time_zone(site: Site, zone: str) -> None:
    """zoneinfo opens the name as a file: a directory of the time zone database (America, Etc, ...)
    raised IsADirectoryError, answered 500 (and the connection cut)."""
    a = site.alice
    before = site.http.get("/api/v1/telegram", headers=a.headers).json()["daily_summary"]
    response = site.http.put(
        "/api/v1/telegram/summary", headers=a.headers, json={"hour": 7, "time_zone": zone}
    )
    assert response.status_code == 422, response.text
    assert "unknown time zone" in response.text
    assert site.http.get("/api/v1/telegram", headers=a.headers).json()["daily_summary"] == before
    kept = site.http.put(
        "/api/v1/telegram/summary", headers=a.headers, json={"hour": 7, "time_zone": "Europe/Berlin"}
    )
    assert kept.status_code == 200 and kept.json()["daily_summary"]["time_zone"] == "Europe/Berlin"
