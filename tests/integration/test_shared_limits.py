"""Live accounts' request budgets shared through the local Redis: two processes' limiters on one
account spend one budget, a Retry-After blocks both, and without Redis each keeps its own budget."""

from __future__ import annotations

import asyncio
import time

from tests.conftest import REDIS_URL, free_port
from tradewire.adapters.live.shared_limits import SharedLimits

RATE = 10.0  # requests per second


async def _spend(limiters: list[object], each: int) -> float:
    """Seconds for every limiter to take `each` tokens, all at once."""

    async def take(limiter: object) -> None:
        for _ in range(each):
            await limiter.acquire()  # type: ignore[attr-defined]

    started = time.monotonic()
    await asyncio.gather(*(take(limiter) for limiter in limiters))
    return time.monotonic() - started


async def test_two_processes_limiters_of_one_account_spend_one_budget(redis_prefix: str) -> None:
    api, worker = SharedLimits(REDIS_URL, redis_prefix), SharedLimits(REDIS_URL, redis_prefix)
    try:
        mine = [api.limiter(7, RATE, 1.0), worker.limiter(7, RATE, 1.0)]
        other_account = worker.limiter(8, RATE, 1.0)

        together = await _spend(mine, 6)  # 12 requests at 10/s, burst 1: at least 1.1 s
        alone = await _spend([other_account], 1)  # another account's budget is untouched

        assert together >= 1.0, together
        assert alone < 0.5, alone
        assert 0 <= mine[0].headroom_pct() <= 100
    finally:
        await api.close()
        await worker.close()


async def test_a_retry_after_in_one_process_holds_back_the_others(redis_prefix: str) -> None:
    api, worker = SharedLimits(REDIS_URL, redis_prefix), SharedLimits(REDIS_URL, redis_prefix)
    try:
        told = api.limiter(7, 1000.0, 5.0)
        other = worker.limiter(7, 1000.0, 5.0)
        told.penalize(1.0)
        await asyncio.sleep(0.1)  # the block is shared in the background

        waited = await _spend([other], 1)

        assert waited >= 0.7, waited
        assert other.blocked_s() == 0 or other.blocked_s() < 1.0
    finally:
        await api.close()
        await worker.close()


async def test_without_redis_each_process_keeps_the_accounts_budget_itself() -> None:
    unreachable = SharedLimits(f"redis://127.0.0.1:{free_port()}/0", "nowhere")
    try:
        limiter = unreachable.limiter(7, RATE, 1.0)

        spent = await _spend([limiter], 6)  # still limited: 6 at 10/s, burst 1

        assert spent >= 0.45, spent
    finally:
        await unreachable.close()
