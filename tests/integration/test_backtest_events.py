"""A backtest's owner hears of it on the `backtests` topic: queued, running, its progress, done or
failed, each in the transaction that changed it (and announced after it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine

from tests.support import Announced, seed_marketplace
from tradewire.adapters.store.backtests import SqlBacktests
from tradewire.adapters.store.events import SqlEvents

NOW = datetime(2026, 1, 5, 12, 0, 0, 250_000, tzinfo=UTC)


def test_a_backtest_s_changes_are_its_owner_s_events(engine: Engine) -> None:
    owner = seed_marketplace(engine, [{}]).subscriber_ids[0]
    announced = Announced()
    store = SqlBacktests(engine, notifier=announced)
    row = {
        "user_id": owner,
        "strategy_name": "ema_cross",
        "params": {},
        "config": {},
        "symbols": ["BTC/USDT"],
    }
    row |= {"timeframe": "5m", "status": "queued", "progress": 0.0, "created_at": NOW, "updated_at": NOW}
    done, failed, left = store.create(row), store.create(row), store.create(row)
    store.claim(done, NOW)
    store.set_progress(done, 0.5, NOW)
    store.finish(done, {"trades": []}, NOW)
    store.claim(failed, NOW)
    store.fail(failed, "no candles", NOW)
    store.claim(left, NOW)  # running when its process stopped
    assert store.queued_ids() == []
    assert store.fail_unfinished("the server restarted", NOW) == 1
    assert store.fail_unfinished("the server restarted", NOW) == 0

    events = SqlEvents(engine).events_after({owner: 0}, 100)
    seen = [(e.id, e.topic, e.type, json.loads(e.data)) for e in events]
    assert [(n, kind, data["backtest_id"]) for n, _, kind, data in seen] == [
        (1, "queued", done),
        (2, "queued", failed),
        (3, "queued", left),
        (4, "running", done),
        (5, "progress", done),
        (6, "done", done),
        (7, "running", failed),
        (8, "failed", failed),
        (9, "running", left),
        (10, "failed", left),
    ]
    assert {topic for _, topic, _, _ in seen} == {"backtests"}
    assert seen[4][3]["progress"] == 0.5 and seen[7][3]["error"] == "no candles"
    assert announced.calls == [{owner: n} for n in range(1, 11)]
