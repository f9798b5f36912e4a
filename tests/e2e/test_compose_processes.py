"""compose.yaml's processes run for real, without docker: the `api` service and the default number of
`worker` replicas, each with its command and environment from compose.yaml (and the image's ENV), all
started at once on an empty PostgreSQL database, as `docker compose up` starts them once PostgreSQL and
Redis are healthy. Only what points outside the containers is changed: the database and Redis are the
local ones (the same user, password-less), the bus prefix is the test's own, the API listens on
127.0.0.1 on a free port, and the var and data folders are the test's.

They migrate the schema one after the other (an advisory lock: without it, one of two runs here lost
a process to "duplicate key ... alembic_version"), the API answers its healthcheck, the workers share
the partitions, and a webhook is traded once for every subscriber.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select, text

from tests.compose import TRADEWIRE_SERVICES, environment, image_environment, load_compose
from tests.conftest import REDIS_URL, scratch_postgres
from tests.e2e.cluster import Cluster, assert_each_client_order_id_once, tally
from tests.support import seed_marketplace, send_alert, until
from tradewire.adapters.store.db import MIGRATIONS_DIR
from tradewire.adapters.store.tables import execution_intents, orders

SUBSCRIBERS = 40


@pytest.fixture
def empty_database() -> Iterator[Engine]:
    """A new PostgreSQL database with nothing in it (no schema), dropped afterwards."""
    with scratch_postgres("tradewire_compose", migrate=False) as engine:
        yield engine


@pytest.fixture
def compose_cluster(tmp_path: Path, empty_database: Engine, redis_prefix: str) -> Iterator[Cluster]:
    running = Cluster(tmp_path, empty_database, redis_prefix)
    # Nothing of the cluster's own settings: the processes get compose.yaml's.
    running.env = {k: v for k, v in running.env.items() if not k.startswith("TRADEWIRE_")}
    try:
        yield running
    finally:
        running.stop_all()


def _took(log: str) -> set[int]:
    found: set[int] = set()
    for listed in re.findall(r"took partitions \[([0-9, ]*)\]", log):
        found |= {int(p) for p in listed.split(",") if p.strip()}
    return found


@pytest.mark.postgres
@pytest.mark.slow
def test_the_compose_processes_start_together_on_an_empty_database_and_trade(
    compose_cluster: Cluster, empty_database: Engine, redis_prefix: str, tmp_path: Path
) -> None:
    cluster = compose_cluster
    services = load_compose()["services"]
    local = {
        "TRADEWIRE_DATABASE_URL": empty_database.url.render_as_string(hide_password=False),
        "TRADEWIRE_REDIS_URL": REDIS_URL,
        "TRADEWIRE_BUS_PREFIX": redis_prefix,
        "TRADEWIRE_VAR_DIR": str(tmp_path / "var"),
        "TRADEWIRE_DATA_DIR": str(tmp_path / "no-candles"),  # the image has no candles: simulated prices
        "TRADEWIRE_CONFIG": str(tmp_path / "absent.toml"),
    }
    env: dict[str, dict[str, str]] = {}
    for service in TRADEWIRE_SERVICES:
        given = {**image_environment(), **environment(services[service])}
        assert set(local) - {"TRADEWIRE_DATA_DIR", "TRADEWIRE_CONFIG"} <= set(given)  # only replaced
        env[service] = {k: v for k, v in given.items() if k.startswith("TRADEWIRE_")} | local
    command = list(services["api"]["command"])
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(cluster.port)
    workers = [f"worker-{n}" for n in range(1, services["worker"]["deploy"]["replicas"] + 1)]
    assert len(workers) == 2

    # All at once, on a database without a schema.
    cluster.start("api", command, **env["api"])
    for name in workers:
        cluster.start(name, services["worker"]["command"], **env["worker"])

    def healthy() -> bool:
        for name, process in cluster.processes.items():
            assert process.poll() is None, cluster.log(name)
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{cluster.url}/health", timeout=2).status_code == 200
        return False

    until(healthy, "the API process to be healthy", 90)
    partitions = int(env["worker"]["TRADEWIRE_WORKER_PARTITIONS"])
    until(
        lambda: (
            set().union(*(_took(cluster.log(n)) for n in workers)) == set(range(partitions))
            and all(_took(cluster.log(n)) for n in workers)
        ),
        "the workers to share the partitions",
        60,
    )
    # The schema is at head, migrated once.
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    with empty_database.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
    assert "orders" in inspect(empty_database).get_table_names()
    # The API's healthcheck, as compose.yaml runs it in its container (there on port 8000).
    probe = services["api"]["healthcheck"]["test"]
    assert probe[:2] == ["CMD", "python"]
    script = probe[3].replace("127.0.0.1:8000", f"127.0.0.1:{cluster.port}")
    assert subprocess.run([sys.executable, "-c", script], timeout=30, check=False).returncode == 0

    seeded = seed_marketplace(empty_database, [{}] * SUBSCRIBERS)
    send_alert(cluster.url, "buy", 1)
    until(
        lambda: cluster.count(orders, orders.c.state == "filled") == SUBSCRIBERS,
        "every subscriber's order to fill",
        60,
    )
    time.sleep(2.5)  # a late duplicate would show within a sweep
    assert tally(empty_database, execution_intents.c.status) == {"done": SUBSCRIBERS}
    with empty_database.connect() as conn:
        ordered = conn.execute(select(orders.c.account_id)).scalars().all()
    assert sorted(ordered) == sorted(seeded.account_ids)  # one order each
    assert_each_client_order_id_once(empty_database)
    for name in ("api", *workers):
        assert cluster.processes[name].poll() is None, cluster.log(name)


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
