"""Live accounts' circuit breakers shared through the local Redis, as split processes hold them (each
"process" here is its own SharedBreakers, with its own connections): failures are counted together,
the one that opens the breaker is told so in one process only, every process refuses until the
cooldown is over, then one trial goes out across all of them. Without Redis each process keeps a
breaker of its own, never unlimited calls and never stuck open, and shares again once Redis is back.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest
import redis

from tests.conftest import REDIS_URL, free_port, proxied_url
from tests.fakes.exchange import FakeExchange
from tests.fakes.tcp import TcpProxy
from tests.support import flatten_urls
from tradewire.adapters.live.ccxt_exchange import CcxtExchange, LiveAccount, RetryPolicy
from tradewire.adapters.live.guards import BreakerState
from tradewire.adapters.live.shared_breakers import READ_BATCH, SharedBreakers
from tradewire.adapters.live.shared_limits import SharedLimits
from tradewire.domain.risk_alerts import BreakerOpening
from tradewire.ports import ExchangeUnavailable

COOLDOWN_S = 0.3
THRESHOLD = 3


def _processes(prefix: str, url: str = REDIS_URL, **more: Any) -> tuple[SharedBreakers, SharedBreakers]:
    """Two processes' breakers on one Redis: an API process and a worker."""
    api, worker = (SharedBreakers(url, prefix, THRESHOLD, COOLDOWN_S, **more) for _ in range(2))
    return api, worker


async def _close(*boards: SharedBreakers) -> None:
    for board in boards:
        await board.close()


async def test_failures_of_two_processes_open_the_breaker_once_and_both_refuse(redis_prefix: str) -> None:
    api, worker = _processes(redis_prefix)
    try:
        mine, theirs, other_account = worker.breaker(7), api.breaker(7), api.breaker(8)

        opened = [await mine.failure(), await theirs.failure(), await mine.failure()]
        refused = [await theirs.allow(), await mine.allow()]
        free = await other_account.allow()

        assert opened == [False, False, True]  # three in a row, whichever process made them
        assert refused == [False, False] and free is True
        assert theirs.state is BreakerState.OPEN and 0 < theirs.retry_in() <= COOLDOWN_S
        assert (mine.opening() or "").startswith("shared:") and theirs.opening() is None
    finally:
        await _close(api, worker)


async def test_among_many_failures_at_once_one_process_is_told_it_opened_the_breaker(
    redis_prefix: str,
) -> None:
    api, worker = _processes(redis_prefix)
    try:
        breakers = [api.breaker(7), worker.breaker(7)] * 10

        opened = await asyncio.gather(*(b.failure() for b in breakers))

        assert sorted(opened) == [False] * 19 + [True]
    finally:
        await _close(api, worker)


async def test_after_the_cooldown_one_trial_goes_out_across_processes(redis_prefix: str) -> None:
    api, worker = _processes(redis_prefix)
    try:
        breakers = [api.breaker(7), worker.breaker(7)]
        for _ in range(THRESHOLD):
            await breakers[1].failure()
        before = await breakers[0].allow()
        await asyncio.sleep(COOLDOWN_S)

        trials = await asyncio.gather(*(b.allow() for b in breakers * 10))
        tried = breakers[trials.index(True) % 2]
        reopened = await tried.failure()  # the trial failed: another cooldown, not news
        during = [await b.allow() for b in breakers]
        await asyncio.sleep(COOLDOWN_S)
        second = await asyncio.gather(*(b.allow() for b in breakers * 10))
        await breakers[second.index(True) % 2].success()  # the exchange answers again
        after = [await b.allow() for b in breakers]
        counted_afresh = [await breakers[0].failure() for _ in range(THRESHOLD - 1)]

        assert before is False
        assert sorted(trials) == [False] * 19 + [True]
        assert reopened is False and during == [False, False]
        assert sorted(second) == [False] * 19 + [True]
        assert after == [True, True] and counted_afresh == [False, False]
        assert [b.state for b in breakers] == [BreakerState.CLOSED] * 2
    finally:
        await _close(api, worker)


async def test_a_success_in_any_process_ends_the_failures_in_a_row(redis_prefix: str) -> None:
    api, worker = _processes(redis_prefix)
    try:
        theirs, mine = api.breaker(7), worker.breaker(7)

        opened = [await mine.failure() for _ in range(THRESHOLD - 1)]
        await theirs.success()
        opened += [await mine.failure() for _ in range(THRESHOLD - 1)]

        assert opened == [False] * (2 * THRESHOLD - 2)
        assert await theirs.allow() and await mine.allow()
    finally:
        await _close(api, worker)


async def test_a_trial_whose_process_died_lets_another_go_after_its_lease(redis_prefix: str) -> None:
    api, worker = _processes(redis_prefix, trial_s=0.4)
    try:
        theirs, mine = api.breaker(7), worker.breaker(7)
        for _ in range(THRESHOLD):
            await mine.failure()
        await asyncio.sleep(COOLDOWN_S)

        lost = await mine.allow()  # the worker dies here: the trial is never reported
        await _close(worker)
        waiting = await theirs.allow()
        await asyncio.sleep(0.4)
        taken_over = await theirs.allow()

        assert (lost, waiting, taken_over) == (True, False, True)
    finally:
        await _close(api, worker)


async def test_each_process_shows_the_state_another_gave_the_breaker(redis_prefix: str) -> None:
    api, worker = _processes(redis_prefix)
    try:
        shown = [api.breaker(n) for n in range(READ_BATCH + 1)]  # more than one read's worth
        opened_elsewhere = worker.breaker(READ_BATCH)
        for _ in range(THRESHOLD):
            await opened_elsewhere.failure()

        before = shown[-1].state
        await asyncio.gather(*(b.refresh() for b in shown))
        states = {b.state for b in shown[:-1]}, shown[-1].state, shown[-1].retry_in()
        await opened_elsewhere.success()
        await shown[-1].refresh()

        assert before is BreakerState.CLOSED  # nothing asked yet
        assert states[0] == {BreakerState.CLOSED} and states[1] is BreakerState.OPEN and states[2] > 0
        assert shown[-1].state is BreakerState.CLOSED
    finally:
        await _close(api, worker)


async def test_without_redis_each_process_keeps_a_breaker_of_its_own() -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    api, worker = _processes("nowhere", nowhere, wall=lambda: 1_000_000.0)
    try:
        mine, theirs = worker.breaker(7), api.breaker(7)

        trading = await mine.allow()  # Redis away: not blocked
        opened = [await mine.failure() for _ in range(THRESHOLD)]
        refused = await mine.allow()  # never unlimited calls to an exchange that fails
        also_opened = [await theirs.failure() for _ in range(THRESHOLD)][-1]
        await asyncio.sleep(COOLDOWN_S)
        trial = await mine.allow()
        await mine.success()

        assert trading is True and opened == [False, False, True] and refused is False
        assert also_opened is True and trial is True and await mine.allow()
        # Each process opened its own: one opening for the owner (the store claims the name once).
        assert mine.opening() == theirs.opening() == f"own:{1_000_000_000 // 300}"
        assert worker.down and mine.state is BreakerState.CLOSED
    finally:
        await _close(api, worker)


async def test_redis_away_then_back_falls_back_and_shares_again(
    redis_proxy: TcpProxy, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tradewire.exchange.breakers")
    retry_s, cooldown_s = 0.1, 1.0  # Redis is back well before the breaker opened meanwhile may try
    through = SharedBreakers(proxied_url(redis_proxy), redis_prefix, THRESHOLD, cooldown_s, retry_s=retry_s)
    direct = SharedBreakers(REDIS_URL, redis_prefix, THRESHOLD, cooldown_s)  # another process
    key = f"{redis_prefix}:limits:account:7:breaker"
    peek = redis.Redis.from_url(REDIS_URL)
    try:
        mine, other_account, theirs = through.breaker(7), through.breaker(8), direct.breaker(7)
        assert await mine.allow()
        await mine.failure()
        shared_before = peek.hget(key, "failures")

        redis_proxy.stop()  # Redis gone, the open connections cut
        away = [await mine.failure() for _ in range(THRESHOLD)]  # counted afresh, here
        others = [await other_account.allow(), await other_account.failure()]
        refused = await mine.allow()
        unaffected = await theirs.allow()  # nothing of it reached Redis

        redis_proxy.start()  # back, on the same port
        await asyncio.sleep(retry_s + 0.05)
        still_refused = await mine.allow()  # its own opening holds until its trial succeeds
        await asyncio.sleep(cooldown_s)
        trial = await mine.allow()
        await mine.success()  # closes its own breaker, and the shared one: Redis is back
        gone = peek.exists(key)
        for _ in range(THRESHOLD):
            await theirs.failure()  # the other process opens the shared breaker
        shared_again = await mine.allow()

        assert shared_before == b"1"
        assert away == [False, False, True] and refused is False
        assert others == [True, False] and unaffected is True
        assert still_refused is False and trial is True and gone == 0
        assert shared_again is False and not through.down
    finally:
        peek.close()
        await _close(through, direct)
    messages = [r.getMessage() for r in caplog.records if r.name == "tradewire.exchange.breakers"]
    assert len(messages) == 2, messages  # one outage over two accounts: lost once, back once
    assert "Redis unreachable" in messages[0] and "reachable again" in messages[1]


async def test_an_account_that_fails_in_the_worker_is_not_called_by_the_api_process(
    redis_prefix: str,
) -> None:
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "1000"}) as fake:
        account = LiveAccount(
            account_id=7,
            exchange="binance",
            api_key=fake.api_key,
            secret=fake.api_secret,
            api_urls=flatten_urls(fake.ccxt_urls()),
            private_urls_allowed=True,
        )
        limits = [SharedLimits(REDIS_URL, redis_prefix) for _ in range(2)]
        told: list[BreakerOpening] = []
        worker, api = (
            CcxtExchange(
                account,
                retry=RetryPolicy(base_s=0.001),
                budgets=shared.limiter,
                breakers=shared.breaker,
                on_breaker_open=told.append,
            )
            for shared in limits
        )
        try:
            balances = [await worker.fetch_balance(), await api.fetch_balance()]  # markets loaded too
            fake.fail_next("GET", "/api/v3/account", status=503, times=100)
            for _ in range(2):  # four tries, then the fifth failure in a row opens the breaker
                with pytest.raises(ExchangeUnavailable):
                    await worker.fetch_balance()
            calls_before = len(fake.request_log)
            with pytest.raises(ExchangeUnavailable, match="circuit open"):
                await api.fetch_balance()
            calls_after = len(fake.request_log)
            await api.refresh_health()

            assert [b["USDT"] for b in balances] == [Decimal(1000)] * 2
            assert calls_after == calls_before  # the API process did not call the failing exchange
            assert [(o.account_id, o.failures) for o in told] == [(7, 5)]  # one opening, told once
            assert (told[0].once or "").startswith("shared:")
            assert api.health().circuit == "open" and api.health().retry_in_s > 0
        finally:
            await worker.close()
            await api.close()
            for shared in limits:
                await shared.close()
