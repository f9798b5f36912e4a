"""bench/fanout.py --postgres --workers N: the fan-out through real processes, an API process and N
workers sharing the accounts (TRADEWIRE_WORKER_PARTITIONS), on the local PostgreSQL and Redis."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fanout import PASSPHRASE, scratch_database, seed, summary  # noqa: E402
from tradewire.adapters.store.db import disposable_engine  # noqa: E402
from tradewire.adapters.store.partitions import PARTITION_CLASS  # noqa: E402
from tradewire.adapters.store.tables import orders  # noqa: E402
from tradewire.config import Settings  # noqa: E402
from tradewire.wiring import build_runtime  # noqa: E402

PARTITIONS = 16
REDIS_URL = os.environ.get("TRADEWIRE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BIN = Path(sys.executable).with_name("tradewire")


@contextlib.contextmanager
def processes(url: str, tmp: Path, port: int, workers: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIRE_")}
    env.update(
        TRADEWIRE_DATABASE_URL=url,
        TRADEWIRE_BUS="redis",
        TRADEWIRE_REDIS_URL=REDIS_URL,
        TRADEWIRE_BUS_PREFIX=f"bench-{secrets.token_hex(4)}",
        TRADEWIRE_VAR_DIR=str(tmp / "var"),
        TRADEWIRE_DATA_DIR=str(tmp / "none"),
        TRADEWIRE_FEED_INTERVAL_S="3600",
        TRADEWIRE_RECONCILE_INTERVAL_S="5",
        TRADEWIRE_RATE_LIMIT_WEBHOOK="100000/minute",
        TRADEWIRE_JWT_SECRET="fanout-bench-secret-0123456789abcdef0123",
        TRADEWIRE_CONFIG=str(tmp / "absent.toml"),
        TRADEWIRE_LOG_LEVEL="WARNING",
    )
    started: list[subprocess.Popen[bytes]] = []
    logs = tmp / "logs"
    logs.mkdir()
    try:
        with (logs / "api.log").open("wb") as out:
            started.append(
                subprocess.Popen(
                    [str(BIN), "serve", "--port", str(port)],
                    env={**env, "TRADEWIRE_ROLE": "api"},
                    stdout=out,
                    stderr=out,
                )
            )
        for n in range(workers):
            with (logs / f"worker-{n}.log").open("wb") as out:
                started.append(
                    subprocess.Popen(
                        [str(BIN), "worker"],
                        env={**env, "TRADEWIRE_WORKER_PARTITIONS": str(PARTITIONS)},
                        stdout=out,
                        stderr=out,
                    )
                )
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _cpu_of(pids: list[int]) -> dict[int, float]:
    """Each live process's CPU seconds so far (user + system, from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return found


def _backends(engine: Engine) -> list[int]:
    """The PostgreSQL backends serving the scratch database, but the one asking (the benchmark's own
    polling connections are opened for each poll and closed)."""
    with engine.connect() as conn:
        query = (
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [int(p) for (p,) in conn.execute(text(query))]


def _spent(start: dict[int, float], now: dict[int, float]) -> float:
    """CPU seconds spent since `start`; a process that appeared since counts from its own start."""
    return sum(cpu - start.get(pid, 0.0) for pid, cpu in now.items())


def bench_processes(subscribers: int, runs: int, warmup: int, port: int, workers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, scratch_database(True, Path(tmp)) as url:
        settings = Settings(var_dir=Path(tmp), data_dir=Path(tmp) / "none", database_url=url)
        runtime = build_runtime(settings)
        slug = seed(runtime, subscribers)
        runtime.engine.dispose()
        engine = disposable_engine(url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        with processes(url, Path(tmp), port, workers) as started:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:  # the API answers and the workers hold every partition
                assert all(p.poll() is None for p in started), "a process ended; see its log"
                with contextlib.suppress(httpx.HTTPError), engine.connect() as conn:
                    held = conn.execute(
                        text(
                            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                            "AND classid::bigint = :c"
                        ),
                        {"c": PARTITION_CLASS},
                    ).scalar_one()
                    if held == PARTITIONS and httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                assert time.monotonic() < deadline, "the processes did not get ready"
                time.sleep(0.2)
            time.sleep(2 * workers)  # let the shares settle (each worker takes its share within a second)
            acks: list[float] = []
            fills: list[float] = []
            expected = 0
            apps = [p.pid for p in started]
            app_start: dict[int, float] = {}
            db_start: dict[int, float] = {}
            with httpx.Client(base_url=base, timeout=30) as client:
                for run in range(warmup + runs):
                    body = {
                        "passphrase": PASSPHRASE,
                        "ticker": "BTCUSDT",
                        "action": "buy" if run % 2 == 0 else "sell",
                        "time": f"2025-01-01T00:00:{run:02d}Z",
                        "order_id": str(run),
                    }
                    if run:
                        time.sleep(1.05)
                    if run == warmup:
                        app_start, db_start = _cpu_of(apps), _cpu_of(_backends(engine))
                    started_at = time.perf_counter()
                    response = client.post(f"/api/v1/webhooks/tradingview/{slug}", json=body)
                    acked = time.perf_counter()
                    assert response.status_code == 202, response.text
                    expected += subscribers
                    wait_until = time.monotonic() + 120
                    while True:
                        with engine.connect() as conn:
                            filled = conn.execute(
                                select(func.count()).select_from(orders).where(orders.c.state == "filled")
                            ).scalar_one()
                        if filled >= expected:
                            done = time.perf_counter()
                            break
                        assert time.monotonic() < wait_until, f"{filled} of {expected} filled"
                        time.sleep(0.005)
                    if run >= warmup:
                        acks.append((acked - started_at) * 1000)
                        fills.append((done - started_at) * 1000)
            app_cpu = _spent(app_start, _cpu_of(apps))  # the API and the workers together
            db_cpu = _spent(db_start, _cpu_of(_backends(engine)))
        engine.dispose()
    return summary(acks, fills, app_cpu / runs * 1000, db_cpu / runs * 1000)
