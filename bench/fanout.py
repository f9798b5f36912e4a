"""Benchmark: one TradingView webhook fanned out to N paper subscribers, on SQLite (or PostgreSQL),
over real HTTP.

Prints, per N, the webhook acknowledgement latency and the time from sending the request to the last
subscriber's fill being recorded, as p50 / p99 / min over repeated runs. Targets (issue #2): ack p99 <
20 ms; 1,000 subscribers filled in < 250 ms (p50).

--postgres runs on a scratch database of the local PostgreSQL server (TRADEWIRE_BENCH_PG_URL, by
default postgresql+psycopg://postgres@127.0.0.1:5432/postgres), created for each N and dropped after.
--statements also counts the SQL statements a measured run sends (a multi-row executemany counts as
one call and as its rows), per subscriber. The CPU columns are the CPU time of this process and of the
PostgreSQL backends serving the scratch database (read from /proc) over the measured runs, including
the pauses between them, per webhook: steadier than the times on a shared machine.

--workers N (with --postgres) runs the platform as real processes instead: one API process
(TRADEWIRE_ROLE=api) and N workers sharing the accounts (TRADEWIRE_WORKER_PARTITIONS, 16 partitions)
on the local PostgreSQL and Redis (TRADEWIRE_BENCH_REDIS_URL, by default redis://127.0.0.1:6379/0);
the fill time is when the database holds the last fill (polled every 5 ms). The CPU columns are then
the API's and the workers' CPU time together, and the PostgreSQL backends' (but the benchmark's own
polling connections), per webhook.

    .venv/bin/python bench/fanout.py [--subscribers 1,100,1000] [--runs 30] [--postgres] [--statements]
    .venv/bin/python bench/fanout.py --postgres --workers 4 --subscribers 10000 --runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine, event, func, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradewire.adapters.passwords import hash_secret  # noqa: E402
from tradewire.adapters.store.db import disposable_engine, write_transaction  # noqa: E402
from tradewire.adapters.store.tables import (  # noqa: E402
    exchange_accounts,
    execution_intents,
    orders,
    strategies,
    subscriptions,
    users,
)
from tradewire.api.app import create_app  # noqa: E402
from tradewire.config import Settings  # noqa: E402
from tradewire.runtime import Runtime, tune_gc  # noqa: E402
from tradewire.services.execution import ORDERS_UPDATED  # noqa: E402
from tradewire.wiring import build_runtime  # noqa: E402

PASSPHRASE = "bench-passphrase"
PG_ADMIN_URL = os.environ.get(
    "TRADEWIRE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def scratch_database(postgres: bool, directory: Path) -> Iterator[str]:
    """The URL of an empty database: a file in `directory`, or a new PostgreSQL database, dropped
    afterwards."""
    if not postgres:
        yield f"sqlite:///{directory / 'tradewire.db'}"
        return
    name = f"tradewire_bench_{secrets.token_hex(4)}"
    admin = disposable_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class StatementCount:
    """SQL sent through an engine while `on`: driver calls, and statements (an executemany's rows)."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.calls = 0
        self.statements = 0
        self.by_sql: dict[str, list[float]] = {}
        event.listen(engine, "before_cursor_execute", self._seen)
        event.listen(engine, "after_cursor_execute", self._done)
        if engine.dialect.name == "postgresql":  # COPY goes to the driver's cursor, past those events
            import psycopg

            copy = psycopg.Cursor.copy

            def counted(cursor: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
                if self.on:
                    self.calls += 1
                    self.statements += 1
                    seen = self.by_sql.setdefault(" ".join(str(statement).split())[:100], [0, 0, 0.0])
                    seen[0] += 1
                    seen[1] += 1
                return copy(cursor, statement, *args, **kwargs)

            psycopg.Cursor.copy = counted  # type: ignore[method-assign]

    def _seen(self, conn: object, cursor: object, sql: str, params: Any, context: object, many: bool) -> None:
        if not self.on:
            return
        rows = len(params) if many else 1
        self.calls += 1
        self.statements += rows
        seen = self.by_sql.setdefault(" ".join(sql.split())[:100], [0, 0, 0.0])
        seen[0] += 1
        seen[1] += rows
        conn.info["bench_started"] = (seen, time.perf_counter())  # type: ignore[attr-defined]

    def _done(self, conn: Any, *args: object) -> None:
        seen, started = conn.info.pop("bench_started", (None, 0.0))
        if seen is not None:
            seen[2] += time.perf_counter() - started


def seed(runtime: Runtime, subscribers: int) -> str:
    """A provider, a strategy and N users each with a paper account and a subscription, in bulk."""
    now = datetime.now(UTC)
    password_hash = hash_secret("bench-password")
    with write_transaction(runtime.engine) as conn:
        strategy_row = {
            "slug": "bench",
            "name": "bench",
            "description": "",
            "passphrase_hash": hash_secret(PASSPHRASE),
        }
        strategy_ids = provider_strategies(conn, password_hash, now, [strategy_row])
        # Every risk rule at its default but the cooldown, cut to 1 s (the runs wait it out) so each
        # run still pays for the cooldown lookup as production does.
        subscribed_paper_users(
            conn, subscribers, password_hash, now, strategy_ids, risk_limits={"cooldown_s": 1}
        )
    return "bench"


def provider_strategies(
    conn: Any, password_hash: str, now: datetime, rows: list[dict[str, Any]]
) -> list[int]:
    """A user "provider" owning a public TradingView strategy per row (its slug, name, description and
    passphrase_hash); every strategy's id, oldest first."""
    conn.execute(
        users.insert(), [{"username": "provider", "password_hash": password_hash, "created_at": now}]
    )
    provider = conn.execute(select(users.c.id).where(users.c.username == "provider")).scalar_one()
    conn.execute(
        strategies.insert(),
        [
            {"owner_id": provider, "source": "tradingview", "is_public": True, "created_at": now, **row}
            for row in rows
        ],
    )
    return list(conn.execute(select(strategies.c.id).order_by(strategies.c.id)).scalars())


def subscribed_paper_users(
    conn: Any, count: int, password_hash: str, now: datetime, strategy_ids: list[int], **columns: Any
) -> None:
    """`count` users with a paper account each (paper_users), each with an ACTIVE subscription of 100
    quote a trade to one of `strategy_ids` in turn, in bulk; `columns` are set on every subscription."""
    accounts = paper_users(conn, count, password_hash, now)
    conn.execute(
        subscriptions.insert(),
        [
            {
                "user_id": user_id,
                "strategy_id": strategy_ids[n % len(strategy_ids)],
                "account_id": account_id,
                "status": "ACTIVE",
                "pairs": None,
                "sizing_mode": "fixed_quote",
                "sizing_value": Decimal(100),
                "created_at": now,
                "updated_at": now,
                **columns,
            }
            for n, (user_id, account_id) in enumerate(accounts.items())
        ],
    )


def paper_users(conn: Any, count: int, password_hash: str, now: datetime) -> dict[int, int]:
    """`count` users u0, u1, ... each with a paper account, in bulk; their account ids by user id."""
    conn.execute(
        users.insert(),
        [{"username": f"u{i}", "password_hash": password_hash, "created_at": now} for i in range(count)],
    )
    user_ids = list(
        conn.execute(select(users.c.id).where(users.c.username.like("u%")).order_by(users.c.id)).scalars()
    )
    conn.execute(
        exchange_accounts.insert(),
        [
            {
                "user_id": u,
                "name": "paper",
                "exchange": "paper",
                "mode": "paper",
                "sandbox": False,
                "created_at": now,
            }
            for u in user_ids
        ],
    )
    found = dict(conn.execute(select(exchange_accounts.c.user_id, exchange_accounts.c.id)).tuples().all())
    return {u: found[u] for u in user_ids}


class Server:
    """uvicorn on 127.0.0.1 in a background thread, plus a hook that timestamps recorded fills."""

    def __init__(self, runtime: Runtime, port: int) -> None:
        self.runtime = runtime
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_config=None)
        )
        self.recorded: list[tuple[float, int]] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        async def on_orders(message: Mapping[str, Any]) -> None:
            with self.changed:
                self.recorded.append((time.perf_counter(), len(message["order_ids"])))
                self.changed.notify_all()

        self.runtime.bus.subscribe(ORDERS_UPDATED, on_orders)
        await self.server.serve()

    def __enter__(self) -> Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class CpuUse:
    """CPU seconds spent since creation by this process (every thread) and, on PostgreSQL, by the
    server's backends serving its database (read from /proc: the server runs on this machine). On a
    shared machine these move less with the load than the times do."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.app = time.process_time()
        self.db = self._backends()

    def _backends(self) -> dict[int, float]:
        if self.engine.dialect.name != "postgresql":
            return {}
        with self.engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            ).scalars()
            found: dict[int, float] = {}
            for pid in pids:
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                found[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return found

    def spent(self) -> tuple[float, float]:
        """(this process, the database's backends) CPU seconds since creation."""
        app = time.process_time() - self.app
        now = self._backends()
        return app, sum(cpu - self.db.get(pid, 0.0) for pid, cpu in now.items())


def wait_for_orders(server: Server, expected: int, timeout: float = 30.0) -> float:
    """perf_counter time at which `expected` orders in all had been recorded (no polling: the
    benchmark thread sleeps until the server says, so it does not compete for the GIL)."""
    with server.changed:
        if not server.changed.wait_for(lambda: sum(n for _, n in server.recorded) >= expected, timeout):
            raise TimeoutError(f"only {sum(n for _, n in server.recorded)} of {expected} orders recorded")
        return server.recorded[-1][0]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench(
    subscribers: int, runs: int, warmup: int, port: int, postgres: bool = False, statements: bool = False
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, scratch_database(postgres, Path(tmp)) as url:
        settings = Settings(
            var_dir=Path(tmp),
            data_dir=Path(tmp) / "none",
            database_url=url,
            feed_interval_s=3600,
            reconcile_interval_s=5,
        )
        runtime = build_runtime(settings)
        count = StatementCount(runtime.engine) if statements else None
        slug = seed(runtime, subscribers)
        if postgres:
            # Statistics, as autovacuum keeps them on a database in use: planned on none, a query over
            # the 1,000 fresh subscriptions took a nested loop of seq scans (50 ms in each webhook ack).
            with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        runtime.feed.set_price("BTC/USDT", Decimal("50000"))
        tune_gc()  # as `tradewire serve` does
        acks: list[float] = []
        fills: list[float] = []
        with Server(runtime, port) as server, httpx.Client(base_url=server.url) as client:
            url = f"/api/v1/webhooks/tradingview/{slug}"
            expected = 0
            for run in range(warmup + runs):
                action = "buy" if run % 2 == 0 else "sell"
                body = {
                    "passphrase": PASSPHRASE,
                    "ticker": "BTCUSDT",
                    "action": action,
                    "time": f"2025-01-01T00:00:{run:02d}Z",
                    "order_id": str(run),
                }
                if run:
                    time.sleep(1.05)  # the 1 s cooldown on the pair
                if count is not None:
                    count.on = run >= warmup
                if run == warmup:
                    cpu = CpuUse(runtime.engine)
                started = time.perf_counter()
                response = client.post(url, json=body)
                acked = time.perf_counter()
                assert response.status_code == 202, response.text
                expected += subscribers
                done = wait_for_orders(server, expected)
                if run >= warmup:
                    acks.append((acked - started) * 1000)
                    fills.append((done - started) * 1000)
            if count is not None:
                count.on = False
            app_cpu, db_cpu = cpu.spent()
        with runtime.engine.connect() as conn:
            filled = conn.execute(
                select(func.count()).select_from(orders).where(orders.c.state == "filled")
            ).scalar_one()
            intents = conn.execute(select(func.count()).select_from(execution_intents)).scalar_one()
        assert filled == intents == expected, (filled, intents, expected)
        runtime.engine.dispose()
    if count is not None:
        per = runs * subscribers
        print(
            f"  N={subscribers}: {count.calls / runs:.1f} driver calls and {count.statements / runs:.0f} "
            f"statements per webhook, {count.statements / per:.2f} statements per subscriber"
        )
        spent = sum(seconds for _, _, seconds in count.by_sql.values())
        print(f"  {spent / runs * 1000:.0f} ms per webhook in the driver's execute calls")
        for sql, (calls, rows, seconds) in sorted(count.by_sql.items(), key=lambda kv: -kv[1][2]):
            ms = seconds / runs * 1000
            print(f"    {calls / runs:5.1f} calls {rows / per:6.2f}/sub {ms:6.1f} ms  {sql}")
    return summary(acks, fills, app_cpu / runs * 1000, db_cpu / runs * 1000)


def summary(acks: list[float], fills: list[float], app_cpu: float, db_cpu: float) -> dict[str, float]:
    """A row of the table: the acknowledgements' and fills' p50 / p99 / min (ms), CPU per webhook."""
    return {
        "app_cpu": app_cpu,
        "db_cpu": db_cpu,
        "ack_p50": statistics.median(acks),
        "ack_p99": percentile(acks, 0.99),
        "ack_min": min(acks),
        "fill_p50": statistics.median(fills),
        "fill_p99": percentile(fills, 0.99),
        "fill_min": min(fills),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", default="1,100,1000", help="comma-separated N values")
    parser.add_argument("--runs", type=int, default=30, help="measured webhooks per N")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured webhooks first")
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--postgres", action="store_true", help="a scratch database on local PostgreSQL")
    parser.add_argument("--statements", action="store_true", help="count SQL statements per subscriber")
    parser.add_argument("--workers", type=int, default=0, help="API + N worker processes (--postgres)")
    args = parser.parse_args()
    if args.workers and not args.postgres:
        parser.error("--workers needs --postgres")
    logging.basicConfig(level=logging.WARNING)
    print(
        f"fan-out benchmark: {'PostgreSQL' if args.postgres else 'SQLite'}, paper venue, real HTTP; "
        f"{f'1 API process and {args.workers} workers; ' if args.workers else ''}"
        f"{args.runs} runs per N (after {args.warmup} warm-up)"
    )
    print(
        f"{'N':>6} | {'ack p50':>8} {'ack p99':>8} {'ack min':>8} | "
        f"{'fill p50':>9} {'fill p99':>9} {'fill min':>9} | {'cpu app':>7} {'cpu db':>7}  (ms; cpu: per "
        f"webhook, {'the API and workers' if args.workers else 'this process'} and the PostgreSQL backends)"
    )
    for n in (int(x) for x in args.subscribers.split(",")):
        if args.workers:
            from fanout_workers import bench_processes

            r = bench_processes(n, args.runs, args.warmup, args.port, args.workers)
        else:
            r = bench(n, args.runs, args.warmup, args.port, args.postgres, args.statements)
        print(
            f"{n:>6} | {r['ack_p50']:8.2f} {r['ack_p99']:8.2f} {r['ack_min']:8.2f} | "
            f"{r['fill_p50']:9.1f} {r['fill_p99']:9.1f} {r['fill_min']:9.1f} | "
            f"{r['app_cpu']:7.0f} {r['db_cpu']:7.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
