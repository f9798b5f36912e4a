"""Live prices shared by every process through Redis (split deployment: TRADEWIRE_ROLE=api and
workers). An API process marking positions and the worker's exit monitor ask the same exchange for
the same tickers; each venue's last prices are kept in one Redis hash with when they were fetched
(wall-clock milliseconds), so whichever asks first fetches for both. Redis unreachable: each process
fetches for itself, as one process does."""

from __future__ import annotations

import logging
import time
from decimal import Decimal, InvalidOperation

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("tradewire.tickers")


class RedisTickers:
    """One venue's shared prices (tickers.SharedPrices)."""

    def __init__(self, redis: Redis, key: str, keep_s: float) -> None:
        self._redis = redis
        self._key = key
        self._keep_ms = max(1000, int(keep_s * 1000))

    async def fresh(self, symbols: list[str], ttl_s: float) -> dict[str, tuple[float, Decimal]]:
        """The symbols fetched within `ttl_s`, each with its age in seconds."""
        if not symbols:
            return {}
        try:
            values = await self._redis.hmget(self._key, symbols)
        except (RedisError, OSError) as exc:
            log.info("shared prices unreachable (%s): fetching them here", exc)
            return {}
        now_ms = time.time() * 1000
        found: dict[str, tuple[float, Decimal]] = {}
        for symbol, value in zip(symbols, values, strict=True):
            parsed = _parse(value)
            if parsed is None:
                continue
            age_s = max(0.0, (now_ms - parsed[0]) / 1000)
            if age_s < ttl_s:
                found[symbol] = (age_s, parsed[1])
        return found

    async def share(self, prices: dict[str, Decimal]) -> None:
        at = int(time.time() * 1000)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.hset(self._key, mapping={s: f"{at}:{p}" for s, p in prices.items()})
                pipe.pexpire(self._key, self._keep_ms)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.info("could not share %d prices (%s)", len(prices), exc)


class SharedTickers:
    """Makes each venue's RedisTickers, on one Redis connection pool per process."""

    def __init__(self, redis_url: str, prefix: str, keep_s: float) -> None:
        self._url = redis_url
        self._prefix = prefix
        self._keep_s = keep_s
        self._redis: Redis | None = None

    def for_venue(self, venue: str) -> RedisTickers:
        if self._redis is None:
            self._redis = Redis.from_url(self._url, socket_connect_timeout=1, socket_timeout=1)
        return RedisTickers(self._redis, f"{self._prefix}:tickers:{venue}", self._keep_s)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None


def _parse(value: object) -> tuple[int, Decimal] | None:
    """A stored "<ms>:<price>"; None when absent or unreadable."""
    if value is None:
        return None
    try:
        text = value.decode() if isinstance(value, bytes) else str(value)
        at, price = text.split(":", 1)
        found = Decimal(price)
        return (int(at), found) if found.is_finite() and found > 0 else None
    except (ValueError, InvalidOperation, UnicodeDecodeError):
        return None
