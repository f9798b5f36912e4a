"""The executor's risk alerts in its owner's outbox (the in-memory store): the daily loss limit told
once per account and day, the drawdown warning once per peak, the pause once when it takes effect; and
a circuit breaker's opening written in the background, never failing its caller."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.fakes.memory_exchange import FixedClock
from tests.fakes.memory_store import MemoryStore
from tests.fakes.world import World, world
from tradewire.domain.risk_alerts import BreakerOpening
from tradewire.services.breaker_alerts import BreakerAlerts


def _risk_events(w: World) -> list[tuple[int, str, dict[str, Any]]]:
    return [
        (e["user_id"], e["type"], json.loads(e["data"]))
        for e in w.store.tables.events
        if e["topic"] == "risk"
    ]


def _subscription(w: World) -> dict[str, Any]:
    return w.store.tables["subscriptions"][w.seeded.subscription_ids[0]]


async def test_the_daily_loss_limit_is_told_once_per_account_and_day() -> None:
    w = world([{"risk_limits": {"cooldown_s": 0, "daily_loss_quote": "50"}}])
    account_id, user_id = w.seeded.account_ids[0], w.seeded.subscriber_ids[0]
    day = w.clock.now().date().isoformat()
    w.store.tables.account_daily_pnl[(account_id, day)] = Decimal("-60.5")

    for key in ("k1", "k2"):
        w.signal(key=key)
        assert await w.executor().execute_pending() == 0

    assert w.column("execution_intents", "status") == ["rejected", "rejected"]
    [(user, kind, data)] = _risk_events(w)
    assert (user, kind) == (user_id, "daily_loss")
    assert (data["loss"], data["limit"], data["currency"], data["day"]) == ("60.5", "50", "USDT", day)
    assert data["intent_id"] == 1 and data["equity"] == "10000"

    # The next UTC day, a loss over the limit again: told again.
    w.clock.advance(86_400)
    tomorrow = w.clock.now().date().isoformat()
    w.store.tables.account_daily_pnl[(account_id, tomorrow)] = Decimal("-50")
    w.signal(key="k3")
    await w.executor().execute_pending()
    assert [(k, d["day"], d["loss"]) for _, k, d in _risk_events(w)] == [
        ("daily_loss", day, "60.5"),
        ("daily_loss", tomorrow, "50"),
    ]


async def test_a_drawdown_warns_once_per_peak_and_entries_go_on() -> None:
    w = world([{"risk_limits": {"cooldown_s": 0, "drawdown_warn_pct": "10", "drawdown_pause_pct": "25"}}])
    _subscription(w).update(pnl_peak=Decimal(100), pnl_total=Decimal(-1400))

    for key in ("k1", "k2"):
        w.signal(key=key)
        assert await w.executor().execute_pending() == 1  # warned, not refused

    [(_, kind, data)] = _risk_events(w)
    assert kind == "drawdown_warning"
    assert (data["drawdown_pct"], data["lost"], data["peak"], data["warn_pct"]) == (
        "13.04",
        "1500",
        "100",
        "10",
    )
    # A new peak, then a fall past the warning again: a new warning.
    _subscription(w).update(pnl_peak=Decimal(200), pnl_total=Decimal(-1300))
    w.signal(key="k3")
    await w.executor().execute_pending()
    assert [(k, d["peak"]) for _, k, d in _risk_events(w)] == [
        ("drawdown_warning", "100"),
        ("drawdown_warning", "200"),
    ]


async def test_the_pause_is_told_once_when_it_takes_effect() -> None:
    w = world([{"risk_limits": {"cooldown_s": 0, "drawdown_warn_pct": "10", "drawdown_pause_pct": "25"}}])
    _subscription(w).update(pnl_peak=Decimal(100), pnl_total=Decimal(-4900))

    for key in ("k1", "k2"):
        w.signal(key=key)
        assert await w.executor().execute_pending() == 0

    assert _subscription(w)["trading_state"] == "REDUCING"
    [(user, kind, data)] = _risk_events(w)
    assert (user, kind) == (w.seeded.subscriber_ids[0], "paused")
    assert (data["drawdown_pct"], data["pause_pct"], data["lost"], data["trading_state"]) == (
        "33.33",
        "25",
        "5000",
        "REDUCING",
    )
    assert data["reason"] == _subscription(w)["state_reason"]


async def test_a_breaker_opening_is_written_for_the_accounts_owner_in_the_background() -> None:
    w = world()
    alerts = BreakerAlerts(w.store, FixedClock())
    alerts.opened(BreakerOpening(w.seeded.account_ids[0], "binance", 5, 30.0, "network_error"))
    alerts.opened(BreakerOpening(9999, "binance", 5, 30.0, "network_error"))  # an account since deleted
    await alerts.settle()

    [(user, kind, data)] = _risk_events(w)
    assert (user, kind) == (w.seeded.subscriber_ids[0], "breaker_open")
    assert data == {
        "account_id": w.seeded.account_ids[0],
        "exchange": "binance",
        "failures": 5,
        "cooldown_s": 30.0,
        "kind": "network_error",
    }


class _BrokenStore(MemoryStore):
    def breaker_opened(self, opening: BreakerOpening, now: datetime) -> bool:
        raise RuntimeError("database is down")


async def test_a_breaker_opening_that_cannot_be_stored_is_logged_and_fails_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    alerts = BreakerAlerts(_BrokenStore(), FixedClock())
    with caplog.at_level(logging.ERROR, "tradewire.risk"):
        alerts.opened(BreakerOpening(1, "binance", 5, 30.0, "network_error"))  # returns at once
        await alerts.settle()
    assert "the circuit's opening could not be stored" in caplog.text
