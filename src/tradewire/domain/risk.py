"""Pre-trade risk assessment: explicit rules, each verdict kept with its numbers."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewire.domain.money import fmt

HUNDRED = Decimal(100)


class TradingState(StrEnum):
    """What a subscription may trade: everything, exits only, or nothing at all."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # exits only: the drawdown pause and users' own "wind down" switch
    HALTED = "HALTED"  # no order of any kind, not even automated exits


def _opt_decimal(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """A subscription's limits for new entries; exits are never blocked by them."""

    max_positions_per_strategy: int = 20  # open positions of this subscription
    max_positions_total: int = 50  # open positions of the whole account
    daily_loss_pct: Decimal = Decimal(5)  # realised loss today, % of equity, that blocks new entries
    daily_loss_quote: Decimal | None = None  # the same limit in quote units, if set
    close_on_daily_loss: bool = False  # also close the subscription's open positions once breached
    max_position_quote: Decimal | None = None  # largest entry, in quote units
    drawdown_warn_pct: Decimal = Decimal(15)
    drawdown_pause_pct: Decimal = Decimal(25)  # the subscription turns REDUCING until its owner resumes it
    max_correlated: int = 3  # open pairs allowed whose returns correlate with the new one
    correlation_threshold: Decimal = Decimal("0.7")
    cooldown_s: int = 900  # after a trade on a pair, no new entry on it for this long; 0: off
    min_risk_reward: Decimal | None = Decimal(1)  # target distance ÷ stop distance, when both are known
    max_signal_age_s: int | None = None  # older signals are stale; None: no limit

    def __post_init__(self) -> None:
        if self.drawdown_warn_pct > self.drawdown_pause_pct:
            raise ValueError("drawdown_warn_pct must not exceed drawdown_pause_pct")

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> RiskLimits:
        if not data:
            return _DEFAULT
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            raw = data[f.name]
            default = getattr(_DEFAULT, f.name)
            if isinstance(default, bool):
                values[f.name] = bool(raw)
            elif isinstance(default, int) and f.name != "max_signal_age_s":
                values[f.name] = int(raw)
            elif f.name == "max_signal_age_s":
                values[f.name] = int(raw) if raw else None
            else:
                values[f.name] = _opt_decimal(raw)
        return cls(**values)

    def as_json(self) -> dict[str, Any]:
        return {
            f.name: str(v) if isinstance(v := getattr(self, f.name), Decimal) else v for f in fields(self)
        }


_DEFAULT = RiskLimits()


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What the rules look at for one entry."""

    open_positions_subscription: int
    open_positions_account: int
    realized_today: Decimal  # net of fees; negative is a loss
    equity: Decimal | None
    signal_age_s: float | None
    notional: Decimal | None = None  # the entry's size in quote units
    since_last_trade_s: float | None = None  # on this pair, by this subscription; None: never
    drawdown_pct: Decimal | None = None  # the subscription's, from its realised results
    strategy_drawdown_pct: Decimal | None = None  # the strategy's own track record
    correlated: tuple[tuple[str, float], ...] = ()  # open pairs correlating above the threshold
    risk_reward: Decimal | None = None  # None: no stop or no target to measure it by
    state: TradingState = TradingState.ACTIVE
    blacklisted: str | None = None  # why the pair is blacklisted for the strategy, if it is


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
    warnings: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def reason(self) -> str:
        failed = [f"{c.rule}: {c.detail}" for c in self.checks if not c.passed]
        return "rejected by risk: " + "; ".join(failed) if failed else "approved"

    def failed(self, rule: str) -> bool:
        return any(c.rule == rule and not c.passed for c in self.checks)

    def as_json(self) -> list[dict[str, Any]]:
        return [c.as_json() for c in self.checks]


_STATE_MEANS = {
    TradingState.ACTIVE: "",
    TradingState.REDUCING: ": exits only",
    TradingState.HALTED: ": no orders at all",
}


def assess_entry(limits: RiskLimits, context: RiskContext) -> Assessment:
    """Every rule for a new entry, in order; when one fails, all are reported with their numbers."""
    warnings = _warnings(limits, context)
    if _all_pass(limits, context):
        # The common case, without building a thousand explanations per signal.
        return Assessment(warnings=warnings) if warnings else _APPROVED
    return Assessment(tuple(_checks(limits, context)), warnings)


def allows(state: TradingState, entry: bool) -> bool:
    """Whether a subscription in `state` may place an order: ACTIVE any, REDUCING exits only (a DCA
    tranche is an entry), HALTED none at all."""
    if state is TradingState.HALTED:
        return False
    return state is TradingState.ACTIVE or not entry


def assess_exit(state: TradingState) -> Assessment:
    """Exits pass every rule but the trading state: HALTED stops them too."""
    if state is TradingState.HALTED:
        return Assessment((Check("trading_state", False, "subscription is HALTED: no orders at all"),))
    return _APPROVED


def summary(limits: RiskLimits, context: RiskContext) -> str:
    """The numbers behind an approval, compact enough to keep with every order."""
    parts = [
        f"positions {context.open_positions_subscription}/{limits.max_positions_per_strategy}",
        f"account {context.open_positions_account}/{limits.max_positions_total}",
        f"day {fmt(context.realized_today)}",
    ]
    if context.drawdown_pct is not None:
        parts.append(f"drawdown {context.drawdown_pct:.1f}%/{limits.drawdown_pause_pct}%")
    if context.correlated:
        parts.append(f"correlated {len(context.correlated)}/{limits.max_correlated}")
    if context.risk_reward is not None:
        parts.append(f"R/R {context.risk_reward:.2f}")
    return "risk ok: " + ", ".join(parts)


def _all_pass(limits: RiskLimits, context: RiskContext) -> bool:
    if context.state is not TradingState.ACTIVE or context.blacklisted is not None:
        return False
    if context.open_positions_subscription >= limits.max_positions_per_strategy:
        return False
    if context.open_positions_account >= limits.max_positions_total:
        return False
    if context.realized_today < 0 and not _daily_loss(limits, context).passed:
        return False
    if (
        (cap := limits.max_position_quote) is not None
        and context.notional is not None
        and context.notional > cap
    ):
        return False
    for drawdown in (context.drawdown_pct, context.strategy_drawdown_pct):
        if drawdown is not None and drawdown >= limits.drawdown_pause_pct:
            return False
    if len(context.correlated) >= limits.max_correlated:
        return False
    if _cooling_down(limits, context):
        return False
    rr, least = context.risk_reward, limits.min_risk_reward
    if rr is not None and least is not None and rr < least:
        return False
    age, limit = context.signal_age_s, limits.max_signal_age_s
    return limit is None or age is None or age <= limit


def _checks(limits: RiskLimits, context: RiskContext) -> list[Check]:
    state = context.state
    checks = [
        Check(
            "trading_state",
            state is TradingState.ACTIVE,
            f"subscription is {state.value}" + _STATE_MEANS[state],
        ),
        Check(
            "pair_blacklist",
            context.blacklisted is None,
            context.blacklisted or "pair is not blacklisted for this strategy",
        ),
        _at_most(
            "positions_per_strategy", context.open_positions_subscription, limits.max_positions_per_strategy
        ),
        _at_most("positions_total", context.open_positions_account, limits.max_positions_total),
        _daily_loss(limits, context),
    ]
    if limits.max_position_quote is not None and context.notional is not None:
        cap, size = limits.max_position_quote, context.notional
        checks.append(Check("max_position_size", size <= cap, f"entry of {fmt(size)}, limit {fmt(cap)}"))
    checks.append(_drawdown("drawdown", "subscription", context.drawdown_pct, limits))
    checks.append(_drawdown("strategy_drawdown", "strategy", context.strategy_drawdown_pct, limits))
    pairs = ", ".join(f"{symbol} {rho:.2f}" for symbol, rho in context.correlated) or "none"
    checks.append(
        Check(
            "correlation",
            len(context.correlated) < limits.max_correlated,
            f"{len(context.correlated)} open pairs correlate above {limits.correlation_threshold} "
            f"({pairs}), limit {limits.max_correlated}",
        )
    )
    if limits.cooldown_s > 0:
        since = context.since_last_trade_s
        checks.append(
            Check(
                "cooldown",
                not _cooling_down(limits, context),
                f"last trade on this pair {since:.0f}s ago, cooldown {limits.cooldown_s}s"
                if since is not None
                else f"no trade on this pair yet, cooldown {limits.cooldown_s}s",
            )
        )
    if limits.min_risk_reward is not None:
        rr = context.risk_reward
        checks.append(
            Check(
                "risk_reward",
                rr is None or rr >= limits.min_risk_reward,
                f"R/R {rr:.2f}, minimum {limits.min_risk_reward}"
                if rr is not None
                else "no stop and target to measure R/R by",
            )
        )
    if limits.max_signal_age_s is not None and context.signal_age_s is not None:
        age, limit = context.signal_age_s, limits.max_signal_age_s
        checks.append(Check("signal_age", age <= limit, f"signal is {age:.0f}s old, limit {limit}s"))
    return checks


def _warnings(limits: RiskLimits, context: RiskContext) -> tuple[str, ...]:
    found = []
    for who, drawdown in (
        ("subscription", context.drawdown_pct),
        ("strategy", context.strategy_drawdown_pct),
    ):
        if drawdown is not None and limits.drawdown_warn_pct <= drawdown < limits.drawdown_pause_pct:
            found.append(
                f"{who} drawdown {drawdown:.1f}% (warning at {limits.drawdown_warn_pct}%, "
                f"pause at {limits.drawdown_pause_pct}%)"
            )
    return tuple(found)


_APPROVED = Assessment()


def _at_most(rule: str, open_now: int, limit: int) -> Check:
    # A new entry adds a position unless one is open already; counting it strictly is the safe side.
    return Check(rule, open_now < limit, f"{open_now} open, limit {limit}")


def _cooling_down(limits: RiskLimits, context: RiskContext) -> bool:
    since = context.since_last_trade_s
    return limits.cooldown_s > 0 and since is not None and since < limits.cooldown_s


def _drawdown(rule: str, who: str, drawdown: Decimal | None, limits: RiskLimits) -> Check:
    if drawdown is None:
        return Check(rule, True, f"no {who} results yet")
    return Check(
        rule,
        drawdown < limits.drawdown_pause_pct,
        f"{who} drawdown {drawdown:.1f}%, pause at {limits.drawdown_pause_pct}%",
    )


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


def drawdown_pct(peak: Decimal, current: Decimal, equity: Decimal | None) -> Decimal | None:
    """How far results fell from their peak, as % of the equity there was at the peak.

    `peak` and `current` are cumulative net results; the equity at the peak is today's equity plus
    what was lost since. None without equity to measure against.
    """
    lost = peak - current
    if lost <= 0:
        return Decimal(0)
    if equity is None or equity + lost <= 0:
        return None
    return lost / (equity + lost) * HUNDRED


def risk_reward(
    side_long: bool, entry: Decimal, stop: Decimal | None, target: Decimal | None
) -> Decimal | None:
    """Target distance ÷ stop distance from the entry price; None without both levels."""
    if stop is None or target is None:
        return None
    risk = entry - stop if side_long else stop - entry
    reward = target - entry if side_long else entry - target
    if risk <= 0:
        return None  # a stop on the wrong side protects nothing; the exit monitor fires at once
    return reward / risk
