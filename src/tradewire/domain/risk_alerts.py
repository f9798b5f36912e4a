"""What risk tells an owner beyond one refused entry (pure): an account's daily loss limit reached, a
subscription's drawdown crossing its warning level, its drawdown pause, and an exchange account's
circuit breaker opening. Each is an event of the `risk` topic in the owner's outbox.

The daily loss limit and the drawdown are measured against the account's equity, which only an
entry's assessment reads from the exchange; so both are told from there: the daily loss at the first
entry the `daily_loss` rule refuses on an account in a UTC day (the moment the limit bites, with the
numbers it bit on), the warning at the first entry assessed past `drawdown_warn_pct` while below the
pause. Each is told once (`Once`: per account and day; per subscription and the peak its drawdown is
measured from). The pause is told when it takes effect (the subscription turned REDUCING), the
breaker when it opens (closed → open, not each failed trial after it).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from tradewire.domain.events import Event, Topic
from tradewire.domain.json_values import json_fields
from tradewire.domain.money import fmt
from tradewire.domain.records import WorkItem
from tradewire.domain.risk import (
    Assessment,
    RiskContext,
    RiskLimits,
    TradingState,
    daily_loss_limit,
)

DAILY_LOSS = "daily_loss"
DRAWDOWN_WARNING = "drawdown_warning"
PAUSED = "paused"
BREAKER_OPEN = "breaker_open"

_CENT = Decimal("0.01")


class Once(NamedTuple):
    """What makes an alert a repeat: its kind, its subject (an account or a subscription) and period
    (a UTC day, or the peak a drawdown is measured from)."""

    kind: str
    subject_id: int
    period: str


class RiskAlert(NamedTuple):
    """An event to write unless one with the same `once` was written before (None: always)."""

    event: Event
    once: Once | None = None


class BreakerOpening(NamedTuple):
    """An exchange account's circuit breaker opened: `failures` calls in a row went unanswered
    (`kind`: how the last failed), none is made for `cooldown_s`, then one trial. `once` names the
    opening for every process that may report it (a breaker they share): it is told once; None: told
    each time."""

    account_id: int
    exchange: str
    failures: int
    cooldown_s: float
    kind: str
    once: str | None = None


def percent(value: Decimal) -> Decimal:
    """A percentage as it is told: to 0.01."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def entry_alerts(
    item: WorkItem,
    context: RiskContext,
    assessment: Assessment,
    currency: str,
    day: str,
) -> list[RiskAlert]:
    """The alerts an entry's assessment makes: the daily loss limit reached (the `daily_loss` rule
    refused it), and the subscription's drawdown past its warning level but short of the pause."""
    limits = item.risk
    alerts: list[RiskAlert] = []
    if assessment.failed("daily_loss"):
        limit = daily_loss_limit(limits, context)
        data = json_fields(
            account_id=item.account_id,
            subscription_id=item.subscription_id,
            intent_id=item.intent_id,
            day=day,
            loss=-context.realized_today,
            limit=limit,
            equity=context.equity,
            daily_loss_pct=limits.daily_loss_pct,
            daily_loss_quote=limits.daily_loss_quote,
            currency=currency,
        )
        event = Event(item.user_id, Topic.RISK, DAILY_LOSS, data)
        alerts.append(RiskAlert(event, Once(DAILY_LOSS, item.account_id, day)))
    drawdown = context.drawdown_pct
    if (
        drawdown is not None
        and item.state is TradingState.ACTIVE
        and limits.drawdown_warn_pct <= drawdown < limits.drawdown_pause_pct
    ):
        data = drawdown_data(item, limits, drawdown, context.equity, currency)
        event = Event(item.user_id, Topic.RISK, DRAWDOWN_WARNING, data)
        alerts.append(
            RiskAlert(event, Once(DRAWDOWN_WARNING, item.subscription_id, fmt(item.pnl_peak) or "0"))
        )
    return alerts


def drawdown_data(
    item: WorkItem, limits: RiskLimits, drawdown: Decimal, equity: Decimal | None, currency: str, **more: Any
) -> dict[str, Any]:
    """A subscription's drawdown as it is told: how far its results fell from their peak, in the
    currency and as % of the equity there was at the peak, with its warning and pause levels."""
    return json_fields(
        subscription_id=item.subscription_id,
        account_id=item.account_id,
        intent_id=item.intent_id,
        drawdown_pct=percent(drawdown),
        warn_pct=limits.drawdown_warn_pct,
        pause_pct=limits.drawdown_pause_pct,
        peak=item.pnl_peak,
        total=item.pnl_total,
        lost=item.pnl_peak - item.pnl_total,
        equity=equity,
        currency=currency,
        **more,
    )


def paused(item: WorkItem, drawdown: Decimal, equity: Decimal | None, currency: str, reason: str) -> Event:
    """The event of a drawdown pause, written when it takes effect (the subscription turned REDUCING)."""
    data = drawdown_data(item, item.risk, drawdown, equity, currency, trading_state="REDUCING", reason=reason)
    return Event(item.user_id, Topic.RISK, PAUSED, data)


def breaker_opened(user_id: int, opening: BreakerOpening) -> Event:
    """An exchange account's circuit breaker opened: its owner hears of it."""
    data = json_fields(
        account_id=opening.account_id,
        exchange=opening.exchange,
        failures=opening.failures,
        cooldown_s=opening.cooldown_s,
        kind=opening.kind,
    )
    return Event(user_id, Topic.RISK, BREAKER_OPEN, data)


def breaker_alert(user_id: int, opening: BreakerOpening) -> RiskAlert:
    """The opening's event, told once per opening when the opening is named (`once`)."""
    once = None if opening.once is None else Once(BREAKER_OPEN, opening.account_id, opening.once)
    return RiskAlert(breaker_opened(user_id, opening), once)
