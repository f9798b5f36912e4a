"""Rate limiter, circuit breaker, ticker cache and ccxt error taxonomy: the live adapter's guards."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from tradewire.adapters.live.ccxt_exchange import order_from_ccxt
from tradewire.adapters.live.errors import is_ambiguous, is_duplicate, kind_of
from tradewire.adapters.live.guards import BreakerState, CircuitBreaker, LocalBreaker, RateLimiter
from tradewire.adapters.live.tickers import TickerCache
from tradewire.domain.orders import OrderState
from tradewire.ports import ErrorKind


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_repeated_failures_and_lets_one_trial_through_after_the_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, cooldown_s=30, clock=clock)

    for _ in range(3):
        assert breaker.allow()
        breaker.failure()
    blocked = breaker.allow()
    clock.now += 30
    trial, second_trial = breaker.allow(), breaker.allow()
    breaker.success()

    assert blocked is False
    assert (trial, second_trial) == (True, False)
    assert breaker.state is BreakerState.CLOSED


def test_a_failed_trial_reopens_the_breaker_for_another_cooldown() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=10, clock=clock)
    breaker.failure()
    clock.now += 10

    assert breaker.allow()
    breaker.failure()

    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_in() == pytest.approx(10)


def test_a_trial_not_heard_of_lets_another_through_so_a_lost_one_never_keeps_the_breaker_open() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=1, cooldown_s=10, clock=clock, trial_s=20)
    breaker.failure()
    clock.now += 10
    lost = breaker.allow()  # its task is cancelled: neither success nor failure is ever reported

    clock.now += 19.9
    still_out = breaker.allow()
    clock.now += 0.1
    another = breaker.allow()
    breaker.success()

    assert (lost, still_out, another) == (True, False, True)
    assert breaker.state is BreakerState.CLOSED


async def test_this_processs_breaker_behind_the_async_interface_is_the_same_breaker() -> None:
    clock = FakeClock()
    breaker = LocalBreaker(CircuitBreaker(threshold=2, cooldown_s=5, clock=clock))

    opened = [await breaker.failure(), await breaker.failure()]
    refused = await breaker.allow()
    await breaker.refresh()  # nothing to learn from anyone

    assert opened == [False, True] and refused is False
    assert breaker.state is BreakerState.OPEN and breaker.retry_in() == 5
    assert (breaker.threshold, breaker.cooldown_s, breaker.opening()) == (2, 5, None)  # told each time


async def test_the_rate_limiter_spaces_requests_at_its_rate() -> None:
    limiter = RateLimiter(rate=50, burst=1)
    loop = asyncio.get_running_loop()

    started = loop.time()
    for _ in range(6):
        await limiter.acquire()
    elapsed = loop.time() - started

    assert elapsed >= 5 / 50 * 0.9  # the first is free, five more at 50 per second


async def test_retry_after_holds_every_caller_back() -> None:
    limiter = RateLimiter(rate=1000, burst=10)
    loop = asyncio.get_running_loop()

    limiter.penalize(0.15)
    started = loop.time()
    await limiter.acquire()

    assert loop.time() - started >= 0.14


@pytest.mark.parametrize(
    ("exc", "kind", "ambiguous"),
    [
        (ccxt.RequestTimeout("timed out"), ErrorKind.NETWORK, True),
        (ccxt.NetworkError("connection reset"), ErrorKind.NETWORK, True),
        (ccxt.ExchangeNotAvailable("503"), ErrorKind.UNAVAILABLE, True),
        (ccxt.OnMaintenance("maintenance"), ErrorKind.UNAVAILABLE, True),
        (ccxt.RateLimitExceeded("429"), ErrorKind.RATE_LIMITED, True),
        (ccxt.DDoSProtection("418"), ErrorKind.RATE_LIMITED, True),
        (ccxt.InsufficientFunds("no money"), ErrorKind.INSUFFICIENT_FUNDS, False),
        (ccxt.InvalidOrder("LOT_SIZE"), ErrorKind.INVALID_ORDER, False),
        (ccxt.AuthenticationError("bad key"), ErrorKind.AUTHENTICATION, False),
        (ccxt.PermissionDenied("no trading"), ErrorKind.AUTHENTICATION, False),
        # Default-deny: an error nobody listed as a refusal leaves the outcome unknown.
        (ccxt.ExchangeError("something"), ErrorKind.UNKNOWN, True),
        (ccxt.OperationFailed('binance {"code":-1001,"msg":"Internal error"}'), ErrorKind.UNKNOWN, True),
    ],
)
def test_ccxt_errors_sort_into_the_taxonomy(exc: Exception, kind: ErrorKind, ambiguous: bool) -> None:
    assert kind_of(exc) is kind
    assert is_ambiguous(exc) is ambiguous


def test_a_duplicate_client_order_id_is_recognised() -> None:
    assert is_duplicate(ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'))
    assert is_duplicate(ccxt.DuplicateOrderId("dup"))
    assert not is_duplicate(ccxt.InvalidOrder("Filter failure: NOTIONAL"))


async def test_one_batch_call_prices_every_symbol_in_use_until_the_ttl_passes() -> None:
    clock = FakeClock()
    cache = TickerCache(ttl_s=10, clock=clock)
    asked: list[list[str]] = []

    async def many(symbols: list[str]) -> dict[str, Any]:
        asked.append(symbols)
        return {s: {"last": {"BTC/USDT": 50000.5, "ETH/USDT": 3000}[s]} for s in symbols}

    async def one(symbol: str) -> dict[str, Any]:
        raise AssertionError("no single call while the batch works")

    await cache.price("BTC/USDT", many, one)
    await cache.price("ETH/USDT", many, one)
    prices = await asyncio.gather(*(cache.price("ETH/USDT", many, one) for _ in range(50)))
    clock.now += 11
    refreshed = await cache.price("BTC/USDT", many, one)

    assert prices == [Decimal(3000)] * 50
    assert asked == [["BTC/USDT"], ["BTC/USDT", "ETH/USDT"], ["BTC/USDT", "ETH/USDT"]]
    assert refreshed == Decimal("50000.5")


async def test_a_failed_batch_falls_back_to_the_one_symbol() -> None:
    cache = TickerCache(ttl_s=10, clock=FakeClock())

    async def many(symbols: list[str]) -> dict[str, Any]:
        raise ccxt.NotSupported("fetchTickers")

    async def one(symbol: str) -> dict[str, Any]:
        return {"last": "1.5"}

    assert await cache.price("XRP/USDT", many, one) == Decimal("1.5")
    assert (cache.batch_calls, cache.single_calls) == (1, 1)


def test_a_ccxt_order_becomes_an_exchange_order_with_exact_numbers() -> None:
    raw = {
        "id": "9780331417",
        "clientOrderId": "tw-0000000042",
        "symbol": "SOL/USDT",
        "type": "limit",
        "side": "buy",
        "status": "open",
        "amount": 0.05,
        "filled": 0.02,
        "average": 241.1,
        "price": 241,
        "fee": {"cost": 0.0048, "currency": "USDT"},
        "trades": [],
    }

    order = order_from_ccxt(raw)

    assert order.state is OrderState.PARTIALLY_FILLED
    assert (order.amount, order.filled, order.average) == (Decimal("0.05"), Decimal("0.02"), Decimal("241.1"))
    assert (order.fee, order.fee_currency) == (Decimal("0.0048"), "USDT")
