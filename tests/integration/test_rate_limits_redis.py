"""Rate limits on a real Redis that goes away mid-way and comes back (a proxy in front of it is
stopped and started): counts move to this process's memory, so limits still apply, the outage is
logged once however many retries fail, and once Redis answers again the counts are shared again."""

from __future__ import annotations

import asyncio
import logging
import secrets

import pytest

from tests.conftest import REDIS_URL, proxied_url
from tests.fakes.tcp import TcpProxy
from tradewire.adapters.rate_limits import RateLimits

LIMITS = {"signin": "3/minute"}
RETRY_S = 0.3


def test_counts_fall_back_to_memory_while_redis_is_away_and_are_shared_again_after(
    redis_proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = redis_proxy
    caplog.set_level(logging.WARNING, "tradewire.rate_limits")
    key = f"address:test-{secrets.token_hex(6)}"  # counted nowhere before

    async def scenario() -> None:
        through = RateLimits(LIMITS, proxied_url(proxy), redis_retry_s=RETRY_S)
        direct = RateLimits(LIMITS, REDIS_URL)  # another process's view of the shared counts

        assert (await through.hit("signin", key)).remaining == 2
        assert (await direct.peek("signin", key)).remaining == 2  # shared

        proxy.stop()  # Redis gone, the open connection cut
        away = [await through.hit("signin", key) for _ in range(3)]
        await asyncio.sleep(RETRY_S + 0.1)
        retried = await through.hit("signin", key)  # tries Redis again: still away

        assert through.redis_down
        assert [d.allowed for d in away] == [True, True, True]  # counted afresh, in memory
        assert not retried.allowed and retried.remaining == 0 and retried.retry_after_s >= 1
        assert (await direct.peek("signin", key)).remaining == 2  # nothing of it reached Redis

        proxy.start()  # back, on the same port
        waiting = await through.hit("signin", key)  # before the retry is due: still in memory
        await asyncio.sleep(RETRY_S + 0.1)
        back = await through.hit("signin", key)

        assert not waiting.allowed
        assert back.allowed and back.remaining == 1 and not through.redis_down
        assert (await direct.peek("signin", key)).remaining == 1  # shared again

    asyncio.run(scenario())

    messages = [r.getMessage() for r in caplog.records if r.name == "tradewire.rate_limits"]
    assert len(messages) == 2, messages  # one outage: lost once (though retried), back once
    assert "Redis unreachable" in messages[0] and "reachable again" in messages[1]


def test_installations_sharing_a_redis_count_apart(redis_prefix: str) -> None:
    key = f"address:test-{secrets.token_hex(6)}"

    async def scenario() -> tuple[list[bool], bool, bool]:
        mine = RateLimits(LIMITS, REDIS_URL, key_prefix=f"{redis_prefix}:limits")
        colleague = RateLimits(LIMITS, REDIS_URL, key_prefix=f"{redis_prefix}:limits")  # same install
        other = RateLimits(LIMITS, REDIS_URL, key_prefix=f"{redis_prefix}-other:limits")
        spent = [(await mine.hit("signin", key)).allowed for _ in range(3)]
        return spent, (await colleague.hit("signin", key)).allowed, (await other.hit("signin", key)).allowed

    spent, colleague, other = asyncio.run(scenario())

    assert spent == [True, True, True]
    assert colleague is False  # the same installation's processes share the count
    assert other is True  # another installation on the same Redis does not
