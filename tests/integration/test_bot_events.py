"""A bot's owner hears of it on the `bots` topic: created, stopped, started and retuned, each event in
the transaction that made the change (announced after it), and nothing when the change is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from tests.support import Announced, seed_marketplace, subscription_columns
from tradewire.adapters.store.events import SqlEvents
from tradewire.adapters.store.members import SqlMembers
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import BotRun, NotFound

NOW = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
RULES = {"min_temperature": 60, "confirmation_minutes": 5, "cooldown_minutes": 15}
DEFINITION = {"builtin": "ema_cross", "params": {}, "timeframe": "5m", "symbols": ["BTC/USDT"], "bot": RULES}


def test_a_bot_s_changes_are_its_owner_s_events(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}, {}])
    owner, other = seeded.subscriber_ids
    announced = Announced()
    store = SqlMembers(engine, notifier=announced)
    strategy = {
        "owner_id": owner,
        "slug": "bot-events",
        "name": "my bot",
        "description": "",
        "source": "bot",
        "passphrase_hash": "x",
        "is_public": False,
        "created_at": NOW,
        "definition": {**DEFINITION, "enabled": True},
    }
    subscription = subscription_columns(owner, seeded.account_ids[0], NOW)
    bot_id, _ = store.create_bot(strategy, subscription)
    stopped = {**DEFINITION, "enabled": False}
    store.set_bot_running(owner, bot_id, BotRun(stopped, SubscriptionStatus.PAUSED), NOW)
    store.set_bot_running(
        owner, bot_id, BotRun({**DEFINITION, "enabled": True}, SubscriptionStatus.ACTIVE), NOW
    )
    colder = {**DEFINITION, "enabled": True, "bot": {**RULES, "min_temperature": 20}}
    store.set_bot_running(owner, bot_id, BotRun(colder, SubscriptionStatus.ACTIVE), NOW)
    # Another user's bot id is not theirs to change: refused, and no event for anyone.
    with pytest.raises(NotFound):
        store.set_bot_running(other, bot_id, BotRun(stopped, SubscriptionStatus.PAUSED), NOW)

    seen = [
        (e.id, e.topic, e.type, json.loads(e.data))
        for e in SqlEvents(engine).events_after({owner: 0, other: 0}, 100)
    ]
    # Started or stopped: "changed" (the bot_changed notice); made: "created"; retuned alone: "retuned".
    assert [(n, topic, kind) for n, topic, kind, _ in seen] == [
        (1, "bots", "created"),
        (2, "bots", "changed"),
        (3, "bots", "changed"),
        (4, "bots", "retuned"),
    ]
    assert [(d["bot_id"], d["status"], d["enabled"]) for *_, d in seen] == [
        (bot_id, "ACTIVE", True),
        (bot_id, "PAUSED", False),
        (bot_id, "ACTIVE", True),
        (bot_id, "ACTIVE", True),
    ]
    assert [d["settings"]["min_temperature"] for *_, d in seen] == [60, 60, 60, 20]
    assert seen[0][3]["settings"] == RULES
    assert announced.calls == [{owner: n} for n in (1, 2, 3, 4)]
    assert store.bots(owner, bot_id)[0].status is SubscriptionStatus.ACTIVE
