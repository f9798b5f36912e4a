"""The duplicate window of webhook alerts without a time: exact, sliding, per strategy, on both stores."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, update

from tests.support import PASSPHRASE, make_runtime, seed_marketplace
from tradewire.adapters.passwords import verify_secret
from tradewire.adapters.store.tables import signals, strategies
from tradewire.services.ingest import Ingested, SignalIngest

# A clock that sits exactly on a minute: the old 60 s buckets started there.
T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
ALERT = json.dumps({"passphrase": PASSPHRASE, "ticker": "BTCUSDT", "action": "buy", "contracts": "0.01"})
TIMED = json.dumps(
    {"passphrase": PASSPHRASE, "ticker": "BTCUSDT", "action": "buy", "time": "2024-03-01T11:59:00Z"}
)


class ManualClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _ingest(engine: Engine, tmp_path: Path, clock: ManualClock | TickingClock) -> tuple[SignalIngest, int]:
    seeded = seed_marketplace(engine, [])
    runtime = make_runtime(tmp_path, engine.url.render_as_string(hide_password=False))
    return SignalIngest(
        runtime.store, runtime.exchanges, runtime.bus, clock, verify_secret
    ), seeded.strategy_id


async def _send(ingest: SignalIngest, body: str = ALERT) -> Ingested:
    return await ingest.receive_tradingview("tv-test", body.encode(), "application/json", None)


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(signals)).scalar_one())


async def test_an_identical_alert_is_a_duplicate_for_exactly_the_window_after_the_stored_one(
    engine: Engine, tmp_path: Path
) -> None:
    clock = ManualClock(T0)
    ingest, _ = _ingest(engine, tmp_path, clock)

    first = await _send(ingest)
    clock.at = T0 + timedelta(seconds=30)
    again = await _send(ingest)
    clock.at = T0 + timedelta(seconds=60)
    at_the_edge = await _send(ingest)
    clock.at = T0 + timedelta(seconds=60, milliseconds=1)
    after = await _send(ingest)

    assert not first.duplicate
    assert (again.duplicate, again.signal_id) == (True, first.signal_id)
    assert (at_the_edge.duplicate, at_the_edge.signal_id) == (True, first.signal_id)
    assert not after.duplicate and after.signal_id != first.signal_id
    # The window slides from the newly stored alert, not from a bucket of the clock.
    clock.at = T0 + timedelta(seconds=119)
    assert (await _send(ingest)).signal_id == after.signal_id
    assert _stored(engine) == 2


async def test_duplicates_do_not_stretch_the_window(engine: Engine, tmp_path: Path) -> None:
    clock = ManualClock(T0 + timedelta(seconds=59))
    ingest, _ = _ingest(engine, tmp_path, clock)

    first = await _send(ingest)
    for seconds in (89, 119):  # retries every 30 s: each within 60 s of the previous delivery
        clock.at = T0 + timedelta(seconds=seconds)
        assert (await _send(ingest)).signal_id == first.signal_id
    clock.at = T0 + timedelta(seconds=121)
    assert not (await _send(ingest)).duplicate


async def test_each_strategy_keeps_its_own_window(engine: Engine, tmp_path: Path) -> None:
    clock = ManualClock(T0)
    ingest, strategy_id = _ingest(engine, tmp_path, clock)
    with engine.begin() as conn:
        conn.execute(update(strategies).where(strategies.c.id == strategy_id).values(dedup_window_s=300))

    first = await _send(ingest)
    clock.at = T0 + timedelta(seconds=299)
    assert (await _send(ingest)).signal_id == first.signal_id
    clock.at = T0 + timedelta(seconds=301)
    assert not (await _send(ingest)).duplicate


async def test_an_alert_with_its_own_time_stays_a_duplicate_after_the_window(
    engine: Engine, tmp_path: Path
) -> None:
    clock = ManualClock(T0)
    ingest, _ = _ingest(engine, tmp_path, clock)

    first = await _send(ingest, TIMED)
    clock.at = T0 + timedelta(days=2)
    assert (await _send(ingest, TIMED)).signal_id == first.signal_id
    assert _stored(engine) == 1


class TickingClock:
    """Every reading a microsecond later: concurrent deliveries get distinct arrival times."""

    def __init__(self, at: datetime) -> None:
        self._ticks = itertools.count()
        self._at = at

    def now(self) -> datetime:
        return self._at + timedelta(microseconds=next(self._ticks))


async def test_concurrent_deliveries_of_one_alert_store_one_signal(engine: Engine, tmp_path: Path) -> None:
    ingest, _ = _ingest(engine, tmp_path, TickingClock(T0))

    results = await asyncio.gather(*(_send(ingest) for _ in range(12)))

    assert len({r.signal_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert _stored(engine) == 1
