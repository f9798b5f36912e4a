"""Risk alerts in the SQL store, on SQLite and PostgreSQL: an alert told once is written once (in a
batch, and across decisions), a pause is told only by the decision that made it, and a breaker's
opening is written for the account's owner in a transaction of its own."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select

from tests.support import btc_signal, now, seed_marketplace
from tradewire.adapters.store.events import SqlEvents
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.tables import risk_notices, subscriptions
from tradewire.domain.events import Event, Topic
from tradewire.domain.records import Decisions, Rejection, Routing, WorkItem
from tradewire.domain.risk_alerts import BreakerOpening, Once, RiskAlert


def _work(engine: Engine, signals: int = 2) -> tuple[SqlStore, list[WorkItem]]:
    seeded = seed_marketplace(engine, [{}])
    store = SqlStore(engine)
    for n in range(signals):
        signal_id, _ = store.insert_signal(
            btc_signal(seeded.strategy_id, f"k{n}", details={"ticker": "BTCUSDT"})
        )
        store.create_intents(Routing(signal_id, store.active_targets(seeded.strategy_id)), now())
    return store, store.pending_work()


def _risk(engine: Engine, user_id: int) -> list[tuple[str, dict[str, object]]]:
    found = SqlEvents(engine).events_after({user_id: 0}, 1000)
    return [(e.type, json.loads(e.data)) for e in found if e.topic == "risk"]


def _daily(item: WorkItem, day: str, loss: str) -> RiskAlert:
    event = Event(
        item.user_id, Topic.RISK, "daily_loss", {"account_id": item.account_id, "day": day, "loss": loss}
    )
    return RiskAlert(event, Once("daily_loss", item.account_id, day))


def test_an_alert_told_once_is_written_once(engine: Engine) -> None:
    store, [first, second] = _work(engine)
    user = first.user_id
    always = RiskAlert(Event(user, Topic.RISK, "note", {"n": 1}))

    store.save_decisions(
        Decisions(
            rejections=[Rejection(first, "rejected by risk: daily_loss")],
            alerts=[_daily(first, "2026-12-06", "60"), _daily(first, "2026-12-06", "61"), always],
        ),
        now(),
    )
    store.save_decisions(
        Decisions(
            rejections=[Rejection(second, "rejected by risk: daily_loss")],
            alerts=[_daily(second, "2026-12-06", "62"), _daily(second, "2026-12-07", "70"), always],
        ),
        now(),
    )

    assert _risk(engine, user) == [
        ("note", {"n": 1}),
        ("daily_loss", {"account_id": first.account_id, "day": "2026-12-06", "loss": "60"}),
        ("note", {"n": 1}),
        ("daily_loss", {"account_id": first.account_id, "day": "2026-12-07", "loss": "70"}),
    ]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(risk_notices)).scalar_one() == 2


def test_a_pause_is_told_by_the_decision_that_made_it_only(engine: Engine) -> None:
    store, [first, second] = _work(engine)

    def pausing(item: WorkItem) -> Rejection:
        told = Event(item.user_id, Topic.RISK, "paused", {"subscription_id": item.subscription_id})
        return Rejection(item, "rejected by risk: drawdown", pause_reason="paused: drawdown 30%", paused=told)

    store.save_decisions(Decisions(rejections=[pausing(first)]), now())
    store.save_decisions(Decisions(rejections=[pausing(second)]), now())  # decided before it paused

    assert _risk(engine, first.user_id) == [("paused", {"subscription_id": first.subscription_id})]
    with engine.connect() as conn:
        state = conn.execute(
            select(subscriptions.c.trading_state, subscriptions.c.state_reason).where(
                subscriptions.c.id == first.subscription_id
            )
        ).one()
    assert tuple(state) == ("REDUCING", "paused: drawdown 30%")


def test_a_breaker_opening_is_written_for_the_accounts_owner(engine: Engine) -> None:
    store, [item, _] = _work(engine)

    assert store.breaker_opened(BreakerOpening(item.account_id, "binance", 5, 30.0, "network_error"), now())
    assert not store.breaker_opened(BreakerOpening(item.account_id + 1000, "binance", 5, 30.0, "x"), now())

    assert _risk(engine, item.user_id) == [
        (
            "breaker_open",
            {
                "account_id": item.account_id,
                "exchange": "binance",
                "failures": 5,
                "cooldown_s": 30.0,
                "kind": "network_error",
            },
        )
    ]


def test_a_shared_breakers_opening_reported_by_several_processes_is_told_once(engine: Engine) -> None:
    _, [item, _] = _work(engine)
    processes = [SqlStore(engine) for _ in range(4)]  # each its own store, on one database
    opening = BreakerOpening(item.account_id, "binance", 5, 30.0, "timeout", once="shared:1712000000000")
    later = opening._replace(once="shared:1712000090000")  # opened again after a trial failed and closed

    with ThreadPoolExecutor(4) as pool:
        told = list(pool.map(lambda store: store.breaker_opened(opening, now()), processes))
    told_later = processes[1].breaker_opened(later, now())
    unnamed = [processes[0].breaker_opened(opening._replace(once=None), now()) for _ in range(2)]

    assert sorted(told) == [False, False, False, True]
    assert told_later is True and unnamed == [True, True]  # a breaker of one process: told each time
    assert [kind for kind, _ in _risk(engine, item.user_id)] == ["breaker_open"] * 4
