"""The marketplace's caches across split processes (issue #15), as real processes: two API processes
(TRADEWIRE_ROLE=api) on one PostgreSQL and one Redis, each keeping what everyone reads of the
marketplace for 300 s. A write through one process (publish, subscribe, pause, a pair ruled on,
unpublish) shows in the other's very next reads, in milliseconds, not after the TTL. With Redis down
a write still succeeds at once; the other process serves what it kept until it hears from Redis again,
and then forgets everything it kept.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, update

from tests.conftest import free_port, proxied_url
from tests.e2e.api_clients import JsonApi
from tests.e2e.cluster import Cluster
from tests.fakes.tcp import TcpProxy
from tests.seeding import now
from tests.support import PASSWORD, quick_hash
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.tables import strategies

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TTL_S = "300"  # nothing expires during a test: what shows sooner was forgotten on another's word
SETTINGS = {
    "TRADEWIRE_MARKETPLACE_CACHE_TTL_S": TTL_S,
    "TRADEWIRE_RATE_LIMIT_SIGNIN": "1000/minute",
    "TRADEWIRE_RATE_LIMIT_GENERAL": "100000/minute",
    "TRADEWIRE_RATE_LIMIT_MARKETPLACE": "100000/minute",  # the tests ask again every few milliseconds
}


def _start_api(cluster: Cluster, name: str) -> str:
    return cluster.start_api(name, free_port(), **SETTINGS)


def _as(url: str, username: str) -> JsonApi:
    answer = httpx.post(
        f"{url}/api/v1/auth/token", data={"username": username, "password": PASSWORD}, timeout=30
    )
    answer.raise_for_status()
    return JsonApi(url, {"Authorization": f"Bearer {answer.json()['access_token']}"})


READS: list[int] = []  # how many reads each _seen_after took (1: the very next read showed it)


def _seen_after(
    shows: Callable[[], bool], what: str, timeout_s: float = 5.0, every_s: float = 0.005
) -> float:
    """Seconds until `shows()` held, asked again every `every_s`."""
    start = time.perf_counter()
    reads = 1
    while not shows():
        assert time.perf_counter() - start < timeout_s, f"{what}: not seen within {timeout_s} s"
        time.sleep(every_s)
        reads += 1
    READS.append(reads)
    return time.perf_counter() - start


def _users(engine: Engine) -> None:
    members = SqlMembers(engine)
    for name in ("alice", "bob"):
        members.create_user(name, quick_hash(PASSWORD), now())


@pytest.fixture
def two_apis(cluster: Cluster) -> Iterator[tuple[str, str]]:
    _users(cluster.engine)
    yield _start_api(cluster, "api-1"), _start_api(cluster, "api-2")


def test_a_write_through_one_api_process_shows_in_the_others_next_reads_not_after_the_ttl(
    cluster: Cluster, two_apis: tuple[str, str]
) -> None:
    one, two = two_apis
    alice_1, bob_1, bob_2 = _as(one, "alice"), _as(one, "bob"), _as(two, "bob")
    paper = bob_1.call("POST", "/api/v1/accounts", {"name": "paper"}, 201)
    assert bob_2.listing() == {}  # kept by process 2
    delays: dict[str, float] = {}
    READS.clear()
    start = time.perf_counter()
    bob_2.listing()
    one_read = time.perf_counter() - start

    signals = alice_1.call(
        "POST", "/api/v1/strategies", {"name": "Signals", "slug": "signals", "is_public": True}, 201
    )
    delays["publish"] = _seen_after(lambda: "signals" in bob_2.listing(), "published on 1, read on 2")

    # Kept for the TTL: a change behind both processes' backs is not seen...
    with cluster.engine.begin() as conn:
        conn.execute(update(strategies).where(strategies.c.id == signals["id"]).values(description="sneaky"))
    time.sleep(0.5)
    assert bob_2.listing()["signals"]["description"] == ""

    # ...while every write through either process shows in the other at once.
    subscription = bob_1.call(
        "POST", "/api/v1/subscriptions", {"strategy_id": signals["id"], "account_id": paper["id"]}, 201
    )
    delays["subscribe"] = _seen_after(
        lambda: bob_2.listing()["signals"]["subscriber_count"] == 1, "subscribed on 1, counted on 2"
    )
    assert bob_1.listing()["signals"]["subscriber_count"] == 1
    bob_2.call("PATCH", f"/api/v1/subscriptions/{subscription['id']}", {"status": "PAUSED"})
    delays["pause"] = _seen_after(
        lambda: bob_1.listing()["signals"]["subscriber_count"] == 0, "paused on 2, counted on 1"
    )

    pairs = f"/api/v1/strategies/{signals['id']}/pairs"
    assert bob_2.call("GET", pairs) == [] and bob_2.call("GET", pairs) == []  # kept
    alice_1.call("PUT", pairs, {"symbol": "BTC/USDT", "status": "BLACKLISTED"})
    delays["pair ruled"] = _seen_after(
        lambda: [p["symbol"] for p in bob_2.call("GET", pairs)] == ["BTC/USDT"], "ruled on 1, read on 2"
    )

    alice_1.call("PATCH", f"/api/v1/strategies/{signals['id']}", {"is_public": False})
    delays["unpublish"] = _seen_after(lambda: "signals" not in bob_2.listing(), "unpublished on 1, gone on 2")
    bob_2.call("GET", pairs, expect=404)

    assert max(delays.values()) < 2.0, delays  # each well before the TTL (300 s)
    figures = sorted(delays.values())
    print(
        "\nseen by the other process after: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in delays.items())
        + f" (min {figures[0] * 1000:.0f} ms, median {statistics.median(figures) * 1000:.0f} ms;"
        f" one listing read takes {one_read * 1000:.0f} ms; reads until seen: {READS})"
    )


def test_with_redis_down_a_write_succeeds_and_the_other_process_forgets_what_it_kept_once_redis_is_back(
    tmp_path: Path, postgres_engine: Engine, redis_prefix: str, redis_proxy: TcpProxy
) -> None:
    cluster = Cluster(tmp_path, postgres_engine, redis_prefix, proxied_url(redis_proxy))
    try:
        _users(postgres_engine)
        one, two = _start_api(cluster, "api-1"), _start_api(cluster, "api-2")
        alice_1, bob_2 = _as(one, "alice"), _as(two, "bob")
        start = time.perf_counter()
        alice_1.call("POST", "/api/v1/strategies", {"name": "Loud", "slug": "loud"}, 201)  # private
        with_redis = time.perf_counter() - start
        assert bob_2.listing() == {}  # kept by process 2

        redis_proxy.stop()
        start = time.perf_counter()
        alice_1.call("POST", "/api/v1/strategies", {"name": "Quiet", "slug": "quiet", "is_public": True}, 201)
        took = time.perf_counter() - start
        assert alice_1.listing()["quiet"]["is_owner"]
        time.sleep(1.0)
        assert bob_2.listing() == {}  # not told: kept (for the TTL, or until Redis is back)

        redis_proxy.start()
        back = _seen_after(
            lambda: "quiet" in bob_2.listing(), "process 2 forgetting once Redis is back", 15, 0.05
        )
        assert "cache invalidations not shared" in cluster.log("api-1")
        assert cluster.log("api-1").count("cache invalidations not shared") == 1
        assert "cache invalidations of other processes heard again" in cluster.log("api-2")
        print(
            f"\na write answered in {with_redis * 1000:.0f} ms with Redis, {took * 1000:.0f} ms without;"
            f" seen {back:.2f} s after Redis was back"
        )
    finally:
        cluster.stop_all()
