"""A strategy's owner hears its subscriber counts on the `provider` topic whenever a subscription to it
starts, pauses, resumes or is cancelled (in that change's transaction), and never whose it is; the
subscriber hears nothing of it, and a change that leaves the status alone tells nobody."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from threading import Barrier, Thread

from sqlalchemy import Engine

from tests.seeding import paper_account
from tests.support import Announced, seed_marketplace, subscription_columns
from tradewire.adapters.store.events import SqlEvents
from tradewire.adapters.store.members import SqlMembers
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import SubscriptionChanges
from tradewire.domain.sizing import SizingMode

NOW = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


def _fan(store: SqlMembers, name: str) -> tuple[int, int]:
    user_id = store.create_user(name, "x", NOW)
    return user_id, store.create_account(paper_account(user_id))


def test_the_owner_hears_subscriber_counts_and_nothing_of_whose(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}])  # one active subscriber already (seeded in bulk: no event)
    owner, strategy = seeded.provider_id, seeded.strategy_id
    announced = Announced()
    store = SqlMembers(engine, notifier=announced)
    fan, account = _fan(store, "fan")
    subscription = store.create_subscription(subscription_columns(fan, account, NOW, strategy_id=strategy))

    def change(**changes: object) -> None:
        store.change_subscription(fan, subscription, SubscriptionChanges(**changes), "fan", NOW)  # type: ignore[arg-type]

    change(status=SubscriptionStatus.PAUSED)
    change(sizing_mode=SizingMode.FIXED_QUOTE, sizing_value=Decimal(50))  # no status change: no event
    change(status=SubscriptionStatus.ACTIVE)
    change(status=SubscriptionStatus.CANCELLED)

    events = SqlEvents(engine).events_after({owner: 0, fan: 0}, 100)
    assert {e.user_id for e in events} == {owner}  # the subscriber hears nothing of the counts
    seen = [(e.id, e.topic, e.type, json.loads(e.data)) for e in events]
    assert [(n, topic, kind) for n, topic, kind, _ in seen] == [
        (n, "provider", "subscribers") for n in (1, 2, 3, 4)
    ]
    assert [d for *_, d in seen] == [
        {"strategy_id": strategy, "active": 2, "subscriptions": 2},
        {"strategy_id": strategy, "active": 1, "subscriptions": 2},
        {"strategy_id": strategy, "active": 2, "subscriptions": 2},
        {"strategy_id": strategy, "active": 1, "subscriptions": 1},
    ]
    assert announced.calls == [{owner: n} for n in (1, 2, 3, 4)]


def test_subscriptions_made_at_once_end_on_the_final_counts(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [])
    store = SqlMembers(engine)
    fans = [_fan(store, f"fan{i}") for i in range(6)]
    start = Barrier(len(fans))
    failures: list[BaseException] = []

    def subscribe(user_id: int, account_id: int) -> None:
        try:
            start.wait()
            store.create_subscription(
                subscription_columns(user_id, account_id, NOW, strategy_id=seeded.strategy_id)
            )
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [Thread(target=subscribe, args=fan) for fan in fans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    counts = [json.loads(e.data) for e in SqlEvents(engine).events_after({seeded.provider_id: 0}, 100)]
    # Counted one after the other: every count from 1 to 6 once, in event order, the last one final.
    assert [c["active"] for c in counts] == [1, 2, 3, 4, 5, 6]
