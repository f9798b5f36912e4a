"""Request counts per tier and key, with the `limits` library: a sliding window counter (O(1) per
check) kept in this process's memory, or in Redis when a URL is given, so that several processes
share the counts.

In memory, each tier has its own store: the library's expiry sweep walks a store's keys, and the
webhook's store then holds only strategies (and addresses that sent wrong passphrases), whatever the
number of users and addresses the other tiers count.

A Redis that cannot be reached (refused, closed, silent past a short timeout) does not let requests
through: the limits would vanish when they matter, sign-in throttling first. While it is down,
requests are counted in this process's memory as without Redis, so every process still applies
each limit on its own (with N processes an address may get up to N times the limit, never
unlimited). The outage is logged once; every `redis_retry_s` one request tries Redis again (the
others meanwhile keep counting in memory), and the first that gets through ends the outage (logged
too). Counts made in memory are not carried into Redis: a window spanning the outage counts afresh.
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


# What a Redis that is down raises: the library's wrapped errors, and what a socket may raise before
# the library sees it.
_REDIS_DOWN = (StorageError, OSError, TimeoutError)
_REDIS_TIMEOUT_S = 1.0  # connect and per-command: a silent Redis must not hold requests for long


class RateLimits:
    """`tradewire.ports.rate_limits.RateLimiter` against `limits` ({tier: "N/period"}, e.g.
    "120/minute")."""

    def __init__(
        self,
        limits: Mapping[str, str],
        redis_url: str = "",
        exact: bool = False,
        redis_retry_s: float = 5.0,
        key_prefix: str = "tradewire-limits",
    ) -> None:
        """`exact`: a moving window (every hit kept, never more than the limit in any window, e.g. to
        keep within a service's own limits) instead of the O(1) sliding window counter.
        `redis_retry_s`: while Redis is unreachable, how long to count in memory before trying it again."""
        self._items: dict[str, RateLimitItem] = {tier: parse(text) for tier, text in limits.items()}
        self._redis_url = redis_url
        self._key_prefix = key_prefix  # one per installation sharing a Redis
        self._exact = exact
        self._retry_s = redis_retry_s
        self._shared: RateLimiter | None = None
        self._local: dict[str, RateLimiter] = {}
        self._down_since: float | None = None  # time.monotonic() when Redis was found unreachable
        self._retry_at = 0.0

    @property
    def shared(self) -> bool:
        """Whether the counts live in Redis (shared by every process using it)."""
        return bool(self._redis_url)

    @property
    def redis_down(self) -> bool:
        """Whether Redis was unreachable at its last try (requests are then counted in memory)."""
        return self._down_since is not None

    def describe(self, tier: str) -> str:
        return str(self._items[tier])

    async def hit(self, tier: str, key: str) -> Decision:
        return await self._check(tier, key, count=True)

    async def peek(self, tier: str, key: str) -> Decision:
        return await self._check(tier, key, count=False)

    async def _check(self, tier: str, key: str, *, count: bool) -> Decision:
        item = self._items[tier]
        shared = self._redis_limiter()
        if shared is not None:
            try:
                decision = await _decide(shared, item, key, count)
            except _REDIS_DOWN as exc:
                self._redis_lost(exc)
            else:
                self._redis_back()
                return decision
        return await _decide(self._memory_limiter(tier), item, key, count)

    def _redis_limiter(self) -> RateLimiter | None:
        """The limiter on Redis; None without Redis, or while it is down and not yet due for a retry
        (the request that finds it due tries it; those arriving meanwhile count in memory)."""
        if not self._redis_url:
            return None
        if self._down_since is not None:
            now = time.monotonic()
            if now < self._retry_at:
                return None
            self._retry_at = now + self._retry_s
        if self._shared is None:  # made on first use, inside the event loop that serves requests
            self._shared = self._limiter(self._redis_storage())
        return self._shared

    def _memory_limiter(self, tier: str) -> RateLimiter:
        limiter = self._local.get(tier)
        if limiter is None:
            limiter = self._local[tier] = self._limiter(MemoryStorage())
        return limiter

    def _limiter(self, storage: Storage) -> RateLimiter:
        kind = MovingWindowRateLimiter if self._exact else SlidingWindowCounterRateLimiter
        return kind(storage)

    def _redis_storage(self) -> Storage:
        from coredis.retry import NoRetryPolicy  # Redis's client, loaded only where counts are shared

        url = self._redis_url
        if not url.startswith("async+"):
            url = f"async+{url}"
        # No retries inside the client (coredis retries twice by default: a silent Redis would hold a
        # request three timeouts long); a failed check is counted in memory, and Redis tried later.
        return RedisStorage(
            url,
            wrap_exceptions=True,
            key_prefix=self._key_prefix,
            connect_timeout=_REDIS_TIMEOUT_S,
            stream_timeout=_REDIS_TIMEOUT_S,
            retry_policy=NoRetryPolicy(),  # type: ignore[arg-type]  # passed on to coredis.Redis
        )

    def _redis_lost(self, exc: BaseException) -> None:
        if self._down_since is None:
            now = time.monotonic()
            self._down_since, self._retry_at = now, now + self._retry_s
            log.warning(
                "rate limits: Redis unreachable (%s: %s); counting in this process's memory, trying "
                "Redis again every %s s",
                type(exc).__name__,
                exc,
                self._retry_s,
            )

    def _redis_back(self) -> None:
        if self._down_since is not None:
            log.warning(
                "rate limits: Redis reachable again after %.0f s; counts shared again",
                time.monotonic() - self._down_since,
            )
            self._down_since = None


async def _decide(limiter: RateLimiter, item: RateLimitItem, key: str, count: bool) -> Decision:
    allowed = await (limiter.hit(item, key) if count else limiter.test(item, key))
    stats = await limiter.get_window_stats(item, key)
    return Decision(allowed, item.amount, stats.remaining, stats.reset_time, time.time())
