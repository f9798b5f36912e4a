"""Per-account exchange rate limits shared by every process through Redis (issue #15, item 4).

An exchange limits an API key, not a process: an API process reading balances and the worker placing
orders spend one budget (and share one circuit breaker: shared_breakers.py). The token bucket of each
live account lives in Redis and is taken from in one Lua script (Redis's own clock, so machines with
skewed clocks agree). A Retry-After from the exchange blocks every process. If Redis cannot be
reached, each process falls back to its own bucket at the account's full rate (limits still apply per
process, as with one process) and tries Redis again a few seconds later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tradewire.adapters.live.guards import RateLimiter
from tradewire.adapters.live.shared_breakers import SharedBreakers, SharedCircuitBreaker

log = logging.getLogger("tradewire.exchange.limits")

# KEYS[1]: the bucket (tokens, at ms), KEYS[2]: the Retry-After block. ARGV: rate/s, burst, take (0|1).
# Returns {wait_ms, tokens as text, blocked_ms}: wait 0 means a token was taken.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local take = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local blocked = redis.call('PTTL', KEYS[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if blocked > 0 then
  wait = blocked
elseif take > 0 then
  if tokens >= 1 then
    tokens = tokens - 1
  else
    wait = math.ceil((1 - tokens) * 1000 / rate)
  end
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 60000)
return {wait, tostring(tokens), math.max(blocked, 0)}
"""

RETRY_REDIS_S = 5.0  # after Redis failed, the process's own bucket is used this long before trying again


class SharedRateLimiter:
    """One live account's request budget, shared with every process through Redis (the interface of
    guards.RateLimiter: acquire, penalize, rate, headroom_pct, blocked_s)."""

    def __init__(
        self,
        redis: Redis,
        key: str,
        rate: float,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._redis = redis
        self._bucket = f"{key}:bucket"
        self._block = f"{key}:blocked"
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._own = RateLimiter(rate, burst, clock)  # while Redis cannot be reached
        self._redis_back_at = 0.0
        self._tokens = burst  # as last seen in Redis (health only)
        self._blocked_until = 0.0  # likewise, and this process's own Retry-After at once
        self._sharing: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()  # this process's callers queue in order; Redis orders the processes

    @property
    def rate(self) -> float:
        return self._rate

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                if self._clock() < self._redis_back_at:
                    await self._own.acquire()
                    return
                wait_s = await self._take(1)
                if wait_s is None:  # Redis failed: this process's own bucket meanwhile
                    await self._own.acquire()
                    return
                if wait_s <= 0:
                    return
                await asyncio.sleep(wait_s)

    def penalize(self, seconds: float) -> None:
        """Hold every process's requests of this account back for `seconds` (a Retry-After)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)
        self._own.penalize(seconds)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._share_block(seconds))
        self._sharing.add(task)  # kept until done (a task only weakly referenced may be collected)
        task.add_done_callback(self._sharing.discard)

    def headroom_pct(self) -> float:
        """The share of the burst left as last seen (100: idle), read without spending any."""
        if self._clock() < self._redis_back_at:
            return self._own.headroom_pct()
        return round(100 * min(self._burst, self._tokens) / self._burst, 1)

    def blocked_s(self) -> float:
        return max(0.0, self._blocked_until - self._clock())

    async def _take(self, count: int) -> float | None:
        """Seconds to wait before trying again (0: a token was taken), or None when Redis failed."""
        try:
            wait_ms, tokens, blocked_ms = await self._redis.eval(
                _TAKE, 2, self._bucket, self._block, repr(self._rate), repr(self._burst), count
            )
        except (RedisError, OSError) as exc:
            if self._clock() >= self._redis_back_at:
                log.warning("shared rate limit unreachable (%s): this process's own budget meanwhile", exc)
            self._redis_back_at = self._clock() + RETRY_REDIS_S
            return None
        self._tokens = float(tokens)
        if int(blocked_ms) > 0:
            self._blocked_until = max(self._blocked_until, self._clock() + int(blocked_ms) / 1000)
        return int(wait_ms) / 1000

    async def _share_block(self, seconds: float) -> None:
        try:
            # The longer of any block already set and this one (PX replaces: keep the longer).
            current = await self._redis.pttl(self._block)
            if int(current) < seconds * 1000:
                await self._redis.set(self._block, "1", px=max(1, int(seconds * 1000)))
        except (RedisError, OSError) as exc:
            log.warning("could not share a Retry-After of %.1f s (%s)", seconds, exc)


class SharedLimits:
    """Makes each live account's SharedRateLimiter, on one Redis connection pool per process, and its
    SharedCircuitBreaker (shared_breakers)."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self._url = redis_url
        self._prefix = prefix
        self._redis: Redis | None = None
        self._breakers = SharedBreakers(redis_url, prefix)

    def limiter(self, account_id: int, rate: float, burst: float) -> SharedRateLimiter:
        if self._redis is None:
            self._redis = Redis.from_url(self._url, socket_connect_timeout=1, socket_timeout=1)
        return SharedRateLimiter(self._redis, f"{self._prefix}:limits:account:{account_id}", rate, burst)

    def breaker(self, account_id: int) -> SharedCircuitBreaker:
        return self._breakers.breaker(account_id)

    async def close(self) -> None:
        await self._breakers.close()
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
