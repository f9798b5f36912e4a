"""A served runtime on PostgreSQL with TRADEWIRE_BUS=redis: a webhook reaches the pipeline through Redis
Streams and fills every paper subscriber exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import Engine, func, select

from tests.conftest import REDIS_URL, free_port
from tests.support import ServedRuntime, make_runtime, pin_prices, seed_marketplace, send_alert
from tradewire.adapters.redis_bus import RedisStreamsBus
from tradewire.adapters.store.tables import orders, signals

SUBSCRIBERS = 5


@pytest.mark.postgres
def test_a_webhook_fills_every_subscriber_once_through_redis(
    tmp_path: Path, postgres_engine: Engine, redis_prefix: str
) -> None:
    runtime = make_runtime(
        tmp_path,
        database_url=postgres_engine.url.render_as_string(hide_password=False),
        bus="redis",
        redis_url=REDIS_URL,
        bus_prefix=redis_prefix,
        reconcile_interval_s=3600,  # no sweep meanwhile: only the bus can bring the signal in
    )
    assert isinstance(runtime.bus, RedisStreamsBus)
    pin_prices(runtime, {"BTC/USDT": "60000"})
    seed_marketplace(runtime.engine, [{}] * SUBSCRIBERS)
    with ServedRuntime(runtime, free_port()) as served:
        send_alert(served.url, "buy", 1)
        served.settle()
        assert runtime.bus.problem() is None
        with runtime.engine.connect() as conn:
            per_account = conn.execute(
                select(orders.c.account_id, func.count(), func.min(orders.c.state)).group_by(
                    orders.c.account_id
                )
            ).all()
            signal_count = conn.execute(select(func.count()).select_from(signals)).scalar_one()

    assert signal_count == 1
    assert len(per_account) == SUBSCRIBERS
    assert all(count == 1 and state == "filled" for _account, count, state in per_account), per_account
    client = Redis.from_url(REDIS_URL)
    try:
        groups = client.xinfo_groups(f"{redis_prefix}:signal.received")
        assert [(g["name"], g["pending"]) for g in groups] == [
            (b"tradewire.services.pipeline.Pipeline._on_signal", 0)
        ]
        assert client.xlen(f"{redis_prefix}:dead") == 0
    finally:
        client.close()
