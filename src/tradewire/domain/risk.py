"""Pre-trade risk assessment: explicit rules, each verdict kept with its numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradewire.domain.money import fmt

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """A subscription's limits for new entries; exits are never blocked by them."""

    max_positions_per_strategy: int = 20  # open positions of this subscription
    max_positions_total: int = 50  # open positions of the whole account
    daily_loss_pct: Decimal = Decimal(5)  # realised loss today, % of equity, that blocks new entries
    daily_loss_quote: Decimal | None = None  # the same limit in quote units, if set
    max_signal_age_s: int | None = None  # older signals are stale; None: no limit

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RiskLimits:
        if not data:
            return _DEFAULT
        return cls(
            max_positions_per_strategy=int(data.get("max_positions_per_strategy", 20)),
            max_positions_total=int(data.get("max_positions_total", 50)),
            daily_loss_pct=Decimal(str(data.get("daily_loss_pct", "5"))),
            daily_loss_quote=Decimal(str(data["daily_loss_quote"])) if data.get("daily_loss_quote") else None,
            max_signal_age_s=int(data["max_signal_age_s"]) if data.get("max_signal_age_s") else None,
        )


_DEFAULT = RiskLimits()


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What the rules look at for one entry."""

    open_positions_subscription: int
    open_positions_account: int
    realized_today: Decimal  # net of fees; negative is a loss
    equity: Decimal | None
    signal_age_s: float | None


@dataclass(frozen=True, slots=True)
class Check:
    """One rule's verdict and the numbers behind it."""

    rule: str
    passed: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Assessment:
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def approved(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def reason(self) -> str:
        failed = [f"{c.rule}: {c.detail}" for c in self.checks if not c.passed]
        return "rejected by risk: " + "; ".join(failed) if failed else "approved"


def assess_entry(limits: RiskLimits, context: RiskContext) -> Assessment:
    """Every rule for a new entry, in order; when one fails, all are reported with their numbers."""
    if _all_pass(limits, context):
        return _APPROVED  # the common case, without building a thousand explanations per signal
    checks = [
        _at_most(
            "positions_per_strategy", context.open_positions_subscription, limits.max_positions_per_strategy
        ),
        _at_most("positions_total", context.open_positions_account, limits.max_positions_total),
        _daily_loss(limits, context),
    ]
    if limits.max_signal_age_s is not None and context.signal_age_s is not None:
        age, limit = context.signal_age_s, limits.max_signal_age_s
        checks.append(Check("signal_age", age <= limit, f"signal is {age:.0f}s old, limit {limit}s"))
    return Assessment(tuple(checks))


def _all_pass(limits: RiskLimits, context: RiskContext) -> bool:
    if context.open_positions_subscription >= limits.max_positions_per_strategy:
        return False
    if context.open_positions_account >= limits.max_positions_total:
        return False
    if context.realized_today < 0 and not _daily_loss(limits, context).passed:
        return False
    age, limit = context.signal_age_s, limits.max_signal_age_s
    return limit is None or age is None or age <= limit


_APPROVED = Assessment()


def _at_most(rule: str, open_now: int, limit: int) -> Check:
    # A new entry adds a position unless one is open already; counting it strictly is the safe side.
    return Check(rule, open_now < limit, f"{open_now} open, limit {limit}")


def _daily_loss(limits: RiskLimits, context: RiskContext) -> Check:
    loss = -context.realized_today if context.realized_today < 0 else Decimal(0)
    bounds = []
    if context.equity is not None and context.equity > 0:
        bounds.append(context.equity * limits.daily_loss_pct / HUNDRED)
    if limits.daily_loss_quote is not None:
        bounds.append(limits.daily_loss_quote)
    if not bounds:
        return Check("daily_loss", True, f"lost {fmt(loss)} today; no equity to measure it against")
    limit = min(bounds)
    return Check("daily_loss", loss < limit, f"lost {fmt(loss)} today, limit {fmt(limit)} until 00:00 UTC")
