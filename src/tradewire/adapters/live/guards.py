"""Rate limiting and circuit breaking, per exchange account (in this process; shared_limits and
shared_breakers keep them in Redis for split processes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol


class Budget(Protocol):
    """An account's request budget: this process's RateLimiter, or one shared through Redis
    (shared_limits.SharedRateLimiter)."""

    @property
    def rate(self) -> float: ...
    async def acquire(self) -> None: ...
    def penalize(self, seconds: float) -> None: ...
    def headroom_pct(self) -> float: ...
    def blocked_s(self) -> float: ...


# Makes an account's budget from its id, rate per second and burst.
BudgetFactory = Callable[[int, float, float], Budget]


class RateLimiter:
    """Token bucket shared by every subscription that trades through one account.

    `rate` tokens per second, bursts up to `burst`; `acquire` waits for a token (FIFO), `penalize`
    stops everyone until a Retry-After has passed.
    """

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._clock = clock
        self._updated = clock()
        self._blocked_until = 0.0
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._blocked_until:
                    await asyncio.sleep(self._blocked_until - now)
                    continue
                self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
                self._updated = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self._rate)

    @property
    def rate(self) -> float:
        return self._rate

    def headroom_pct(self) -> float:
        """The share of the burst that could go out now (100: idle), read without spending any."""
        now = self._clock()
        tokens = min(self._burst, self._tokens + max(0.0, now - self._updated) * self._rate)
        return round(100 * tokens / self._burst, 1)

    def blocked_s(self) -> float:
        """How long every request is still held back by a Retry-After."""
        return max(0.0, self._blocked_until - self._clock())

    def penalize(self, seconds: float) -> None:
        """Hold every request back for `seconds` (the exchange said Retry-After)."""
        self._blocked_until = max(self._blocked_until, self._clock() + seconds)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


TRIAL_S = 60.0  # a trial call not heard of for this long is taken as lost (its task cancelled, its
# process gone): another trial may go out, so a lost one never keeps an account's breaker open


class OpenedBreaker:
    """What both breakers read the same way: their limits, and their state from when they opened."""

    def __init__(self, threshold: int, cooldown_s: float, clock: Callable[[], float]) -> None:
        self._threshold = threshold
        self._cooldown = cooldown_s
        self._clock = clock
        self._opened_at: float | None = None

    @property
    def threshold(self) -> int:
        return self._threshold

    @property
    def cooldown_s(self) -> float:
        return self._cooldown

    def _opened_state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def _opened_retry_in(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._cooldown - (self._clock() - self._opened_at))


class CircuitBreaker(OpenedBreaker):
    """Opens after `threshold` failures in a row; after `cooldown_s` lets one trial call through (and
    another when the first is not heard of within `trial_s`)."""

    def __init__(
        self,
        threshold: int = 5,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        trial_s: float = TRIAL_S,
    ) -> None:
        super().__init__(threshold, cooldown_s, clock)
        self._trial = trial_s
        self._failures = 0
        self._trial_until: float | None = None  # a trial call is out until then

    @property
    def state(self) -> BreakerState:
        return self._opened_state()

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one trial at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        now = self._clock()
        if state is BreakerState.HALF_OPEN and (self._trial_until is None or now >= self._trial_until):
            self._trial_until = now + self._trial
            return True
        return False

    def retry_in(self) -> float:
        return self._opened_retry_in()

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_until = None

    def failure(self) -> bool:
        """Count a failed call; True when it opened the breaker (closed → open: a failed trial
        re-opens an open one, which is not news)."""
        self._trial_until = None
        self._failures += 1
        closed = self._opened_at is None
        if self._failures >= self._threshold or not closed:
            self._opened_at = self._clock()
            return closed
        return False


class Breaker(Protocol):
    """An account's circuit breaker as the live adapter asks it: this process's (LocalBreaker), or
    one shared with every process through Redis (shared_breakers.SharedCircuitBreaker)."""

    @property
    def state(self) -> BreakerState:
        """As last known (read without asking anyone)."""
        ...

    @property
    def threshold(self) -> int: ...
    @property
    def cooldown_s(self) -> float: ...
    def retry_in(self) -> float: ...
    async def allow(self) -> bool: ...
    async def success(self) -> None: ...
    async def failure(self) -> bool: ...

    def opening(self) -> str | None:
        """What names the latest opening for every process, so that it is told once however many
        saw it (None: this process's breaker alone, each opening told)."""
        ...

    async def refresh(self) -> None:
        """Learn the state other processes gave the breaker (before `state` is shown)."""
        ...


# Makes an account's breaker from its id.
BreakerFactory = Callable[[int], Breaker]


class LocalBreaker:
    """This process's CircuitBreaker behind the Breaker interface (the all-in-one server's)."""

    def __init__(self, breaker: CircuitBreaker | None = None) -> None:
        self._breaker = breaker or CircuitBreaker()

    @property
    def state(self) -> BreakerState:
        return self._breaker.state

    @property
    def threshold(self) -> int:
        return self._breaker.threshold

    @property
    def cooldown_s(self) -> float:
        return self._breaker.cooldown_s

    def retry_in(self) -> float:
        return self._breaker.retry_in()

    async def allow(self) -> bool:
        return self._breaker.allow()

    async def success(self) -> None:
        self._breaker.success()

    async def failure(self) -> bool:
        return self._breaker.failure()

    def opening(self) -> str | None:
        return None

    async def refresh(self) -> None:
        return None
