"""Benchmark: a backlog of 10,000 Telegram notifications drains within Telegram's limits while the
server keeps acknowledging TradingView webhooks.

The server runs in its own process (SQLite, paper trading, 10 webhook subscribers), with its Telegram
bot pointed at the fake Bot API (tests/fakes/telegram_api.py) served from this process. Each run:
webhooks are timed alone first (the baseline), then 400 linked chats get 25 notifications each written
into the events outbox at once (10,000 messages), and a webhook is sent every 0.25 s until the last
message has been accepted by the fake. Prints per run the drain time (first to last message), the
highest count of messages seen in any 1 s window overall and per chat (Telegram allows 30 and 1), and
the webhook acknowledgement p50 / p99 / max before and during the drain; then min and median over runs.

    .venv/bin/python bench/telegram_backlog.py [--runs 3] [--chats 400] [--messages 10000]
        [--rate 30/second] [--chat-rate 1/second]

At Telegram's own limits a run takes 10,000 / 30 = 333 s at least; `--rate 300/second --chat-rate
10/second` shows the same behaviour ten times faster (the fake enforces nothing: the figures are what
the bot kept to by itself).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import FakeTelegram  # noqa: E402

from fanout import PASSPHRASE, percentile, seed  # noqa: E402
from tradewire.adapters.store.db import make_engine, write_transaction  # noqa: E402
from tradewire.adapters.store.events import save_events  # noqa: E402
from tradewire.adapters.store.tables import users  # noqa: E402
from tradewire.adapters.store.telegram_tables import telegram_links  # noqa: E402
from tradewire.api.app import create_app  # noqa: E402
from tradewire.config import Settings  # noqa: E402
from tradewire.domain.events import Event, Topic  # noqa: E402
from tradewire.runtime import tune_gc  # noqa: E402
from tradewire.wiring import build_runtime  # noqa: E402

CHAT_BASE = 5_000_000


def serve(tmp: str, port: int, telegram: dict[str, str], pipe: Connection) -> None:
    """The server process: seed 10 webhook subscribers, serve until told to stop."""
    logging.basicConfig(level=logging.WARNING)
    settings = Settings(
        var_dir=Path(tmp),
        data_dir=Path(tmp) / "none",
        feed_interval_s=3600,
        reconcile_interval_s=5,
        telegram_token=telegram["token"],
        telegram_api_url=telegram["url"],
        telegram_rate=telegram["rate"],
        telegram_chat_rate=telegram["chat_rate"],
        telegram_poll_timeout_s=5,
        rate_limit_webhook="1000000/minute",  # 4 alerts a second for minutes: over the default 120/min
    )
    runtime = build_runtime(settings)
    slug = seed(runtime, 10)
    runtime.feed.set_price("BTC/USDT", Decimal("50000"))
    tune_gc()
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_config=None, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    pipe.send((slug, settings.effective_database_url))
    pipe.recv()
    server.should_exit = True
    thread.join(30)


def backlog(database_url: str, chats: int, messages: int) -> None:
    """`chats` users with a linked chat each, and `messages` notifications for them in the outbox."""
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        rows = [
            {"username": f"chat{n}", "password_hash": "unusable", "created_at": now} for n in range(chats)
        ]
        conn.execute(users.insert(), rows)
        ids = [int(i) for i in conn.execute(users.select().where(users.c.username.like("chat%"))).scalars()]
        conn.execute(
            telegram_links.insert(),
            [{"user_id": u, "chat_id": CHAT_BASE + u, "linked_at": now, "last_event_id": 0} for u in ids],
        )
        made = [
            Event(
                ids[n % len(ids)],
                Topic.SIGNALS,
                "received",
                {
                    "signal_id": n + 1,
                    "strategy_id": 1,
                    "action": "buy",
                    "symbol": "BTC/USDT",
                    "price": "50000",
                },
            )
            for n in range(messages)
        ]
        save_events(conn, made, now)
    engine.dispose()


async def _webhooks(url: str, slug: str, stop: asyncio.Event, acks: list[float], first: int) -> int:
    """An alert every 0.25 s until `stop`; each acknowledgement's time (s) in `acks`."""
    n = first
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while not stop.is_set():
            n += 1
            body = {
                "passphrase": PASSPHRASE,
                "ticker": "BTCUSDT",
                "action": "buy" if n % 2 else "sell",
                "time": f"2025-01-01T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
            }
            started = time.perf_counter()
            response = await http.post(f"/api/v1/webhooks/tradingview/{slug}", json=body)
            acks.append(time.perf_counter() - started)
            assert response.status_code == 202, response.text
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
    return n


def _busiest(times: list[float]) -> int:
    """The most messages in any 1 s window."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run_once(args: argparse.Namespace, port: int) -> dict[str, float]:
    with FakeTelegram() as fake, tempfile.TemporaryDirectory() as tmp:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        telegram = {"token": fake.token, "url": fake.url, "rate": args.rate, "chat_rate": args.chat_rate}
        process = context.Process(target=serve, args=(tmp, port, telegram, theirs), daemon=True)
        process.start()
        slug, database_url = await asyncio.to_thread(ours.recv)
        url = f"http://127.0.0.1:{port}"
        baseline: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(_webhooks(url, slug, stop, baseline, 0))
        await asyncio.sleep(5)
        stop.set()
        sent = await task
        await asyncio.to_thread(backlog, database_url, args.chats, args.messages)
        during: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(_webhooks(url, slug, stop, during, sent))
        deadline = time.monotonic() + args.messages / 1.0 + 60
        while time.monotonic() < deadline:
            done = sum(1 for c in fake.calls_of("sendMessage") if c.status == 200)
            if done >= args.messages:
                break
            await asyncio.sleep(0.2)
        stop.set()
        await task
        ours.send("stop")
        await asyncio.to_thread(process.join, 30)
        ok = [c for c in fake.calls_of("sendMessage") if c.status == 200]
        times = [c.at for c in ok]
        per_chat: dict[str, list[float]] = {}
        for c in ok:
            per_chat.setdefault(str(c.params["chat_id"]), []).append(c.at)
        return {
            "sent": len(ok),
            "drain_s": max(times) - min(times) if times else float("nan"),
            "busiest_1s": _busiest(times),
            "busiest_chat_1s": max((_busiest(v) for v in per_chat.values()), default=0),
            "base_p50_ms": percentile(baseline, 0.5) * 1000,
            "base_p99_ms": percentile(baseline, 0.99) * 1000,
            "p50_ms": percentile(during, 0.5) * 1000,
            "p99_ms": percentile(during, 0.99) * 1000,
            "max_ms": max(during) * 1000,
            "webhooks": len(during),
        }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chats", type=int, default=400)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", default="30/second", help="the bot's overall limit (Telegram: 30/second)")
    parser.add_argument("--chat-rate", default="1/second", help="per chat (Telegram: 1/second)")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    print(
        f"{args.messages} messages to {args.chats} chats at {args.rate} overall, {args.chat_rate} per chat; "
        f"{args.runs} runs"
    )
    results = []
    for n in range(args.runs):
        r = await run_once(args, args.port + n)
        results.append(r)
        print(
            f"run {n + 1}: {r['sent']:.0f} sent, drained in {r['drain_s']:.1f} s; busiest second "
            f"{r['busiest_1s']:.0f} overall, {r['busiest_chat_1s']:.0f} in one chat; webhook ack "
            f"before p50 {r['base_p50_ms']:.1f} / p99 {r['base_p99_ms']:.1f} ms, during "
            f"p50 {r['p50_ms']:.1f} / p99 {r['p99_ms']:.1f} / max {r['max_ms']:.1f} ms ({r['webhooks']:.0f})"
        )
    for key in ("drain_s", "p50_ms", "p99_ms"):
        values = [r[key] for r in results]
        print(f"{key}: min {min(values):.1f}, median {statistics.median(values):.1f}")


if __name__ == "__main__":
    asyncio.run(main())
