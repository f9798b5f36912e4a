"""A live account's circuit breaker in the split deployment (issue #15 item 4): an API runtime and a
worker runtime, built as `tradewire serve`/`tradewire worker` build them, on one PostgreSQL and one
Redis, trade one live account on the local fake Binance through the real ccxt client. The worker's
failures open the account's breaker; the API process then refuses without calling the exchange, its
/metrics show the breaker open without any call of its own, and the owner is told once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from tests.conftest import REDIS_URL
from tests.e2e.test_health_metrics_http import _metric
from tests.fakes.exchange import FakeExchange
from tests.support import add_live_subscriber, flatten_urls, make_runtime, seed_marketplace
from tradewire.adapters.live.ccxt_exchange import CcxtExchange
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.tables import events, exchange_accounts
from tradewire.api.app import create_app
from tradewire.ports import ExchangeUnavailable
from tradewire.runtime import Runtime

pytestmark = pytest.mark.slow


@pytest.fixture
async def processes(
    tmp_path: Path, postgres_engine: Engine, redis_prefix: str
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """An API runtime and a worker runtime of one installation (not started: their live clients are
    driven directly)."""
    url = postgres_engine.url.render_as_string(hide_password=False)
    key = generate_key()
    api, worker = (
        make_runtime(
            tmp_path / role,
            database_url=url,
            role=role,
            bus="redis",
            redis_url=REDIS_URL,
            bus_prefix=redis_prefix,
            encryption_key=key,
            exchange_retry_base_s=0.001,
        )
        for role in ("api", "worker")
    )
    try:
        yield api, worker
    finally:
        for runtime in (api, worker):
            await runtime.stop()


async def _scrape(runtime: Runtime) -> str:
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://tradewire") as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    return answer.text


def _live(runtime: Runtime, account_id: int) -> CcxtExchange:
    client = runtime.exchanges.for_account(account_id, "binance", "live")
    assert isinstance(client, CcxtExchange)
    return client


async def test_the_workers_failures_open_the_breaker_for_the_api_process_too(
    processes: tuple[Runtime, Runtime], postgres_engine: Engine
) -> None:
    api, worker = processes
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "1000"}) as fake:
        seeded = seed_marketplace(postgres_engine, [])
        account_id = add_live_subscriber(
            worker, seeded, "binance", flatten_urls(fake.ccxt_urls()), fake.api_key, fake.api_secret
        )
        placing, reading = _live(worker, account_id), _live(api, account_id)
        await placing.fetch_balance()
        await reading.fetch_balance()  # the API process has seen the breaker closed
        before = await _scrape(api)

        fake.fail_next("GET", "/api/v3/account", status=503, times=100)
        for _ in range(2):  # four tries, then the fifth failure in a row opens it
            with pytest.raises(ExchangeUnavailable):
                await placing.fetch_balance()
        after = await _scrape(api)  # nothing asked by the API process since
        calls = len(fake.request_log)
        with pytest.raises(ExchangeUnavailable, match="circuit open"):
            await reading.fetch_balance()
        not_called = len(fake.request_log) == calls
        for runtime in (api, worker):
            await runtime.breakers.settle()

    assert _metric(before, "tradewire_exchange_circuit_breakers", exchange="binance", state="closed") == 1
    assert _metric(after, "tradewire_exchange_circuit_breakers", exchange="binance", state="open") == 1
    assert not_called
    with postgres_engine.connect() as conn:
        owner = conn.execute(
            select(exchange_accounts.c.user_id).where(exchange_accounts.c.id == account_id)
        ).scalar()
        told = conn.execute(select(events.c.user_id, events.c.type).where(events.c.topic == "risk")).all()
    assert [tuple(row) for row in told] == [(owner, "breaker_open")]
