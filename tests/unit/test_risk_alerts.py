"""Risk alerts as the domain makes them (domain/risk_alerts.py) and as a chat reads them
(domain/telegram.py): which assessments make which alerts, what makes an alert a repeat, the events'
exact numbers, and their texts."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from tests.unit.test_risk import risk_context
from tradewire.adapters.live.guards import CircuitBreaker
from tradewire.domain.events import Topic
from tradewire.domain.execution import Sizing, SizingMode
from tradewire.domain.notices import NOTICES, Notice, notice_from_data, notice_of, notice_text
from tradewire.domain.records import WorkItem
from tradewire.domain.risk import RiskContext, RiskLimits, TradingState, assess_entry, drawdown_pct
from tradewire.domain.risk_alerts import (
    BreakerOpening,
    Once,
    breaker_alert,
    breaker_opened,
    entry_alerts,
    paused,
)
from tradewire.domain.signals import SignalAction

DAY = "2026-12-06"


def _item(limits: RiskLimits, **values: Any) -> WorkItem:
    base: dict[str, Any] = {
        "intent_id": 31,
        "signal_id": 7,
        "subscription_id": 5,
        "account_id": 3,
        "user_id": 9,
        "mode": "paper",
        "exchange": "paper",
        "symbol": "BTC/USDT",
        "action": SignalAction.BUY,
        "contracts": None,
        "signal_price": None,
        "market_position": None,
        "exit_ratio": (D(0), D(0)),
        "sizing": Sizing(SizingMode.FIXED_QUOTE, D(100)),
        "risk": limits,
    }
    return WorkItem(**{**base, **values})


def _alerts(limits: RiskLimits, context: RiskContext, **item: Any) -> list[Any]:
    return entry_alerts(_item(limits, **item), context, assess_entry(limits, context), "USDT", DAY)


def test_an_entry_refused_by_the_daily_loss_rule_tells_the_limit_once_per_account_and_day() -> None:
    limits = RiskLimits(daily_loss_pct=D(5), daily_loss_quote=D("120.5"))
    [alert] = _alerts(limits, risk_context(realized_today=D("-130.25")))

    assert alert.once == Once("daily_loss", 3, DAY)
    assert alert.event.user_id == 9 and alert.event.topic is Topic.RISK and alert.event.type == "daily_loss"
    assert alert.event.data == {
        "account_id": 3,
        "subscription_id": 5,
        "intent_id": 31,
        "day": DAY,
        "loss": "130.25",
        "limit": "120.5",  # the smaller of 5 % of 10,000 and 120.5
        "equity": "10000",
        "daily_loss_pct": "5",
        "daily_loss_quote": "120.5",
        "currency": "USDT",
    }
    text = notice_text(Notice.DAILY_LOSS, alert.event.data)
    assert text == (
        "🚨 Daily loss limit reached on account #3: lost 130.25 USDT on 2026-12-06 (UTC), limit 120.5 USDT "
        "(the smaller of 5% of equity 10000 USDT and 120.5 USDT). No new entries until 00:00 UTC "
        "(subscription #5, intent #31)"
    )


def test_a_loss_below_the_limit_or_a_refusal_by_another_rule_tells_nothing() -> None:
    limits = RiskLimits(daily_loss_pct=D(5))
    assert _alerts(limits, risk_context(realized_today=D("-499.99"))) == []
    assert _alerts(limits, risk_context(open_positions_account=50, realized_today=D(-1))) == []
    [alert] = _alerts(limits, risk_context(realized_today=D(-500)))  # the limit itself refuses
    assert notice_text(Notice.DAILY_LOSS, alert.event.data).startswith(
        "🚨 Daily loss limit reached on account #3: lost 500 USDT on 2026-12-06 (UTC), limit 500 USDT "
        "(5% of equity 10000 USDT)."
    )


def test_a_drawdown_past_its_warning_level_warns_once_per_peak_and_not_at_the_pause() -> None:
    limits = RiskLimits(drawdown_warn_pct=D(10), drawdown_pause_pct=D(25))
    peak, total, equity = D(100), D(-1400), D(10_000)
    drawdown = drawdown_pct(peak, total, equity)
    assert drawdown is not None
    [alert] = _alerts(limits, risk_context(drawdown_pct=drawdown), pnl_peak=peak, pnl_total=total)

    assert alert.once == Once("drawdown_warning", 5, "100")
    assert alert.event.type == "drawdown_warning"
    assert alert.event.data == {
        "subscription_id": 5,
        "account_id": 3,
        "intent_id": 31,
        "drawdown_pct": "13.04",  # 1,500 lost of the 11,500 there was at the peak
        "warn_pct": "10",
        "pause_pct": "25",
        "peak": "100",
        "total": "-1400",
        "lost": "1500",
        "equity": "10000",
        "currency": "USDT",
    }
    assert notice_text(Notice.DRAWDOWN, alert.event.data) == (
        "⚠️ Drawdown warning, subscription #5 (account #3): 13.04% of equity, results 1500 USDT below "
        "their peak of 100 USDT (now -1400 USDT); warning at 10%, entries pause at 25%"
    )
    # Below the warning, at the pause (told by the pause itself), or once paused: no warning.
    assert _alerts(limits, risk_context(drawdown_pct=D("9.99"))) == []
    assert _alerts(limits, risk_context(drawdown_pct=D(25))) == []
    reducing = risk_context(drawdown_pct=D(12), state=TradingState.REDUCING)
    assert _alerts(limits, reducing, state=TradingState.REDUCING) == []


def test_the_pause_is_told_with_its_numbers() -> None:
    limits = RiskLimits(drawdown_warn_pct=D(10), drawdown_pause_pct=D(25))
    item = _item(limits, pnl_peak=D(100), pnl_total=D(-4900))
    event = paused(item, D(5000) / D(15000) * 100, D(10_000), "USDT", "paused: subscription drawdown")

    assert (event.user_id, event.topic, event.type) == (9, Topic.RISK, "paused")
    assert event.data["drawdown_pct"] == "33.33" and event.data["trading_state"] == "REDUCING"
    assert notice_text(Notice.DRAWDOWN, event.data) == (
        "⏸️ Subscription #5 paused, exits only: drawdown 33.33% reached 25% (account #3), results 5000 USDT "
        "below their peak of 100 USDT (now -4900 USDT). /resume 5 (or its trading state ACTIVE) resumes "
        "entries"
    )


def test_a_breaker_opening_is_told_to_the_accounts_owner() -> None:
    event = breaker_opened(9, BreakerOpening(3, "binance", 5, 30.0, "exchange_unavailable"))

    assert (event.user_id, event.topic, event.type) == (9, Topic.RISK, "breaker_open")
    assert notice_from_data("risk", "breaker_open", event.data) == (
        Notice.BREAKER_OPEN,
        "🔌 Exchange account #3 (binance): circuit breaker open after 5 failed calls in a row "
        "(exchange_unavailable); no calls for 30 s, then one trial",
    )


def test_risk_events_map_to_their_notices_and_each_can_be_switched() -> None:
    assert notice_of("risk", "daily_loss", {}) is Notice.DAILY_LOSS
    assert notice_of("risk", "drawdown_warning", {}) is Notice.DRAWDOWN
    assert notice_of("risk", "paused", {}) is Notice.DRAWDOWN
    assert notice_of("risk", "breaker_open", {}) is Notice.BREAKER_OPEN
    assert notice_of("risk", "something_else", {}) is None
    assert {"daily_loss", "drawdown", "breaker_open"} <= {n.value for n in NOTICES}


def test_a_named_breaker_opening_is_told_once_an_unnamed_one_each_time() -> None:
    shared = breaker_alert(9, BreakerOpening(3, "binance", 5, 30.0, "timeout", once="shared:1712"))
    own = breaker_alert(9, BreakerOpening(3, "binance", 5, 30.0, "timeout"))

    assert shared.once == Once("breaker_open", 3, "shared:1712")
    assert own.once is None
    assert shared.event == own.event  # the name is not part of what the owner reads
    assert "once" not in shared.event.data


def test_a_breaker_says_when_a_failure_opened_it_and_not_when_a_trial_fails_again() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown_s=10, clock=lambda: now[0])
    assert [breaker.failure() for _ in range(3)] == [False, False, True]
    now[0] = 11.0
    assert breaker.allow()  # the trial
    assert breaker.failure() is False  # re-opened: not news
    breaker.success()
    assert [breaker.failure() for _ in range(3)] == [False, False, True]  # closed, then opened again
