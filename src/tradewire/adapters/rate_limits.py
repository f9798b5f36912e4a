"""Request counts per tier and key, with the `limits` library: a sliding window counter (O(1) per
check) kept in this process's memory, or in Redis when a URL is given, so that several processes
share the counts.

In memory, each tier has its own store: the library's expiry sweep walks a store's keys, and the
webhook's store then holds only strategies (and addresses that sent wrong passphrases), whatever the
number of users and addresses the other tiers count. A Redis that cannot be reached lets requests
through (logged): rate limits must not take the platform down with them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, RateLimiter, SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from tradewire.ports.rate_limits import Decision

log = logging.getLogger("tradewire.rate_limits")


class RateLimits:
    """`tradewire.ports.rate_limits.RateLimiter` against `limits` ({tier: "N/period"}, e.g.
    "120/minute")."""

    def __init__(self, limits: Mapping[str, str], redis_url: str = "", exact: bool = False) -> None:
        """`exact`: a moving window (every hit kept, never more than the limit in any window, e.g. to
        keep within a service's own limits) instead of the O(1) sliding window counter."""
        self._items: dict[str, RateLimitItem] = {tier: parse(text) for tier, text in limits.items()}
        self._redis_url = redis_url
        self._exact = exact
        self._limiters: dict[str, RateLimiter] = {}

    @property
    def shared(self) -> bool:
        """Whether the counts live in Redis (shared by every process using it)."""
        return bool(self._redis_url)

    def describe(self, tier: str) -> str:
        return str(self._items[tier])

    async def hit(self, tier: str, key: str) -> Decision:
        """Count one request of `key` in `tier`, unless the limit is reached."""
        return await self._check(tier, key, count=True)

    async def peek(self, tier: str, key: str) -> Decision:
        """Whether one more request would be allowed, without counting it."""
        return await self._check(tier, key, count=False)

    async def _check(self, tier: str, key: str, *, count: bool) -> Decision:
        item = self._items[tier]
        limiter = self._limiter(tier)
        try:
            allowed = await (limiter.hit(item, key) if count else limiter.test(item, key))
            stats = await limiter.get_window_stats(item, key)
        except StorageError as exc:
            log.warning("rate limit %s not checked (%s): request let through", tier, exc)
            now = time.time()
            return Decision(True, item.amount, item.amount, now, now)
        return Decision(allowed, item.amount, stats.remaining, stats.reset_time, time.time())

    def _limiter(self, tier: str) -> RateLimiter:
        # Made on first use, inside the event loop that serves requests (memory stores need one).
        key = "redis" if self._redis_url else tier
        limiter = self._limiters.get(key)
        if limiter is None:
            kind = MovingWindowRateLimiter if self._exact else SlidingWindowCounterRateLimiter
            limiter = kind(self._storage())
            self._limiters[key] = limiter
        return limiter

    def _storage(self) -> Storage:
        if not self._redis_url:
            return MemoryStorage()
        url = self._redis_url
        if not url.startswith("async+"):
            url = f"async+{url}"
        return RedisStorage(url, wrap_exceptions=True, key_prefix="tradewire-limits")
