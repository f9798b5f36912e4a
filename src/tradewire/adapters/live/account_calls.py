"""How every request of one live exchange account is made, and what its failure means.

A call passes the account's circuit breaker and spends a request of its budget (a public call, of the
exchange's), runs within the process's cap on requests in flight and is timed (for /metrics and the
health page). A failure is sorted as `errors` says: the exchange's definitive refusal raises
ExchangeError (it answered: it is up); anything else is an unclear outcome, which the breaker hears
about (unless the exchange answered) and whose Retry-After, if it sent one, pauses the budget. Reads
and cancels are retried with backoff and jitter on everything but a definitive answer; what an unclear
create means for the order is the adapter's to settle (`ccxt_exchange`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from tradewire.adapters.live.errors import answered, is_not_found, is_refusal, kind_of, one_line
from tradewire.adapters.live.guards import Breaker, Budget, RateLimiter
from tradewire.adapters.metrics import ExchangeMeter
from tradewire.domain.health import ExchangeHealth
from tradewire.domain.risk_alerts import BreakerOpening
from tradewire.ports import ErrorKind, ExchangeError, ExchangeUnavailable

log = logging.getLogger("tradewire.live")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_s: float = 0.2
    cap_s: float = 5.0
    lookup_attempts: int = 3  # lookups of an order after an unclear create


@dataclass(eq=False)
class AccountCalls:
    """One live account's requests: its breaker, its budget, and what the last call and failure were."""

    account_id: int
    exchange: str
    client: Any = field(repr=False)  # the account's ccxt client (its last answer's Retry-After)
    retry: RetryPolicy
    breaker: Breaker
    limiter: Budget
    in_flight: asyncio.Semaphore  # requests open at once over every live account of the process
    meter: ExchangeMeter  # call time and errors, per exchange (/metrics)
    # Tells the account's owner the breaker opened; never raises, never waits.
    on_breaker_open: Callable[[BreakerOpening], None] | None = None
    # What the health page shows: the last call's time and when, the last failure's kind and when.
    _last_ms: float | None = field(default=None, init=False)
    _last_at: float | None = field(default=None, init=False)
    _error: str | None = field(default=None, init=False)
    _error_at: float | None = field(default=None, init=False)

    def health(self) -> ExchangeHealth:
        """The account's circuit, last latency, last failure (its kind) and rate-limit headroom."""
        return ExchangeHealth(
            account_id=self.account_id,
            exchange=self.exchange,
            circuit=self.breaker.state.value,
            retry_in_s=round(self.breaker.retry_in(), 1),
            last_latency_ms=None if self._last_ms is None else round(self._last_ms, 1),
            last_call_at=_at(self._last_at),
            last_error=self._error,
            last_error_at=_at(self._error_at),
            rate_per_s=round(self.limiter.rate, 3),
            headroom_pct=self.limiter.headroom_pct(),
            blocked_s=round(self.limiter.blocked_s(), 1),
        )

    async def admit_order(self) -> None:
        """Before an order goes out: ExchangeUnavailable while the circuit is open (the order is not
        sent), else a request of the account's budget is spent."""
        if not await self.breaker.allow():
            raise ExchangeUnavailable(
                f"{self.exchange} circuit open after repeated failures; retry in "
                f"{self.breaker.retry_in():.0f}s (the order was not sent)"
            )
        await self.limiter.acquire()

    async def once(self, call: Callable[[], Awaitable[T]]) -> T:
        """One attempt of `call`, in flight and timed: its result (the breaker hears of the success),
        or its exception as raised, for the caller to sort."""
        started = time.perf_counter()
        try:
            async with self.in_flight, self.meter.timed():
                result = await call()
        except Exception:
            self._timed(started)
            raise
        self._timed(started)
        await self.breaker.success()
        return result

    async def read(self, call: Callable[[], Awaitable[T]], limiter: RateLimiter | None = None) -> T:
        """A read or cancel: retried with exponential backoff and jitter on every failure that is not a
        definitive answer; ExchangeError means the exchange answered (refused, or no such order),
        ExchangeUnavailable that it could not be asked or never gave an answer to rely on."""
        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            if not await self.breaker.allow():
                raise ExchangeUnavailable(
                    f"{ErrorKind.UNAVAILABLE.value}: {self.exchange} circuit open after "
                    f"repeated failures; retry in {self.breaker.retry_in():.0f}s"
                )
            await (limiter or self.limiter).acquire()
            try:
                return await self.once(call)
            except Exception as exc:
                if is_not_found(exc):  # a definitive answer about the order (a cancel of an unknown id)
                    await self.breaker.success()
                    raise ExchangeError(f"order not found: {one_line(exc)}", ErrorKind.INVALID_ORDER) from exc
                await self.refused_or_unclear(exc)
                # Anything else is not an answer to rely on: asked again, then reported unavailable.
                last = exc
                await asyncio.sleep(backoff(attempt, self.retry))
        assert last is not None
        raise ExchangeUnavailable(f"{kind_of(last).value}: {one_line(last)}", kind_of(last)) from last

    async def refused_or_unclear(self, exc: Exception) -> None:
        """Raise ExchangeError when `exc` is the exchange's refusal (it answered: it is up). Otherwise
        the outcome is unclear: the breaker hears whether the exchange answered at all, and a
        Retry-After it sent is kept."""
        self.meter.error(kind_of(exc).value)
        self._error, self._error_at = kind_of(exc).value, time.time()
        if is_refusal(exc):
            await self.breaker.success()
            raise ExchangeError(f"{kind_of(exc).value}: {one_line(exc)}", kind_of(exc)) from exc
        if answered(exc):
            await self.breaker.success()
        elif await self.breaker.failure():
            self._breaker_opened(kind_of(exc).value)
        self._note_retry_after()

    def _breaker_opened(self, kind: str) -> None:
        """Log the breaker's opening and hand it to `on_breaker_open` (which schedules, never waits);
        whatever that does, the call that failed goes on as it would have."""
        breaker = self.breaker
        log.warning(
            "%s account %s: circuit open after %d failed calls (%s); none for %.0f s",
            self.exchange,
            self.account_id,
            breaker.threshold,
            kind,
            breaker.cooldown_s,
        )
        if self.on_breaker_open is None:
            return
        opening = BreakerOpening(
            self.account_id,
            self.exchange,
            breaker.threshold,
            breaker.cooldown_s,
            kind,
            once=breaker.opening(),  # a shared breaker's opening is told once, whoever reports it
        )
        try:
            self.on_breaker_open(opening)
        except Exception:
            log.exception("account %s: the circuit's opening could not be told", self.account_id)

    def _note_retry_after(self) -> None:
        headers = getattr(self.client, "last_response_headers", None) or {}
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        try:
            seconds = float(value) if value is not None else 0.0
        except ValueError:
            seconds = 0.0
        if seconds > 0:
            self.limiter.penalize(seconds)

    def _timed(self, started: float) -> None:
        self._last_ms = (time.perf_counter() - started) * 1000
        self._last_at = time.time()


def backoff(attempt: int, policy: RetryPolicy) -> float:
    delay = min(policy.cap_s, policy.base_s * 2.0**attempt)
    jitter: float = random.uniform(0, delay / 2)  # noqa: S311 (jitter, not security)
    return delay / 2 + jitter


def _at(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)
