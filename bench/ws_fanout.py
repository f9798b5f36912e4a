"""Benchmark: the live channel under a fan-out. 2,000 WebSocket clients (two per subscriber: a dashboard
and a script, 1,000 users) follow every topic while one TradingView webhook trades for 1,000 paper
subscribers, over real HTTP and WebSockets.

By default one all-in-one server (its own process, on SQLite) serves the clients and trades. --split
runs the split deployment instead, on a scratch database of the local PostgreSQL (created for the run
and dropped after, as bench/fanout.py --postgres does; TRADEWIRE_BENCH_PG_URL) and the local Redis
(TRADEWIRE_BENCH_REDIS_URL, keys under a prefix of the run's own, deleted after): one API process
(TRADEWIRE_ROLE=api) that the clients and the webhook talk to, and one worker process that routes,
executes and commits the fan-out, telling the API process of its commits through Redis pub/sub.

The server that holds the clients runs as `tradewire serve` runs it: uvicorn's configuration and event
loop (uvloop, where it is installed; --loop asyncio for asyncio's own), without permessage-deflate
unless TRADEWIRE_WS_DEFLATE=true is set (the clients ask for it, as browsers do). Every server process records
when each transaction's events were announced (right after its commit), and the clients record when
each event arrived. Prints, over all events delivered: p50 / p99 / max from the commit of the change
to its delivery (target p99 < 250 ms); per webhook its acknowledgement, the time to the last commit
of the fan-out (and how many commits), to the last delivery, and the frames per client; and the CPU
per webhook of the clients, each server process, the database's backends and the machine's other
processes (on a shared machine, a run where those took much is not comparable).

    .venv/bin/python bench/ws_fanout.py [--subscribers 1000] [--clients-per-user 2] [--runs 3] [--batch]
                                        [--split] [--loop auto|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import redis
import uvicorn
from sqlalchemy import text
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from fanout import PASSPHRASE, percentile, scratch_database, seed  # noqa: E402
from tradewire.adapters.store import events as outbox  # noqa: E402
from tradewire.adapters.store.db import disposable_engine  # noqa: E402
from tradewire.api.app import create_app  # noqa: E402
from tradewire.api.auth import issue_token  # noqa: E402
from tradewire.cli.serve import uvicorn_options  # noqa: E402
from tradewire.config import Settings  # noqa: E402
from tradewire.domain.events import StoredEvent  # noqa: E402
from tradewire.ports.events import EventNotifier  # noqa: E402
from tradewire.runtime import Runtime, tune_gc  # noqa: E402
from tradewire.wiring import build_runtime  # noqa: E402

TOPICS = ["signals", "intents", "orders", "fills", "positions", "balances", "bots", "backtests", "provider"]
REDIS_URL = os.environ.get("TRADEWIRE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

Announcements = list[tuple[float, dict[int, int]]]  # (wall clock, {user: last event number})


class Recorder:
    """Timestamps every commit's announcement of its events in this process (the store's, the paper
    venue's: whoever commits), then lets it go on to the live channel (and the relay) as usual."""

    def __init__(self) -> None:
        self.log: Announcements = []
        self.lock = threading.Lock()
        passed_on = outbox.announce

        def announce(
            notifier: EventNotifier | None, last_ids: Mapping[int, int], stored: Sequence[StoredEvent] = ()
        ) -> None:
            if last_ids:
                with self.lock:
                    self.log.append((time.time(), dict(last_ids)))
            passed_on(notifier, last_ids, stored)

        outbox.announce = announce  # transaction_with_events calls it after each commit

    def taken(self) -> Announcements:
        with self.lock:
            return list(self.log)


def settings_of(tmp: str, role: str = "all", **shared: Any) -> Settings:
    """One server process's settings: no candles (a simulated market set by hand), no feed steps."""
    return Settings(
        role=role,
        var_dir=Path(tmp) / role,
        data_dir=Path(tmp) / "none",
        feed_interval_s=3600,
        reconcile_interval_s=5,
        **shared,
    )


def seeded(runtime: Runtime, subscribers: int) -> tuple[str, dict[int, str]]:
    """The strategy's slug and an access token for each subscriber."""
    slug = seed(runtime, subscribers)
    if runtime.engine.dialect.name == "postgresql":  # statistics, as autovacuum keeps them (fanout.py)
        with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    users = [runtime.members.user_by_id(u) for u in range(2, subscribers + 2)]
    return slug, {u.id: issue_token(runtime, u) for u in users if u is not None}


def serve(settings: Settings, port: int, subscribers: int, pipe: Connection, loop: str = "auto") -> None:
    """An HTTP/WebSocket server process (all-in-one, or the split deployment's API process): seed,
    serve, answer the parent's requests."""
    logging.basicConfig(level=logging.WARNING)
    runtime = build_runtime(settings)
    slug, tokens = seeded(runtime, subscribers)
    runtime.feed.set_price("BTC/USDT", Decimal("50000"))  # the market that fills (all-in-one)
    recorder = Recorder()
    tune_gc()  # as `tradewire serve` does
    config = uvicorn.Config(  # as `tradewire serve` configures it
        create_app(runtime),
        host="127.0.0.1",
        port=port,
        backlog=8192,
        log_level="warning",
        **uvicorn_options(settings),
    )
    server = uvicorn.Server(config)

    def run() -> None:  # "auto": the event loop `tradewire serve` gets from uvicorn (uvloop if installed)
        with asyncio.Runner(loop_factory=config.get_loop_factory() if loop == "auto" else None) as runner:
            runner.run(server.serve())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    pipe.send((slug, tokens))
    while True:
        request = pipe.recv()
        if request == "log":
            pipe.send(recorder.taken())
        elif request == "clients":
            pipe.send(runtime.events.clients)
        else:
            server.should_exit = True
            thread.join(20)
            return


def work(settings: Settings, pipe: Connection) -> None:
    """The split deployment's worker process, as `tradewire worker` runs it: routes, executes and
    commits the fan-out; answers the parent's requests."""
    logging.basicConfig(level=logging.WARNING)
    runtime = build_runtime(settings)
    runtime.feed.set_price("BTC/USDT", Decimal("50000"))
    recorder = Recorder()

    async def run() -> None:
        await runtime.start()
        tune_gc()
        pipe.send("active")
        while await asyncio.to_thread(pipe.recv) == "log":
            pipe.send(recorder.taken())
        await runtime.stop()

    asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process of this machine has spent so far; 0 once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time every process of the machine has spent so far (all cores)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Servers:
    """The server processes of one deployment (the one that serves HTTP and WebSockets first), named,
    and the PostgreSQL database they share (None: SQLite)."""

    def __init__(
        self,
        named: dict[str, tuple[Connection, Any]],
        slug: str,
        tokens: dict[int, str],
        database_url: str | None = None,
    ) -> None:
        self.named = named
        self.pipes = [pipe for pipe, _ in named.values()]
        self.processes = [process for _, process in named.values()]
        self.slug = slug
        self.tokens = tokens
        self.database_url = database_url

    def cpu(self) -> dict[str, float]:
        """CPU seconds spent so far by this process (the clients), each server process and, on
        PostgreSQL, the backends serving the database (the server runs on this machine)."""
        spent = {"clients": time.process_time(), "machine": machine_cpu_seconds()}
        spent.update({name: cpu_seconds(process.pid) for name, (_, process) in self.named.items()})
        if self.database_url is not None:
            engine = disposable_engine(self.database_url)
            with engine.connect() as conn:
                pids = conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                ).scalars()
                spent["postgres"] = sum(cpu_seconds(pid) for pid in pids)
            engine.dispose()
        return spent

    async def clients(self) -> int:
        self.pipes[0].send("clients")
        return int(await asyncio.to_thread(self.pipes[0].recv))

    async def log(self) -> Announcements:
        found: Announcements = []
        for pipe in self.pipes:
            pipe.send("log")
            found += await asyncio.to_thread(pipe.recv)
        return found

    def stop(self) -> None:
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            pipe.send("stop")
            process.join(30)


@contextlib.contextmanager
def deployment(split: bool, tmp: str, port: int, subscribers: int, loop: str) -> Iterator[Servers]:
    """All-in-one on SQLite, or (split) an API process and a worker on a scratch PostgreSQL database and
    a Redis prefix of their own; stopped, and the database and Redis keys dropped, afterwards."""
    context = multiprocessing.get_context("spawn")
    if not split:
        ours, theirs = context.Pipe()
        process = context.Process(
            target=serve, args=(settings_of(tmp), port, subscribers, theirs, loop), daemon=True
        )
        process.start()
        slug, tokens = ours.recv()
        servers = Servers({"server": (ours, process)}, slug, tokens)
        try:
            yield servers
        finally:
            servers.stop()
        return
    prefix = f"tradewire-bench-{secrets.token_hex(4)}"
    with scratch_database(True, Path(tmp)) as url:
        shared: dict[str, Any] = {
            "database_url": url,
            "bus": "redis",
            "redis_url": REDIS_URL,
            "bus_prefix": prefix,
            "jwt_secret": secrets.token_hex(32),
        }
        api_pipe, theirs = context.Pipe()
        api = context.Process(
            target=serve,
            args=(settings_of(tmp, "api", **shared), port, subscribers, theirs, loop),
            daemon=True,
        )
        api.start()
        slug, tokens = api_pipe.recv()  # migrated and seeded
        worker_pipe, theirs = context.Pipe()
        worker = context.Process(
            target=work, args=(settings_of(tmp, "worker", **shared), theirs), daemon=True
        )
        worker.start()
        assert worker_pipe.recv() == "active"
        servers = Servers({"api": (api_pipe, api), "worker": (worker_pipe, worker)}, slug, tokens, url)
        try:
            yield servers
        finally:
            servers.stop()
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()


class Client:
    """One WebSocket client: every event it receives, with its arrival time."""

    def __init__(
        self,
        user_id: int,
        compression: str | None = "deflate",
        topics: list[str] = TOPICS,
        batch: bool = False,
    ) -> None:
        self.user_id = user_id
        self.batch = batch  # subscribed with batch: waiting frames arrive as one
        self.topics = topics
        self.compression = compression  # permessage-deflate, as browsers ask for it, or None
        self.received: list[tuple[float, int]] = []  # (arrival, event id)
        self.frames: list[float] = []  # arrival of each frame that brought events
        self.others = 0  # frames without events
        self.done = 0  # intents that reached a final status
        self.ready = asyncio.Event()

    async def run(self, url: str, token: str, stop: asyncio.Event) -> None:
        async with connect(url, max_queue=None, open_timeout=60, compression=self.compression) as ws:
            await ws.send(json.dumps({"op": "auth", "token": token}))
            assert json.loads(await ws.recv()) == {"op": "ready"}
            subscribe = {"op": "subscribe", "topics": self.topics, "since": None, "batch": self.batch}
            await ws.send(json.dumps(subscribe))
            assert json.loads(await ws.recv())["op"] == "subscribed"
            self.ready.set()
            closing = asyncio.create_task(_close_when(stop, ws))
            try:
                # No timeout per message (asyncio.wait_for: a task and a timer each): on one machine,
                # the clients' own cost delays what they see, and takes the CPU the servers need.
                async for text in ws:
                    arrived = time.time()
                    frame = json.loads(text)
                    if "id" in frame or "frames" in frame:
                        self.frames.append(arrived)
                    else:
                        self.others += 1  # live marks, pings
                    for event in frame.get("frames", [frame]):
                        if "id" in event:
                            self.received.append((arrived, event["id"]))
                            if event["topic"] == "intents" and event["type"] in (
                                "done",
                                "failed",
                                "rejected",
                            ):
                                self.done += 1
            finally:
                closing.cancel()


async def _close_when(stop: asyncio.Event, ws: Any) -> None:
    await stop.wait()
    await ws.close()


async def bench(
    subscribers: int,
    per_user: int,
    runs: int,
    port: int,
    compression: str | None,
    topics: list[str],
    batch: bool = False,
    split: bool = False,
    loop: str = "auto",
) -> None:
    with tempfile.TemporaryDirectory() as tmp, deployment(split, tmp, port, subscribers, loop) as servers:
        tokens = servers.tokens
        ws_url = f"ws://127.0.0.1:{port}/api/v1/ws"
        stop = asyncio.Event()
        clients = [
            Client(user_id, compression, topics, batch) for user_id in sorted(tokens) for _ in range(per_user)
        ]
        opening = asyncio.Semaphore(100)

        async def run(client: Client) -> None:
            async with opening:
                task = asyncio.create_task(client.run(ws_url, tokens[client.user_id], stop))
                ready = asyncio.create_task(client.ready.wait())
                await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
            await task

        started = time.perf_counter()
        tasks = [asyncio.create_task(run(c)) for c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 300)
        connected = await servers.clients()
        # The clients' process keeps every arrival (tens of thousands of tuples): collections of the
        # default thresholds, scanning them again and again, delayed what the clients saw.
        tune_gc()
        print(
            f"{len(clients)} clients ({per_user} per user, {len(tokens)} users) connected and subscribed "
            f"in {time.perf_counter() - started:.1f} s; the server counts {connected}"
        )
        pids = ", ".join(f"{name} {process.pid}" for name, (_, process) in servers.named.items())
        print(f"server processes: {pids}", flush=True)
        cpu_before = await asyncio.to_thread(servers.cpu)
        webhooks: list[tuple[float, float]] = []  # (sent, acknowledged), wall clock
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for run_number in range(runs):
                if run_number:
                    await asyncio.sleep(1.05)  # the subscriptions' 1 s cooldown on the pair
                body = {
                    "passphrase": PASSPHRASE,
                    "ticker": "BTCUSDT",
                    "action": "buy" if run_number % 2 == 0 else "sell",
                    "time": f"2025-01-01T00:00:{run_number:02d}Z",
                    "order_id": str(run_number),
                }
                sent = time.time()
                response = await http.post(f"/api/v1/webhooks/tradingview/{servers.slug}", json=body)
                acknowledged = time.time()
                assert response.status_code == 202, response.text
                webhooks.append((sent, acknowledged))
                target = run_number + 1
                follow = "intents" in topics  # else: wait a fixed while
                if not follow:
                    await asyncio.sleep(5)
                deadline = time.monotonic() + 60
                while any(c.done < target for c in clients) and time.monotonic() < deadline and follow:
                    await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # stragglers
        cpu_after = await asyncio.to_thread(servers.cpu)
        log = await servers.log()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    report(clients, log, webhooks, runs)
    used = {name: (cpu_after[name] - cpu_before[name]) / runs * 1000 for name in cpu_after}
    others = used.pop("machine") - sum(used.values())
    spent = ", ".join(f"{name} {ms:.0f}" for name, ms in used.items())
    print(f"CPU per webhook (ms, pauses included): {spent}; the machine's other processes {others:.0f}")


def report(
    clients: list[Client],
    log: Announcements,
    webhooks: list[tuple[float, float]],
    runs: int,
) -> None:
    """Latency of each delivered event from the announcement of the commit that made it."""
    by_user: dict[int, list[tuple[int, float]]] = {}
    for at, last_ids in log:
        for user_id, last in last_ids.items():
            by_user.setdefault(user_id, []).append((last, at))
    # Per user: announced last numbers in order, each with the earliest time a number up to it was
    # announced (two commits' announcements may arrive in either order).
    announced: dict[int, tuple[list[int], list[float]]] = {}
    for user_id, entries in by_user.items():
        entries.sort()
        numbers = [n for n, _ in entries]
        times = [t for _, t in entries]
        for i in range(len(times) - 2, -1, -1):
            times[i] = min(times[i], times[i + 1])
        announced[user_id] = (numbers, times)
    latencies: list[float] = []
    missing = 0
    for client in clients:
        numbers, times = announced.get(client.user_id, ([], []))
        for arrived, event_id in client.received:
            index = bisect_left(numbers, event_id)  # the first commit that held this number
            if index == len(numbers):
                missing += 1
                continue
            latencies.append((arrived - times[index]) * 1000)
    unfinished = sum(1 for c in clients if c.done < runs)
    others = sum(c.others for c in clients) / max(1, len(clients))
    print(
        f"events delivered: {len(latencies)} ({missing} without an announced commit; "
        f"{unfinished} clients short); {others:.1f} frames without events per client"
    )
    if latencies:
        print(
            f"commit -> delivery (ms): p50 {statistics.median(latencies):.1f}  "
            f"p99 {percentile(latencies, 0.99):.1f}  max {max(latencies):.1f}"
        )
    commits = sorted(at for at, _ in log)
    arrivals = sorted(arrived for c in clients for arrived, _ in c.received)
    frames = sorted(arrived for c in clients for arrived in c.frames)
    for number, (sent, acknowledged) in enumerate(webhooks):
        end = webhooks[number + 1][0] if number + 1 < len(webhooks) else float("inf")
        committed_then = [t for t in commits if sent <= t < end]
        last_commit = max(committed_then, default=sent)
        last_arrival = max((t for t in arrivals if sent <= t < end), default=sent)
        framed = bisect_left(frames, end) - bisect_left(frames, sent)
        ack, committed = (acknowledged - sent) * 1000, (last_commit - sent) * 1000
        print(
            f"webhook {number + 1}: ack {ack:.1f} ms; fan-out committed in {committed:.0f} ms "
            f"({len(committed_then)} commits); last event delivered at {(last_arrival - sent) * 1000:.0f} "
            f"ms; {framed / max(1, len(clients)):.1f} frames per client"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--clients-per-user", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3, help="webhooks, alternately buy and sell")
    parser.add_argument("--port", type=int, default=18766)
    parser.add_argument("--topics", default=",".join(TOPICS), help="what each client subscribes to")
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="clients decline permessage-deflate (browsers ask for it)",
    )
    parser.add_argument(
        "--batch",
        action="store_true",
        help="clients subscribe with batch: true, as the dashboard does (waiting events in one frame)",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="an API process (the clients' and the webhook's) and a worker, on PostgreSQL and Redis",
    )
    parser.add_argument(
        "--loop",
        choices=["auto", "asyncio"],
        default="auto",
        help="the HTTP/WebSocket server's event loop: auto, as `tradewire serve` (uvicorn picks uvloop "
        "where it is installed), or asyncio's own",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    compression = None if args.no_compression else "deflate"
    topics = args.topics.split(",")
    asyncio.run(
        bench(
            args.subscribers,
            args.clients_per_user,
            args.runs,
            args.port,
            compression,
            topics,
            args.batch,
            args.split,
            args.loop,
        )
    )


if __name__ == "__main__":
    main()
