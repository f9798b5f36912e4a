"""Real processes of one installation for the split-deployment tests: an API process and workers on one
PostgreSQL and one Redis (tests/e2e/test_split_failures.py, test_partitioned_workers.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from tests.conftest import REDIS_URL, free_port
from tests.support import send_alert, until
from tradewire.adapters.store.tables import orders, paper_orders, paper_prices, positions

BIN = Path(sys.executable).with_name("tradewire")


def process_env(
    tmp_path: Path, engine: Engine, prefix: str, data_dir: Path, redis_url: str = REDIS_URL, **settings: str
) -> dict[str, str]:
    """The environment of one of an installation's processes: this process's without its TRADEWIRE_
    settings, then the database, the Redis bus (under `prefix`), var and data directories under
    tmp_path and `data_dir`, quick feed and reconcile intervals and no config file; `settings` add to
    these or replace them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIRE_")}
    env.update(
        TRADEWIRE_DATABASE_URL=engine.url.render_as_string(hide_password=False),
        TRADEWIRE_BUS="redis",
        TRADEWIRE_REDIS_URL=redis_url,
        TRADEWIRE_BUS_PREFIX=prefix,
        TRADEWIRE_BUS_CLAIM_IDLE_S="1",
        TRADEWIRE_VAR_DIR=str(tmp_path / "var"),
        TRADEWIRE_DATA_DIR=str(data_dir),
        TRADEWIRE_FEED_INTERVAL_S="0.3",
        TRADEWIRE_RECONCILE_INTERVAL_S="0.5",
        TRADEWIRE_CONFIG=str(tmp_path / "absent.toml"),
    )
    env.update(settings)
    return env


def stop_processes(processes: Iterable[subprocess.Popen[Any]], wait_s: float = 15) -> None:
    """SIGTERM to each process still running, then each is given `wait_s` to exit before a SIGKILL."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(wait_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


# A process's start-up (imports, migrations check, first connections) on a loaded 2-core CI machine
# once took over 30 s; the wait is only a bound, a healthy start still ends it in ~2 s.
STARTUP_S = 90


class Cluster:
    """An API process and workers of one installation: same database, same Redis and bus prefix."""

    def __init__(self, tmp_path: Path, engine: Engine, prefix: str, redis_url: str = REDIS_URL) -> None:
        self.tmp_path = tmp_path
        self.engine = engine
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = process_env(
            tmp_path,
            engine,
            prefix,
            tmp_path / "no-candles",  # the seeded simulated market
            redis_url,
            TRADEWIRE_MONITOR_INTERVAL_S="0.2",
            TRADEWIRE_JWT_SECRET="split-failures-test-secret-0123456789abcdef",
            TRADEWIRE_RATE_LIMIT_WEBHOOK="100000/minute",
        )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], **extra: str) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as out:
            process = subprocess.Popen([str(BIN), *args], env={**self.env, **extra}, stdout=out, stderr=out)
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def start_api(self, name: str = "api", port: int | None = None, **extra: str) -> str:
        """An API process (on this cluster's port unless another is given), once healthy; its URL."""
        port = self.port if port is None else port
        url = f"http://127.0.0.1:{port}"
        api = self.start(name, ["serve", "--port", str(port)], TRADEWIRE_ROLE="api", **extra)

        def healthy() -> bool:
            assert api.poll() is None, self.log(name)
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            return False

        until(healthy, f"the API process {name}", STARTUP_S)
        return url

    def start_worker(self, name: str, *, active: bool, **extra: str) -> subprocess.Popen[bytes]:
        """A worker, once it is active (it found the database free) or standing by."""
        worker = self.start(name, ["worker"], **extra)
        said = "recovery:" if active else "standing by"

        def ready() -> bool:
            assert worker.poll() is None, self.log(name)
            return said in self.log(name)

        until(ready, f"{name} to be {'active' if active else 'standing by'}", STARTUP_S)
        return worker

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        stop_processes(self.processes.values())

    def follow_tickers(self, tickers_urls: dict[str, Any]) -> None:
        """Processes started from now on run a paper market that follows a (fake) exchange's tickers."""
        self.env.update(
            TRADEWIRE_PAPER_PRICES_FROM="binance",
            TRADEWIRE_PAPER_PRICES_URLS=json.dumps(tickers_urls),
            TRADEWIRE_PAPER_PRICES_INTERVAL_S="0.2",
            TRADEWIRE_EXCHANGE_TIMEOUT_MS="2000",
        )

    def buy_with_stops(self, entry: Decimal, stop: Decimal, holders: int) -> None:
        """Once the paper market shows BTC/USDT at `entry`, a buy fills every subscriber, each holding a
        position with its stop armed at `stop`."""

        def btc_price() -> Decimal | None:
            with self.engine.connect() as conn:
                return conn.execute(
                    select(paper_prices.c.price).where(paper_prices.c.symbol == "BTC/USDT")
                ).scalar_one_or_none()

        until(lambda: btc_price() == entry, "the paper market to follow the exchange's tickers")
        send_alert(self.url, "buy", 1)
        until(
            lambda: (
                self.count(positions, positions.c.status == "open", positions.c.stop_loss == stop) == holders
            ),
            "every subscriber to hold a position with its stop armed",
        )

    def count(self, table: object, *where: object) -> int:
        with self.engine.connect() as conn:
            statement = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
            return int(conn.execute(statement).scalar_one())


def tally(engine: Engine, column: Any) -> dict[str, int]:
    """How many rows have each value of `column`."""
    with engine.connect() as conn:
        return {value: count for value, count in conn.execute(select(column, func.count()).group_by(column))}


def assert_each_client_order_id_once(engine: Engine) -> None:
    """Our orders and the paper exchange's books: each client order id once, the same ids on both."""
    with engine.connect() as conn:
        ours = [r[0] for r in conn.execute(select(orders.c.client_order_id))]
        theirs = [r[0] for r in conn.execute(select(paper_orders.c.client_order_id))]
    assert len(ours) == len(set(ours)), "a client order id stored twice"
    assert len(theirs) == len(set(theirs)), "the exchange received a client order id twice"
    assert sorted(ours) == sorted(theirs)
