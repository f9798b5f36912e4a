"""Per-account circuit breakers shared by every process through Redis (issue #15, item 4).

An exchange that stops answering stops answering every process: when the worker's calls have failed
`threshold` times in a row, an API process reading balances must not go on hammering it. Each live
account's breaker is one Redis hash (failures in a row, when it opened, until when a trial call is
out), changed by Lua scripts on Redis's clock: failures are counted together whichever process made
them, the failure that opens the breaker is told so in one process only (the opening is told to the
owner once), every process refuses calls until the cooldown is over, then one trial goes out across
all of them; a trial not heard of within `trial_s` (its process died) lets another go. A success
anywhere closes the breaker.

If Redis cannot be reached, each process falls back to a breaker of its own (opened by its own
failures, so never unlimited calls to a failing exchange, never a breaker stuck open) and tries Redis
again after `retry_s`; the outage is logged once and its end once. A breaker a process opened on its
own keeps refusing until its trial succeeds, even once Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tradewire.adapters.live.guards import TRIAL_S, BreakerState, CircuitBreaker, OpenedBreaker

log = logging.getLogger("tradewire.exchange.breakers")

RETRY_REDIS_S = 5.0  # after Redis failed, the process's own breakers are used this long before trying again
READ_BATCH = 500  # breakers read in one script for the health page and metrics
KEEP_S = 3600.0  # a breaker's hash outlives its last change by its cooldown, a trial and this

_NOW = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
"""

# KEYS[1]: the breaker. ARGV: cooldown ms, trial ms, keep ms.
# Returns {allowed 0|1, ms since it opened (-1: closed)}.
_ALLOW = (
    _NOW
    + """
local state = redis.call('HMGET', KEYS[1], 'opened_at', 'trial_until')
local opened = tonumber(state[1])
if opened == nil then
  return {1, -1}
end
local since = math.max(0, now - opened)
if since < tonumber(ARGV[1]) or (tonumber(state[2]) or 0) > now then
  return {0, since}
end
redis.call('HSET', KEYS[1], 'trial_until', now + tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, since}
"""
)

# KEYS[1]: the breaker. ARGV: threshold, keep ms.
# Returns {1 when this failure opened it else 0, ms since it opened (-1: closed), Redis's ms now}.
_FAILURE = (
    _NOW
    + """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local opened = redis.call('HGET', KEYS[1], 'opened_at')
local news = 0
if not opened and failures >= tonumber(ARGV[1]) then
  news = 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if not opened and news == 0 then
  return {0, -1, now}
end
redis.call('HSET', KEYS[1], 'opened_at', now)
redis.call('HDEL', KEYS[1], 'trial_until')
return {news, 0, now}
"""
)

# KEYS: breakers. Returns, for each, ms since it opened (-1: closed).
_READ = (
    _NOW
    + """
local seen = {}
for i, key in ipairs(KEYS) do
  local opened = tonumber(redis.call('HGET', key, 'opened_at'))
  if opened == nil then
    seen[i] = -1
  else
    seen[i] = math.max(0, now - opened)
  end
end
return seen
"""
)


class SharedCircuitBreaker(OpenedBreaker):
    """One live account's circuit breaker, shared with every process through Redis (the interface of
    guards.Breaker)."""

    def __init__(
        self,
        board: SharedBreakers,
        key: str,
        threshold: int,
        cooldown_s: float,
        trial_s: float,
        clock: Callable[[], float],
    ) -> None:
        super().__init__(threshold, cooldown_s, clock)  # _opened_at: as last seen in Redis, on our clock
        self._board = board
        self._key = key
        self._own = CircuitBreaker(threshold, cooldown_s, clock, trial_s)  # while Redis cannot be reached
        self._opening: str | None = None
        ms = math.ceil(cooldown_s * 1000)
        self._allow_args = (ms, math.ceil(trial_s * 1000), math.ceil((cooldown_s + trial_s + KEEP_S) * 1000))

    @property
    def state(self) -> BreakerState:
        if self._on_own(try_redis=False):
            return self._own.state
        return self._opened_state()

    def retry_in(self) -> float:
        if self._on_own(try_redis=False):
            return self._own.retry_in()
        return self._opened_retry_in()

    def opening(self) -> str | None:
        return self._opening

    async def allow(self) -> bool:
        if not self._on_own(try_redis=True):
            answer = await self._board.run(_ALLOW, self._key, *self._allow_args)
            if answer is not None:
                allowed, since = answer
                self._seen(since)
                return bool(allowed)
        return self._own.allow()

    async def success(self) -> None:
        self._own.success()
        if self._board.usable() and await self._board.close_breaker(self._key):
            self._opened_at = None

    async def failure(self) -> bool:
        if not self._on_own(try_redis=True):
            answer = await self._board.run(_FAILURE, self._key, self._threshold, self._allow_args[2])
            if answer is not None:
                news, since, now_ms = answer
                self._seen(since)
                if news:
                    self._opening = f"shared:{now_ms}"
                return bool(news)
        opened = self._own.failure()
        if opened:
            # Processes that each opened their own breaker in one cooldown's window of the wall clock
            # tell it once between them; one process's openings are a cooldown apart, never merged.
            window = int(self._board.wall() * 1000) // max(1, self._allow_args[0])
            self._opening = f"own:{window}"
        return opened

    async def refresh(self) -> None:
        if self._on_own(try_redis=False):
            return
        since = await self._board.read(self._key)
        if since is not None:
            self._seen(since)

    def _on_own(self, try_redis: bool) -> bool:
        """Whether this process's own breaker decides: while Redis cannot be reached (unless it is
        time to try it again and `try_redis`), and while the breaker opened on its own is not closed
        by a successful trial (Redis coming back does not let through what it refuses)."""
        if self._own.state is not BreakerState.CLOSED:
            return True
        return not self._board.usable() if try_redis else self._board.down

    def _seen(self, since_ms: int) -> None:
        self._opened_at = None if since_ms < 0 else self._clock() - since_ms / 1000


class SharedBreakers:
    """Makes each live account's SharedCircuitBreaker, on one Redis connection pool per process, and
    knows whether Redis can be reached."""

    def __init__(
        self,
        redis_url: str,
        prefix: str,
        threshold: int = 5,
        cooldown_s: float = 30.0,
        trial_s: float = TRIAL_S,
        retry_s: float = RETRY_REDIS_S,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._url = redis_url
        self._prefix = prefix
        self._threshold = threshold
        self._cooldown = cooldown_s
        self._trial = trial_s
        self._retry_s = retry_s
        self._clock = clock
        self.wall = wall  # names openings made while Redis is away
        self._redis: Redis | None = None
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._due: set[str] = set()  # breakers whose state a health read asked for
        self._reading: asyncio.Task[dict[str, int] | None] | None = None

    def breaker(self, account_id: int) -> SharedCircuitBreaker:
        key = f"{self._prefix}:limits:account:{account_id}:breaker"
        return SharedCircuitBreaker(self, key, self._threshold, self._cooldown, self._trial, self._clock)

    @property
    def down(self) -> bool:
        """Whether Redis failed at its last try (each process's own breakers decide meanwhile)."""
        return self._down_since is not None

    def usable(self) -> bool:
        """Whether to ask Redis now: it is up, or down and due for another try (this caller tries it;
        the others meanwhile keep to their own breakers)."""
        if self._down_since is None:
            return True
        now = self._clock()
        if now < self._retry_at:
            return False
        self._retry_at = now + self._retry_s
        return True

    async def run(self, script: str, key: str, *args: int) -> list[int] | None:
        """The script's answer on `key`, or None when Redis failed."""
        answer = await self._ask(lambda redis: redis.eval(script, 1, key, *args))
        return None if answer is None else [int(v) for v in answer]

    async def close_breaker(self, key: str) -> bool:
        """A success: the breaker closed with no failure counted (no hash at all); False when Redis failed."""
        return await self._ask(lambda redis: redis.delete(key)) is not None

    async def read(self, key: str) -> int | None:
        """Milliseconds since the breaker at `key` opened (-1: closed), None when Redis failed. Reads
        asked for at once (a health page's accounts, a scrape's) go to Redis together."""
        self._due.add(key)
        if self._reading is None:
            self._reading = asyncio.get_running_loop().create_task(self._read_due())
        seen = await asyncio.shield(self._reading)
        return None if seen is None else seen.get(key)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _read_due(self) -> dict[str, int] | None:
        await asyncio.sleep(0)  # every read asked for in this turn of the loop joins
        due, self._due, self._reading = list(self._due), set(), None
        if not self.usable():
            return None
        seen: dict[str, int] = {}
        for start in range(0, len(due), READ_BATCH):
            keys = due[start : start + READ_BATCH]
            answer = await self._ask(_read_script(keys))
            if answer is None:
                return None
            seen.update(zip(keys, (int(v) for v in answer), strict=True))
        return seen

    async def _ask(self, command: Callable[[Redis], Any]) -> Any | None:
        if self._redis is None:
            # No retries inside the client: a failure's count must not be added twice, nor a trial
            # taken twice, and a silent Redis must not hold a trading call for several timeouts.
            self._redis = Redis.from_url(
                self._url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
            )
        try:
            answer = await command(self._redis)
        except (RedisError, OSError) as exc:
            self._lost(exc)
            return None
        self._back()
        return answer

    def _lost(self, exc: BaseException) -> None:
        now = self._clock()
        self._retry_at = now + self._retry_s
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "circuit breakers: Redis unreachable (%s: %s); each process's own breakers meanwhile, "
                "trying Redis again every %s s",
                type(exc).__name__,
                exc,
                self._retry_s,
            )

    def _back(self) -> None:
        if self._down_since is not None:
            log.warning(
                "circuit breakers: Redis reachable again after %.0f s; breakers shared again",
                self._clock() - self._down_since,
            )
            self._down_since = None


def _read_script(keys: list[str]) -> Callable[[Redis], Any]:
    return lambda redis: redis.eval(_READ, len(keys), *keys)
