"""The marketplace's caches over HTTP, with a TTL far longer than the test: what every user reads (the
public strategies with their subscriber counts, their records per pair) is served from the cache, yet
every write through the API shows in the very next read, for the writer and for everyone else (publish,
rename, unpublish, subscribe, pause, a pair ruled on); a user's private strategies and own fields
(is_owner, the webhook URL) never reach another user; /metrics counts each cache's hits and misses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from tests.conftest import free_port
from tests.e2e.api_clients import JsonApi
from tests.e2e.test_health_metrics_http import _metric
from tests.seeding import now
from tests.support import PASSWORD, ServedRuntime, make_runtime, quick_hash
from tradewire.adapters.store.tables import strategies

TTL_S = 300.0  # nothing expires during the test: what changes shows because a write forgot it


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRuntime]:
    runtime = make_runtime(tmp_path, marketplace_cache_ttl_s=TTL_S)
    for name in ("alice", "bob"):
        runtime.members.create_user(name, quick_hash(PASSWORD), now())
    with ServedRuntime(runtime, free_port()) as served:
        yield served


def _counts(served: ServedRuntime, cache: str) -> tuple[float, float]:
    text = httpx.get(f"{served.url}/metrics", timeout=10).text
    hits = _metric(text, "tradewire_cache_hits_total", cache=cache)
    misses = _metric(text, "tradewire_cache_misses_total", cache=cache)
    assert hits is not None and misses is not None, f"no counts of {cache} in /metrics"
    return hits, misses


def test_reads_are_served_from_the_cache_and_every_write_through_the_api_shows_at_once(
    served: ServedRuntime,
) -> None:
    alice, bob = JsonApi(served.url, served.token("alice")), JsonApi(served.url, served.token("bob"))
    signals = alice.call(
        "POST", "/api/v1/strategies", {"name": "Signals", "slug": "signals", "is_public": True}, 201
    )
    paper = bob.call("POST", "/api/v1/accounts", {"name": "paper"}, 201)
    assert bob.listing()["signals"]["subscriber_count"] == 0

    # Kept: a change written behind the API's back (another process, within the TTL) is not seen...
    with served.runtime.engine.begin() as conn:
        conn.execute(update(strategies).where(strategies.c.id == signals["id"]).values(description="sneaky"))
    assert bob.listing()["signals"]["description"] == ""
    # ...by others; its owner reads their own strategies fresh.
    assert alice.listing()["signals"]["description"] == "sneaky"

    # Every write through the API forgets what it changed: the next read, anyone's, shows it.
    subscription = bob.call(
        "POST", "/api/v1/subscriptions", {"strategy_id": signals["id"], "account_id": paper["id"]}, 201
    )
    assert bob.listing()["signals"]["subscriber_count"] == 1
    bob.call("PATCH", f"/api/v1/subscriptions/{subscription['id']}", {"status": "PAUSED"})
    assert bob.listing()["signals"]["subscriber_count"] == 0
    alice.call("PATCH", f"/api/v1/strategies/{signals['id']}", {"name": "Renamed"})
    assert bob.listing()["signals"]["name"] == "Renamed"
    alice.call("POST", "/api/v1/strategies", {"name": "Second", "slug": "second", "is_public": True}, 201)
    assert set(bob.listing()) == {"signals", "second"}

    pairs = f"/api/v1/strategies/{signals['id']}/pairs"
    assert bob.call("GET", pairs) == [] and bob.call("GET", pairs) == []
    alice.call("PUT", pairs, {"symbol": "BTC/USDT", "status": "BLACKLISTED"})
    ruled = bob.call("GET", pairs)
    assert [(p["symbol"], p["status"], p["manual"]) for p in ruled] == [("BTC/USDT", "BLACKLISTED", True)]

    alice.call("PATCH", f"/api/v1/strategies/{signals['id']}", {"is_public": False})
    assert set(bob.listing()) == {"second"}
    bob.call("GET", pairs, expect=404)
    bob.call("GET", f"/api/v1/strategies/{signals['id']}", expect=404)

    # A miss after each of the 6 writes that change the public list; every other read a hit (the
    # listings between writes, and each GET .../pairs checking the strategy is public).
    assert _counts(served, "marketplace") == (6, 6)
    assert _counts(served, "track_records") == (1, 2)  # read, read again, ruled on, read


def test_one_users_private_strategy_and_own_fields_never_reach_another_user(served: ServedRuntime) -> None:
    alice, bob = JsonApi(served.url, served.token("alice")), JsonApi(served.url, served.token("bob"))
    alice.call("POST", "/api/v1/strategies", {"name": "Open", "slug": "open", "is_public": True}, 201)
    private = alice.call("POST", "/api/v1/strategies", {"name": "Mine", "slug": "mine"}, 201)
    theirs = bob.call("POST", "/api/v1/strategies", {"name": "Bobs", "slug": "bobs"}, 201)

    alice_first = alice.listing()  # Alice warms the cache...
    alice.call("GET", f"/api/v1/strategies/{private['id']}/pairs")
    bob_sees = bob.listing()  # ...Bob reads from it
    alice_again = alice.listing()
    misses_before = _counts(served, "marketplace")[1]
    bob.listing()
    assert _counts(served, "marketplace")[1] == misses_before  # served from the cache

    assert set(alice_first) == set(alice_again) == {"open", "mine"}
    assert alice_first["open"]["is_owner"] and alice_first["open"]["webhook_url"]
    assert set(bob_sees) == {"open", "bobs"}
    assert not bob_sees["open"]["is_owner"] and bob_sees["open"]["webhook_url"] is None
    assert bob_sees["bobs"]["is_owner"] and "mine" not in bob_sees and "bobs" not in alice_again
    bob.call("GET", f"/api/v1/strategies/{private['id']}/pairs", expect=404)
    alice.call("GET", f"/api/v1/strategies/{theirs['id']}/pairs", expect=404)


def test_metrics_show_each_caches_hits_and_misses(served: ServedRuntime) -> None:
    bob = JsonApi(served.url, served.token("bob"))
    before = {name: _counts(served, name) for name in ("marketplace", "track_records", "model_lookups")}
    for _ in range(3):
        bob.listing()
    after = _counts(served, "marketplace")

    assert after[0] - before["marketplace"][0] == 2 and after[1] - before["marketplace"][1] == 1
    assert before["track_records"] == (0, 0) and before["model_lookups"] == (0, 0)
