"""The scrape-time counts of /metrics: one grouped query, every known status reported (0 when no row is
in it), and read at most once per interval however often Prometheus scrapes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine

from tests.support import claimed_buy
from tradewire.adapters.metrics import TradingState


def _scrape(state: TradingState) -> str:
    registry = CollectorRegistry()
    registry.register(state)
    asyncio.run(state.refresh())
    return generate_latest(registry).decode()


def _state(engine: Engine, counts_every_s: float) -> TradingState:
    stats = SimpleNamespace(evaluations=0, exits=0, last_round_at=None)
    return TradingState(engine, dict, lambda: stats, lambda: datetime.now(UTC), counts_every_s=counts_every_s)


def test_counts_come_from_the_database_with_every_status(engine: Engine) -> None:
    claimed_buy(engine)

    text = _scrape(_state(engine, counts_every_s=0))

    assert 'tradewire_orders{state="submitted"} 1.0' in text
    assert 'tradewire_orders{state="filled"} 0.0' in text
    assert (
        'tradewire_intents{status="ordered"} 1.0' in text or 'tradewire_intents{status="created"} 1.0' in text
    )
    assert 'tradewire_signals{status="failed"} 0.0' in text
    assert "tradewire_exit_monitor_lag_seconds" not in text  # no round yet: absent, not 0


def test_the_tables_are_counted_at_most_once_per_interval(engine: Engine) -> None:
    throttled, eager = _state(engine, counts_every_s=3600), _state(engine, counts_every_s=0)
    assert 'tradewire_orders{state="submitted"} 0.0' in _scrape(throttled)
    _scrape(eager)

    claimed_buy(engine)

    assert 'tradewire_orders{state="submitted"} 0.0' in _scrape(throttled)  # the last figures
    assert 'tradewire_orders{state="submitted"} 1.0' in _scrape(eager)
