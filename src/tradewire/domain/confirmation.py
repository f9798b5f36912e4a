"""Confirm before trade: a subscription may ask a human to say yes to each entry before it is sent.

Not to be confused with a strategy definition's `confirmation` (the multi-timeframe score of a
built-in strategy's signal) nor a bot's `confirmation_minutes`: those decide whether a *signal* is
emitted; this decides whether one subscription's *entry* waits for its owner. The subscription's
settings are named `confirmation` (where the question is asked), `confirmation_timeout_s` and
`max_confirm_drift_pct`; in the code they are a TradeConfirmation.

The intent's life (domain/execution.IntentStatus): an entry the executor approved (sizing and every
risk rule) is not stored as an order but waits `awaiting_confirmation` with its proposal and a
deadline; confirmed (one conditional update, before the deadline) it is `created` again and decided
afresh (risk on the state of now, sizing again, refused if the price drifted too far); declined or
expired it ends `rejected`. Exits never wait. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewire.domain.execution import OrderPlan
from tradewire.domain.money import fmt

MIN_TIMEOUT_S = 10
MAX_TIMEOUT_S = 86_400
DEFAULT_TIMEOUT_S = 300
DEFAULT_MAX_DRIFT_PCT = Decimal(1)
MAX_DRIFT_PCT = Decimal(100)


class ConfirmVia(StrEnum):
    """Where a subscription's entries are confirmed: `none` sends them at once; the others wait for
    a human the same way, and say where the question is asked."""

    NONE = "none"
    API = "api"
    DASHBOARD = "dashboard"
    TELEGRAM = "telegram"


@dataclass(frozen=True, slots=True)
class TradeConfirmation:
    """A subscription's confirm-before-trade settings, as its three columns store them."""

    via: ConfirmVia = ConfirmVia.NONE
    timeout_s: int = DEFAULT_TIMEOUT_S
    max_drift_pct: Decimal = DEFAULT_MAX_DRIFT_PCT

    def __post_init__(self) -> None:
        if not MIN_TIMEOUT_S <= self.timeout_s <= MAX_TIMEOUT_S:
            raise ValueError(f"confirmation_timeout_s must be {MIN_TIMEOUT_S} to {MAX_TIMEOUT_S}")
        if not Decimal(0) <= self.max_drift_pct <= MAX_DRIFT_PCT:
            raise ValueError(f"max_confirm_drift_pct must be 0 to {MAX_DRIFT_PCT}")

    @property
    def waits(self) -> bool:
        """Entries wait for a human's yes."""
        return self.via is not ConfirmVia.NONE

    def columns(self) -> dict[str, Any]:
        """The subscription columns that hold these settings."""
        return {
            "confirmation": self.via.value,
            "confirmation_timeout_s": self.timeout_s,
            "max_confirm_drift_pct": self.max_drift_pct,
        }

    @classmethod
    def of(cls, via: Any, timeout_s: Any, max_drift_pct: Any) -> TradeConfirmation:
        """From stored columns (None: the default, as for rows an older version wrote)."""
        return cls(
            ConfirmVia(via) if via is not None else ConfirmVia.NONE,
            int(timeout_s) if timeout_s is not None else DEFAULT_TIMEOUT_S,
            Decimal(max_drift_pct) if max_drift_pct is not None else DEFAULT_MAX_DRIFT_PCT,
        )


def proposal_terms(
    symbol: str,
    plan: OrderPlan,
    price: Decimal,
    stop: Decimal | None,
    target: Decimal | None,
    confidence: Any,
    confirm_by: datetime,
    timeout_s: int,
) -> dict[str, Any]:
    """What the human is asked to confirm, JSON-ready (decimals as strings): the order as planned,
    its stop and target, the risk rules' verdicts, the signal's confidence and the sizing note."""

    def text(value: Decimal | None) -> str | None:
        return None if value is None else fmt(value)

    return {
        "symbol": symbol,
        "side": plan.side.value,
        "amount": fmt(plan.amount),
        "order_type": plan.type.value,
        "price": fmt(price),
        "limit_price": text(plan.limit_price),
        "notional": fmt(plan.amount * (plan.limit_price or price)),
        "stop_loss": text(stop),
        "take_profit": text(target),
        "risk": plan.verdicts,
        "confidence": confidence if isinstance(confidence, int | float) else None,
        "sizing_note": plan.sizing_note,
        "sizing_equity": text(plan.sizing_equity),
        "confirm_by": confirm_by.isoformat(),
        "timeout_s": timeout_s,
    }


def unreachable(via: ConfirmVia | None, telegram_bot: bool) -> str | None:
    """Why entries confirmed `via` could never be asked on this server (a bot-less server has no
    Telegram to ask on: every entry would only expire), or None."""
    if via is ConfirmVia.TELEGRAM and not telegram_bot:
        return (
            "confirmation: telegram needs this server's Telegram bot (TRADEWIRE_TELEGRAM_TOKEN), which "
            "it does not run; choose dashboard or api"
        )
    return None


def proposed_at(terms: Any) -> datetime | None:
    """When a stored proposal (proposal_terms) was made: its deadline less its timeout; None when
    there is none or it cannot be read (a row an older version or a hand wrote)."""
    if not isinstance(terms, dict):
        return None
    try:
        deadline = datetime.fromisoformat(str(terms["confirm_by"]))
        timeout_s = int(terms["timeout_s"])
        return deadline - timedelta(seconds=min(max(timeout_s, 0), MAX_TIMEOUT_S))
    except (KeyError, TypeError, ValueError, OverflowError):
        return None


def drift_refusal(reference: Decimal | None, price: Decimal, max_drift_pct: Decimal) -> str | None:
    """Why a confirmed entry is refused because the price moved more than `max_drift_pct` % from
    `reference` (the signal's price, else the proposal's), or None when it may go on."""
    if reference is None or reference <= 0:
        return None
    drift = abs(price - reference) / reference * 100
    if drift <= max_drift_pct:
        return None
    return (
        f"price moved {drift:.2f}% since the signal ({fmt(reference)} -> {fmt(price)}), more than the "
        f"{fmt(max_drift_pct)}% allowed at confirmation: nothing traded"
    )


def declined_reason(who: str) -> str:
    return f"declined by {who}: nothing traded"


def expired_reason(timeout_s: int) -> str:
    return f"not confirmed within {timeout_s} s: nothing traded"
