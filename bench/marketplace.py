"""Benchmark: the marketplace's hot reads over real HTTP, on SQLite or the local PostgreSQL.

Seeds public strategies with thousands of active subscribers between them and a per-pair track
record each, signs one subscriber in, and asks, one request after the other, for what the
marketplace page reads: GET /api/v1/strategies (every public strategy with its subscriber count) and
GET /api/v1/strategies/{id}/pairs (a strategy's track record). Prints requests per second and the
median latency of each, min / median over repeated runs. Compare TRADEWIRE_MARKETPLACE_CACHE_TTL_S=0
(no cache) with the default.

    .venv/bin/python bench/marketplace.py [--strategies 50] [--subscribers 10000] [--runs 7]
        [--seconds 2] [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench] [--ttl 0]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fanout import Server, provider_strategies, subscribed_paper_users  # noqa: E402
from tradewire.adapters.passwords import hash_secret  # noqa: E402
from tradewire.adapters.store.db import write_transaction  # noqa: E402
from tradewire.adapters.store.tables import strategy_pairs  # noqa: E402
from tradewire.config import Settings  # noqa: E402
from tradewire.runtime import Runtime  # noqa: E402
from tradewire.wiring import build_runtime  # noqa: E402

PASSWORD = "bench-password"
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT", "DOGE/USDT", "BNB/USDT", "LTC/USDT")


def seed(runtime: Runtime, strategy_count: int, subscribers: int) -> list[int]:
    """Providers' public strategies, each with a track record per pair, and subscribers spread over
    them (one paper account and one ACTIVE subscription each), in bulk."""
    now = datetime.now(UTC)
    password_hash = hash_secret(PASSWORD)
    with write_transaction(runtime.engine) as conn:
        rows = [
            {
                "slug": f"s{i}",
                "name": f"Strategy {i}",
                "description": "a public strategy",
                "passphrase_hash": password_hash,
            }
            for i in range(strategy_count)
        ]
        strategy_ids = provider_strategies(conn, password_hash, now, rows)
        conn.execute(
            strategy_pairs.insert(),
            [
                {
                    "strategy_id": s,
                    "symbol": symbol,
                    "trades": 20,
                    "wins": 12,
                    "gross_return_pct": Decimal("3.5"),
                    "window_trades": 10,
                    "window_return_pct": Decimal("1.2"),
                    "consecutive_losses": 1,
                    "open_entry": None,
                    "status": "NORMAL",
                    "status_reason": None,
                    "status_until": None,
                    "manual": False,
                    "updated_at": now,
                }
                for s in strategy_ids
                for symbol in SYMBOLS
            ],
        )
        subscribed_paper_users(conn, subscribers, password_hash, now, strategy_ids)
    return strategy_ids


def hammer(client: httpx.Client, paths: list[str], seconds: float) -> tuple[float, float]:
    """Requests per second and median latency (ms) of asking for `paths` in turn for `seconds`."""
    latencies: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for path in paths:
            before = time.perf_counter()
            response = client.get(path)
            latencies.append(time.perf_counter() - before)
            response.raise_for_status()
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, statistics.median(latencies) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", type=int, default=50)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument(
        "--database-url", default="", help="an empty database (default: SQLite in a temporary dir)"
    )
    parser.add_argument("--ttl", type=float, default=None, help="marketplace cache TTL in s (0: no cache)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        options: dict[str, Any] = {
            "var_dir": Path(tmp),
            "data_dir": Path(tmp) / "none",
            "database_url": args.database_url,
            "feed_interval_s": 3600,
            "rate_limit_general": "100000000/minute",
            "rate_limit_marketplace": "100000000/minute",
        }
        if args.ttl is not None:
            options["marketplace_cache_ttl_s"] = args.ttl
        runtime = build_runtime(Settings(**options))
        strategy_ids = seed(runtime, args.strategies, args.subscribers)
        with Server(runtime, args.port) as server, httpx.Client(base_url=server.url, timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={"username": "u0", "password": PASSWORD})
            token.raise_for_status()
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            cases = {
                "GET /strategies": ["/api/v1/strategies"],
                "GET /strategies/{id}/pairs": [f"/api/v1/strategies/{s}/pairs" for s in strategy_ids[:10]],
            }
            print(
                f"{args.strategies} public strategies, {args.subscribers} subscribers, "
                f"{'PostgreSQL' if args.database_url.startswith('postgres') else 'SQLite'}, "
                f"marketplace cache TTL {getattr(runtime.settings, 'marketplace_cache_ttl_s', 'n/a')} s"
            )
            for name, paths in cases.items():
                hammer(client, paths, 0.5)  # warm up
                results = [hammer(client, paths, args.seconds) for _ in range(args.runs)]
                rates = sorted(r for r, _ in results)
                medians = sorted(m for _, m in results)
                print(
                    f"{name:28s} req/s min {rates[0]:7.0f} median {statistics.median(rates):7.0f}   "
                    f"latency p50 min {medians[0]:6.2f} ms median {statistics.median(medians):6.2f} ms"
                )


if __name__ == "__main__":
    main()
