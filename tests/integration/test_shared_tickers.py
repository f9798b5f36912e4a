"""Live prices shared by split processes through the local Redis: a venue's tickers fetched by one
process are taken by another within the TTL instead of asking the exchange again; older ones are
not; without Redis each process fetches for itself."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from redis import Redis

from tests.conftest import REDIS_URL, free_port
from tradewire.adapters.live.shared_tickers import SharedTickers
from tradewire.adapters.live.tickers import TickerCache

VENUE = "binance|False|"


class Exchange:
    """An exchange's ticker endpoints, counting the calls."""

    def __init__(self, price: str) -> None:
        self.price = price
        self.calls = 0

    async def many(self, symbols: list[str]) -> dict[str, Any]:
        self.calls += 1
        return {s: {"last": self.price} for s in symbols}

    async def one(self, symbol: str) -> dict[str, Any]:
        self.calls += 1
        return {"last": self.price}


async def test_a_price_fetched_by_one_process_is_taken_by_the_other(redis_prefix: str) -> None:
    api, worker = SharedTickers(REDIS_URL, redis_prefix, 60), SharedTickers(REDIS_URL, redis_prefix, 60)
    exchange = Exchange("60000")
    try:
        marks = TickerCache(ttl_s=10, shared=api.for_venue(VENUE))
        monitor = TickerCache(ttl_s=10, shared=worker.for_venue(VENUE))

        first = await marks.price("BTC/USDT", exchange.many, exchange.one)
        exchange.price = "61000"
        second = await monitor.price("BTC/USDT", exchange.many, exchange.one)

        assert first == second == Decimal(60000)
        assert exchange.calls == 1  # the worker asked Redis, not the exchange
    finally:
        await api.close()
        await worker.close()


async def test_a_shared_price_older_than_the_ttl_is_fetched_again(redis_prefix: str) -> None:
    client = Redis.from_url(REDIS_URL)
    twenty_s_ago = int(time.time() * 1000) - 20_000
    client.hset(f"{redis_prefix}:tickers:{VENUE}", "BTC/USDT", f"{twenty_s_ago}:60000")
    client.close()
    worker = SharedTickers(REDIS_URL, redis_prefix, 60)
    exchange = Exchange("61000")
    try:
        cache = TickerCache(ttl_s=10, shared=worker.for_venue(VENUE))

        assert await cache.price("BTC/USDT", exchange.many, exchange.one) == Decimal(61000)
        assert exchange.calls == 1
    finally:
        await worker.close()


async def test_without_redis_each_process_fetches_for_itself() -> None:
    nowhere = SharedTickers(f"redis://127.0.0.1:{free_port()}/0", "nowhere", 60)
    exchange = Exchange("60000")
    try:
        cache = TickerCache(ttl_s=10, shared=nowhere.for_venue(VENUE))

        assert await cache.price("BTC/USDT", exchange.many, exchange.one) == Decimal(60000)
        assert await cache.price("BTC/USDT", exchange.many, exchange.one) == Decimal(60000)  # kept here
        assert exchange.calls == 1
    finally:
        await nowhere.close()
