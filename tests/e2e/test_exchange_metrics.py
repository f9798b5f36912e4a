"""/metrics for live exchanges, through the real ccxt client against the local fake Binance: each call's
time per exchange, failed calls by kind, and each account's circuit breaker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_health_metrics_http import _metric
from tests.e2e.test_live_exchange import Live, _start
from tests.fakes.exchange import FakeExchange
from tradewire.adapters.store.tables import orders
from tradewire.api.app import create_app
from tradewire.ports import ErrorKind, ExchangeUnavailable

pytestmark = pytest.mark.slow


@pytest.fixture
async def live(tmp_path: Path, fake: FakeExchange) -> AsyncIterator[Live]:
    started = await _start(tmp_path, fake, exchange_retry_base_s=0.005)
    yield started
    await started.runtime.stop()


async def _scrape(live: Live) -> str:
    transport = httpx.ASGITransport(app=create_app(live.runtime))  # the runtime is running already
    async with httpx.AsyncClient(transport=transport, base_url="http://tradewire") as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    return answer.text


async def test_live_calls_are_timed_and_failures_counted_per_exchange(live: Live) -> None:
    await live.alert("buy")
    await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"])
    before = await _scrape(live)
    calls = _metric(before, "tradewire_exchange_call_seconds_count", exchange="binance")
    assert calls is not None and calls >= 1  # the create, at least
    assert _metric(before, "tradewire_exchange_circuit_breakers", exchange="binance", state="closed") == 1
    assert _metric(before, "tradewire_exchange_circuit_breakers", exchange="binance", state="open") == 0

    client = live.runtime.exchanges.live_accounts()[live.account_ids[0]]
    live.fake.stop()  # the exchange goes away: every call fails without an answer
    for _ in range(2):
        with pytest.raises(ExchangeUnavailable):
            await client.fetch_balance()
    after = await _scrape(live)

    failed = sum(
        _metric(after, "tradewire_exchange_errors_total", exchange="binance", kind=kind.value) or 0
        for kind in ErrorKind
    )
    assert failed >= 5  # the breaker's threshold: it opened
    assert _metric(after, "tradewire_exchange_circuit_breakers", exchange="binance", state="open") == 1
    assert _metric(after, "tradewire_exchange_circuit_breakers", exchange="binance", state="closed") == 0
    timed = _metric(after, "tradewire_exchange_call_seconds_count", exchange="binance")
    assert timed is not None and timed >= calls + failed  # failed calls are timed too
