"""Benchmark: the live channel under a fan-out. 2,000 WebSocket clients (two per subscriber: a dashboard
and a script, 1,000 users) follow every topic while one TradingView webhook trades for 1,000 paper
subscribers, on SQLite, over real HTTP and WebSockets.

The server runs in its own process; it records when each transaction's events were announced (right
after its commit), and the clients record when each event arrived. Prints, over all events delivered:
p50 / p99 / max from the commit of the change to its delivery (target p99 < 250 ms), and per webhook
its acknowledgement, the time to the last commit of the fan-out, and to the last delivery.

    .venv/bin/python bench/ws_fanout.py [--subscribers 1000] [--clients-per-user 2] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from bisect import bisect_left
from collections.abc import Mapping
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from fanout import PASSPHRASE, percentile, seed  # noqa: E402
from tradewire.api.app import create_app  # noqa: E402
from tradewire.api.auth import issue_token  # noqa: E402
from tradewire.config import Settings  # noqa: E402
from tradewire.runtime import tune_gc  # noqa: E402
from tradewire.wiring import build_runtime  # noqa: E402

TOPICS = ["signals", "intents", "orders", "fills", "positions", "balances", "bots", "backtests", "provider"]


class Recorder:
    """The store's notifier, timestamping each announcement before passing it on to the hub."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.log: list[tuple[float, dict[int, int]]] = []
        self.lock = threading.Lock()

    def published(self, last_ids: Mapping[int, int]) -> None:
        with self.lock:
            self.log.append((time.time(), dict(last_ids)))
        self.hub.published(last_ids)


def serve(tmp: str, port: int, subscribers: int, pipe: Connection) -> None:
    """The server process: seed, serve, answer the parent's requests for the announcement log."""
    logging.basicConfig(level=logging.WARNING)
    settings = Settings(
        var_dir=Path(tmp), data_dir=Path(tmp) / "none", feed_interval_s=3600, reconcile_interval_s=5
    )
    runtime = build_runtime(settings)
    slug = seed(runtime, subscribers)
    runtime.feed.set_price("BTC/USDT", Decimal("50000"))
    recorder = Recorder(runtime.events)
    runtime.store.notifier = recorder
    users = [runtime.members.user_by_id(u) for u in range(2, subscribers + 2)]
    tokens = {u.id: issue_token(runtime, u) for u in users if u is not None}
    tune_gc()  # as `tradewire serve` does
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_config=None, backlog=8192, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    pipe.send((slug, tokens))
    while True:
        request = pipe.recv()
        if request == "log":
            with recorder.lock:
                pipe.send(list(recorder.log))
        elif request == "clients":
            pipe.send(runtime.events.clients)
        else:
            server.should_exit = True
            thread.join(20)
            return


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
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                arrived = time.time()
                frame = json.loads(text)
                for event in frame.get("frames", [frame]):
                    if "id" in event:
                        self.received.append((arrived, event["id"]))
                        if event["topic"] == "intents" and event["type"] in ("done", "failed", "rejected"):
                            self.done += 1


async def bench(
    subscribers: int,
    per_user: int,
    runs: int,
    port: int,
    compression: str | None,
    topics: list[str],
    batch: bool = False,
) -> None:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    with tempfile.TemporaryDirectory() as tmp:
        process = context.Process(target=serve, args=(tmp, port, subscribers, theirs), daemon=True)
        process.start()
        slug, tokens = await asyncio.to_thread(ours.recv)
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
        ours.send("clients")
        connected = await asyncio.to_thread(ours.recv)
        print(
            f"{len(clients)} clients ({per_user} per user, {len(tokens)} users) connected and subscribed "
            f"in {time.perf_counter() - started:.1f} s; the server counts {connected}"
        )
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
                response = await http.post(f"/api/v1/webhooks/tradingview/{slug}", json=body)
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
        ours.send("log")
        log = await asyncio.to_thread(ours.recv)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        ours.send("stop")
        process.join(30)
    report(clients, log, webhooks, runs)


def report(
    clients: list[Client],
    log: list[tuple[float, dict[int, int]]],
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
    print(
        f"events delivered: {len(latencies)} ({missing} without an announced commit; "
        f"{unfinished} clients short)"
    )
    if latencies:
        print(
            f"commit -> delivery (ms): p50 {statistics.median(latencies):.1f}  "
            f"p99 {percentile(latencies, 0.99):.1f}  max {max(latencies):.1f}"
        )
    commits = sorted(at for at, _ in log)
    arrivals = sorted(arrived for c in clients for arrived, _ in c.received)
    for number, (sent, acknowledged) in enumerate(webhooks):
        end = webhooks[number + 1][0] if number + 1 < len(webhooks) else float("inf")
        last_commit = max((t for t in commits if sent <= t < end), default=sent)
        last_arrival = max((t for t in arrivals if sent <= t < end), default=sent)
        ack, committed = (acknowledged - sent) * 1000, (last_commit - sent) * 1000
        print(
            f"webhook {number + 1}: ack {ack:.1f} ms; fan-out committed in {committed:.0f} ms; "
            f"last event delivered at {(last_arrival - sent) * 1000:.0f} ms"
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
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    compression = None if args.no_compression else "deflate"
    topics = args.topics.split(",")
    asyncio.run(
        bench(args.subscribers, args.clients_per_user, args.runs, args.port, compression, topics, args.batch)
    )


if __name__ == "__main__":
    main()
