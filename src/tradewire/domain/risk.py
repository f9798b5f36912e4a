"""Pre-trade risk assessment: explicit rules, each verdict kept with its numbers."""

from __future__ import annotations

from collections.abc import Callable
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
        for name in _LIMIT_NAMES:
            if name not in data:
                continue
            raw = data[name]
            default = getattr(_DEFAULT, name)
            if isinstance(default, bool):
                values[name] = bool(raw)
            elif isinstance(default, int) and name != "max_signal_age_s":
                values[name] = int(raw)
            elif name == "max_signal_age_s":
                values[name] = int(raw) if raw else None
            else:
                values[name] = _opt_decimal(raw)
        return cls(**values)

    def as_json(self) -> dict[str, Any]:
        return {
            f.name: str(v) if isinstance(v := getattr(self, f.name), Decimal) else v for f in fields(self)
        }


_DEFAULT = RiskLimits()
_LIMIT_NAMES = tuple(f.name for f in fields(RiskLimits))  # read once: every pending intent parses limits


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
    state_source: str = "subscription"  # or the platform, or a disabled owner (domain/platform.py)
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
    return Assessment(checks(limits, context), warnings)


_RESTRICTIVENESS = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def most_restrictive(*states: TradingState) -> TradingState:
    """The state that allows least: a subscription's own, the platform's and its owner's together."""
    return max(states, key=_RESTRICTIVENESS.__getitem__, default=TradingState.ACTIVE)


def verdicts(limits: RiskLimits, context: RiskContext) -> list[dict[str, Any]]:
    """Every rule's verdict with its numbers, also when all pass (for a human to read: a proposal)."""
    return Assessment(checks(limits, context)).as_json()


def allows(state: TradingState, entry: bool) -> bool:
    """Whether a subscription in `state` may place an order: ACTIVE any, REDUCING exits only (a DCA
    tranche is an entry), HALTED none at all."""
    if state is TradingState.HALTED:
        return False
    return state is TradingState.ACTIVE or not entry


def assess_exit(state: TradingState, source: str = "subscription") -> Assessment:
    """Exits pass every rule but the trading state: HALTED stops them too."""
    if state is TradingState.HALTED:
        return Assessment((Check("trading_state", False, f"{source} is HALTED: no orders at all"),))
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


@dataclass(frozen=True, slots=True)
class Rule:
    """One entry rule, written once: its name, whether an entry passes it, and why.

    `passes` is total: a rule with nothing to measure (no cap set, no stop and target) passes.
    `detail` explains the verdict with its numbers, or is None when there is nothing to measure
    (the rule is then left out of the list an owner reads). Only rejections build details: the
    approved common case asks the predicates alone.
    """

    name: str
    passes: Callable[[RiskLimits, RiskContext], bool]
    detail: Callable[[RiskLimits, RiskContext], str | None]


def daily_loss_limit(limits: RiskLimits, context: RiskContext) -> Decimal | None:
    """The smaller of the equity-based and the quote limit; None without either."""
    bounds = []
    if context.equity is not None and context.equity > 0:
        bounds.append(context.equity * limits.daily_loss_pct / HUNDRED)
    if limits.daily_loss_quote is not None:
        bounds.append(limits.daily_loss_quote)
    return min(bounds) if bounds else None


def _daily_loss_passes(limits: RiskLimits, context: RiskContext) -> bool:
    if context.realized_today >= 0:
        return True  # no loss today blocks nothing, whatever the limit
    limit = daily_loss_limit(limits, context)
    return limit is None or -context.realized_today < limit


def _daily_loss_detail(limits: RiskLimits, context: RiskContext) -> str:
    loss = -context.realized_today if context.realized_today < 0 else Decimal(0)
    limit = daily_loss_limit(limits, context)
    if limit is None:
        return f"lost {fmt(loss)} today; no equity to measure it against"
    return f"lost {fmt(loss)} today, limit {fmt(limit)} until 00:00 UTC"


def _cooling_down(limits: RiskLimits, context: RiskContext) -> bool:
    since = context.since_last_trade_s
    return limits.cooldown_s > 0 and since is not None and since < limits.cooldown_s


def _cooldown_detail(limits: RiskLimits, context: RiskContext) -> str | None:
    if limits.cooldown_s <= 0:
        return None
    since = context.since_last_trade_s
    if since is None:
        return f"no trade on this pair yet, cooldown {limits.cooldown_s}s"
    return f"last trade on this pair {since:.0f}s ago, cooldown {limits.cooldown_s}s"


def _drawdown_detail(who: str, drawdown: Decimal | None, limits: RiskLimits) -> str:
    if drawdown is None:
        return f"no {who} results yet"
    return f"{who} drawdown {drawdown:.1f}%, pause at {limits.drawdown_pause_pct}%"


def _correlation_detail(limits: RiskLimits, context: RiskContext) -> str:
    pairs = ", ".join(f"{symbol} {rho:.2f}" for symbol, rho in context.correlated) or "none"
    return (
        f"{len(context.correlated)} open pairs correlate above {limits.correlation_threshold} "
        f"({pairs}), limit {limits.max_correlated}"
    )


def _risk_reward_detail(limits: RiskLimits, context: RiskContext) -> str | None:
    if limits.min_risk_reward is None:
        return None
    if context.risk_reward is None:
        return "no stop and target to measure R/R by"
    return f"R/R {context.risk_reward:.2f}, minimum {limits.min_risk_reward}"


# Every rule for a new entry, in the order an owner reads them. A new entry adds a position unless
# one is open already; counting it strictly (`<` the limit) is the safe side.
RULES: tuple[Rule, ...] = (
    Rule(
        "trading_state",
        lambda lim, ctx: ctx.state is TradingState.ACTIVE,
        lambda lim, ctx: f"{ctx.state_source} is {ctx.state.value}" + _STATE_MEANS[ctx.state],
    ),
    Rule(
        "pair_blacklist",
        lambda lim, ctx: ctx.blacklisted is None,
        lambda lim, ctx: ctx.blacklisted or "pair is not blacklisted for this strategy",
    ),
    Rule(
        "positions_per_strategy",
        lambda lim, ctx: ctx.open_positions_subscription < lim.max_positions_per_strategy,
        lambda lim, ctx: f"{ctx.open_positions_subscription} open, limit {lim.max_positions_per_strategy}",
    ),
    Rule(
        "positions_total",
        lambda lim, ctx: ctx.open_positions_account < lim.max_positions_total,
        lambda lim, ctx: f"{ctx.open_positions_account} open, limit {lim.max_positions_total}",
    ),
    Rule("daily_loss", _daily_loss_passes, _daily_loss_detail),
    Rule(
        "max_position_size",
        lambda lim, ctx: (
            lim.max_position_quote is None or ctx.notional is None or ctx.notional <= lim.max_position_quote
        ),
        lambda lim, ctx: (
            None
            if lim.max_position_quote is None or ctx.notional is None
            else f"entry of {fmt(ctx.notional)}, limit {fmt(lim.max_position_quote)}"
        ),
    ),
    Rule(
        "drawdown",
        lambda lim, ctx: ctx.drawdown_pct is None or ctx.drawdown_pct < lim.drawdown_pause_pct,
        lambda lim, ctx: _drawdown_detail("subscription", ctx.drawdown_pct, lim),
    ),
    Rule(
        "strategy_drawdown",
        lambda lim, ctx: (
            ctx.strategy_drawdown_pct is None or ctx.strategy_drawdown_pct < lim.drawdown_pause_pct
        ),
        lambda lim, ctx: _drawdown_detail("strategy", ctx.strategy_drawdown_pct, lim),
    ),
    Rule(
        "correlation",
        lambda lim, ctx: len(ctx.correlated) < lim.max_correlated,
        _correlation_detail,
    ),
    Rule("cooldown", lambda lim, ctx: not _cooling_down(lim, ctx), _cooldown_detail),
    Rule(
        "risk_reward",
        lambda lim, ctx: (
            ctx.risk_reward is None or lim.min_risk_reward is None or ctx.risk_reward >= lim.min_risk_reward
        ),
        _risk_reward_detail,
    ),
    Rule(
        "signal_age",
        lambda lim, ctx: (
            lim.max_signal_age_s is None
            or ctx.signal_age_s is None
            or ctx.signal_age_s <= lim.max_signal_age_s
        ),
        lambda lim, ctx: (
            None
            if lim.max_signal_age_s is None or ctx.signal_age_s is None
            else f"signal is {ctx.signal_age_s:.0f}s old, limit {lim.max_signal_age_s}s"
        ),
    ),
)
_PREDICATES = tuple(rule.passes for rule in RULES)


def checks(limits: RiskLimits, context: RiskContext) -> tuple[Check, ...]:
    """Every rule's verdict with its numbers (rules with nothing to measure left out)."""
    return tuple(
        Check(rule.name, rule.passes(limits, context), detail)
        for rule in RULES
        if (detail := rule.detail(limits, context)) is not None
    )


def _all_pass(limits: RiskLimits, context: RiskContext) -> bool:
    for passes in _PREDICATES:  # noqa: SIM110 (a loop: faster than all() over a generator)
        if not passes(limits, context):
            return False
    return True


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


@dataclass(frozen=True, slots=True)
class LimitUsage:
    """How much of one limit is used: the number a rule compares, the bound it compares it with, and
    that rule's own verdict and words (a dashboard's bar, never a second formula)."""

    rule: str
    used: Decimal | None  # None: nothing to measure yet (no results, no equity)
    limit: Decimal | None  # None: no bound (e.g. no equity for a % limit)
    warn: Decimal | None  # where a warning starts, if the rule has one
    passed: bool
    detail: str


_RULES_BY_NAME = {rule.name: rule for rule in RULES}


def usage(limits: RiskLimits, context: RiskContext) -> tuple[LimitUsage, ...]:
    """Daily loss vs its limit, drawdown vs its pause level and open positions vs both position limits,
    each with the verdict and the detail the entry rule itself gives for `context`."""

    def of(name: str, used: Decimal | None, limit: Decimal | None, warn: Decimal | None = None) -> LimitUsage:
        rule = _RULES_BY_NAME[name]
        return LimitUsage(
            name, used, limit, warn, rule.passes(limits, context), rule.detail(limits, context) or ""
        )

    loss = -context.realized_today if context.realized_today < 0 else Decimal(0)
    return (
        of("daily_loss", loss, daily_loss_limit(limits, context)),
        of("drawdown", context.drawdown_pct, limits.drawdown_pause_pct, limits.drawdown_warn_pct),
        of(
            "positions_per_strategy",
            Decimal(context.open_positions_subscription),
            Decimal(limits.max_positions_per_strategy),
        ),
        of("positions_total", Decimal(context.open_positions_account), Decimal(limits.max_positions_total)),
    )
