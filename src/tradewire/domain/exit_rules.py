"""A position's exit rules, one position at a time: a subscription's `ExitRules`, the absolute
`ExitLevels` of one position derived from them, and `evaluate_bar`, the scalar candle rule (the
backtests' and the tests' reference for what `ExitBook` decides for many positions at once).

Precedence when several exits hit in one evaluation: SL, then TRAILING, then TP, then TIMEOUT. The
protective stop is reported first because, when the order of events is unknown, assuming the loss is
the honest (pessimistic) answer, and because a stop must never be masked by a softer reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple

from tradewire.domain.money import fmt
from tradewire.domain.positions import CloseReason

ExitReason = CloseReason  # one vocabulary for why a position closed, whoever closes it
Side = Literal["long", "short"]

HUNDRED = Decimal(100)
_SIDES: dict[str, int] = {"long": 1, "short": -1}
_RULE_KEYS = ("stop_loss_pct", "take_profit_pct", "trailing_pct", "trailing_activation_pct", "max_hold_s")


@dataclass(frozen=True, slots=True)
class ExitRules:
    """A subscription's automatic exits; every setting is optional (None: that exit is off)."""

    stop_loss_pct: Decimal | None = None  # % against the entry price
    take_profit_pct: Decimal | None = None  # % in favour of the entry price
    trailing_pct: Decimal | None = None  # distance from the best price since entry, %
    trailing_activation_pct: Decimal | None = None  # profit % before trailing starts; None: at once
    max_hold_s: int | None = None  # time limit after opening, seconds

    def __post_init__(self) -> None:
        for name in ("stop_loss_pct", "take_profit_pct", "trailing_pct", "trailing_activation_pct"):
            value = getattr(self, name)
            if value is not None and (not value.is_finite() or value <= 0):
                raise ValueError(f"{name} must be a number greater than 0, got {value}")
        # A stop (or trailing distance) of 100 % or more would sit at or below zero for a long.
        if self.stop_loss_pct is not None and self.stop_loss_pct >= HUNDRED:
            raise ValueError(f"stop_loss_pct must be below 100, got {self.stop_loss_pct}")
        if self.trailing_pct is not None and self.trailing_pct >= HUNDRED:
            raise ValueError(f"trailing_pct must be below 100, got {self.trailing_pct}")
        if self.trailing_activation_pct is not None and self.trailing_pct is None:
            raise ValueError("trailing_activation_pct needs trailing_pct")
        if self.max_hold_s is not None and self.max_hold_s <= 0:
            raise ValueError(f"max_hold_s must be greater than 0, got {self.max_hold_s}")

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ExitRules:
        """Rules from stored JSON; a missing (or null) key means that exit is off."""
        if not data:
            return cls()
        unknown = sorted(set(data) - set(_RULE_KEYS))
        if unknown:
            # A misspelt key would silently switch an exit off: refuse it instead.
            raise ValueError(f"unknown exit rule(s) {', '.join(unknown)}; expected {', '.join(_RULE_KEYS)}")
        return cls(
            stop_loss_pct=_decimal_or_none("stop_loss_pct", data.get("stop_loss_pct")),
            take_profit_pct=_decimal_or_none("take_profit_pct", data.get("take_profit_pct")),
            trailing_pct=_decimal_or_none("trailing_pct", data.get("trailing_pct")),
            trailing_activation_pct=_decimal_or_none(
                "trailing_activation_pct", data.get("trailing_activation_pct")
            ),
            max_hold_s=_int_or_none("max_hold_s", data.get("max_hold_s")),
        )

    def as_json(self) -> dict[str, Any]:
        """The set rules only, Decimals as plain strings (exits that are off are omitted)."""
        out: dict[str, Any] = {}
        for name in ("stop_loss_pct", "take_profit_pct", "trailing_pct", "trailing_activation_pct"):
            value = getattr(self, name)
            if value is not None:
                out[name] = fmt(value)
        if self.max_hold_s is not None:
            out["max_hold_s"] = self.max_hold_s
        return out

    def levels(
        self,
        side: Side,
        entry_price: Decimal,
        opened_at_s: float,
        sl_override: Decimal | None = None,
        tp_override: Decimal | None = None,
    ) -> ExitLevels:
        """Absolute exit prices for a position; a signal's explicit SL/TP prices win over percentages.

        An override on the wrong side of the entry (slippage) is kept: it triggers at once, which is
        safer than leaving the position without its stop.
        """
        sign = side_sign(side)
        if entry_price <= 0:
            raise ValueError(f"entry_price must be positive, got {entry_price}")
        stop_loss = sl_override
        if stop_loss is None and self.stop_loss_pct is not None:
            stop_loss = entry_price * (1 - sign * self.stop_loss_pct / HUNDRED)
        take_profit = tp_override
        if take_profit is None and self.take_profit_pct is not None:
            take_profit = entry_price * (1 + sign * self.take_profit_pct / HUNDRED)
        return ExitLevels(
            side=side,
            stop_loss=stop_loss,
            take_profit=take_profit,
            trailing_pct=self.trailing_pct,
            trailing_activation_pct=self.trailing_activation_pct,
            best_price=entry_price,
            entry_price=entry_price,
            deadline_s=None if self.max_hold_s is None else opened_at_s + self.max_hold_s,
        )


@dataclass(frozen=True, slots=True)
class ExitLevels:
    """One position's exit prices (absolute), trailing settings, best price so far and deadline."""

    side: Side
    stop_loss: Decimal | None
    take_profit: Decimal | None
    trailing_pct: Decimal | None
    trailing_activation_pct: Decimal | None
    best_price: Decimal  # most favourable price since entry: highest for a long, lowest for a short
    entry_price: Decimal
    deadline_s: float | None  # epoch seconds

    def __post_init__(self) -> None:
        side_sign(self.side)
        for name in ("stop_loss", "take_profit", "best_price", "entry_price"):
            value = getattr(self, name)
            if value is not None and (not value.is_finite() or value <= 0):
                raise ValueError(f"{name} must be a positive price, got {value}")


class BarExit(NamedTuple):
    """A position's exit on one candle."""

    reason: CloseReason
    fill_price: float
    new_best: float


def trailing_fraction(trailing_pct: float | None) -> float:
    """The trailing distance as a fraction (NaN: no trailing stop); shared so book and scalar agree."""
    return math.nan if trailing_pct is None else trailing_pct / 100.0


def activation_price(side: Side, entry_price: float, trailing_activation_pct: float | None) -> float:
    """The best price at which the trailing stop starts (±inf: at once); shared so book and scalar agree.

    Exact (see `trailing_level`): entry 50,000 and 10 % start at 55,000, where float arithmetic
    gave 55,000.00000000001 and a best price of exactly 55,000 never started the stop."""
    sign = side_sign(side)
    if trailing_activation_pct is None:
        return -math.inf if sign > 0 else math.inf
    return float(_exact(entry_price) * (1 + sign * _exact(trailing_activation_pct) / HUNDRED))


def trailing_level(side: Side, best_price: float, trailing_pct: float | Decimal) -> float:
    """The trailing stop's price for a best price: best × (1 − pct/100) for a long (a short: +).

    Computed in Decimal and rounded once, so a price exactly at the level (best 60,000, 7 %: 55,800)
    is at it; float arithmetic gave 55,799.99999999999 and the price 55,800 did not trigger it.
    Prices are the shortest decimals of their floats (as they came from Decimal)."""
    pct = trailing_pct if isinstance(trailing_pct, Decimal) else _exact(trailing_pct)
    return float(_exact(best_price) * (1 - side_sign(side) * pct / HUNDRED))


def _exact(value: float) -> Decimal:
    """The decimal a float was read from (its shortest repr)."""
    return Decimal(repr(float(value)))


def best_after_bar(side: Side, best_price: float, high: float, low: float) -> float:
    """The best price after a candle: it only moves in the position's favour."""
    return max(best_price, high) if side_sign(side) > 0 else min(best_price, low)


def evaluate_bar(
    side: Side,
    open_price: float,
    high: float,
    low: float,
    close: float,
    *,
    entry_price: float,
    best_price: float,
    stop_loss: float | None = None,
    take_profit: float | None = None,
    trailing_pct: float | None = None,
    trailing_activation_pct: float | None = None,
    deadline_s: float | None = None,
    now_s: float | None = None,
) -> BarExit | None:
    """One position over one candle: the exit (reason, fill price, best after the candle) or None.

    Rules, for a long (a short is the mirror, with high and low swapped):
    - the trailing level is computed from the best price *before* this candle (active once that best
      reached the activation price); the candle's high updates the best only afterwards. Conservative:
      the intrabar order of high and low is unknown, so the high cannot be assumed to come first;
    - a gap through a level fills at the open: open <= SL → SL at open, else open <= trailing level →
      TRAILING at open, else open >= TP → TP at open;
    - otherwise a stop touched intrabar fills at its level; with both SL and trailing touched, the
      higher one (tie: SL) was necessarily crossed first on the way down from the open;
    - a stop wins over a TP touched in the same candle: which came first is unknown, and assuming
      the loss is the honest (pessimistic) choice; otherwise high >= TP → TP at TP;
    - otherwise, if now_s (the candle's close time) >= deadline_s → TIMEOUT at the close.
    """
    sign = side_sign(side)
    new_best = best_after_bar(side, best_price, high, low)
    start = activation_price(side, entry_price, trailing_activation_pct)
    trail: float | None = None
    started = best_price >= start if sign > 0 else best_price <= start
    if trailing_pct is not None and started:
        trail = trailing_level(side, best_price, trailing_pct)
    if sign > 0:
        adverse, favourable = low, high

        def beyond_stop(price: float, level: float) -> bool:
            return price <= level

        def beyond_target(price: float, level: float) -> bool:
            return price >= level
    else:
        adverse, favourable = high, low

        def beyond_stop(price: float, level: float) -> bool:
            return price >= level

        def beyond_target(price: float, level: float) -> bool:
            return price <= level

    if stop_loss is not None and beyond_stop(open_price, stop_loss):
        return BarExit(CloseReason.SL, open_price, new_best)
    if trail is not None and beyond_stop(open_price, trail):
        return BarExit(CloseReason.TRAILING, open_price, new_best)
    if take_profit is not None and beyond_target(open_price, take_profit):
        return BarExit(CloseReason.TP, open_price, new_best)
    # Of SL and trailing, the one nearer the open is crossed first; the farther cannot be hit alone.
    stop, reason = stop_loss, CloseReason.SL
    if trail is not None and (stop_loss is None or (trail != stop_loss and beyond_target(trail, stop_loss))):
        stop, reason = trail, CloseReason.TRAILING
    if stop is not None and beyond_stop(adverse, stop):
        return BarExit(reason, stop, new_best)
    if take_profit is not None and beyond_target(favourable, take_profit):
        return BarExit(CloseReason.TP, take_profit, new_best)
    if deadline_s is not None and now_s is not None and now_s >= deadline_s:
        return BarExit(CloseReason.TIMEOUT, close, new_best)
    return None


def side_sign(side: str) -> int:
    """+1 for a long, -1 for a short; anything else is refused."""
    try:
        return _SIDES[side]
    except KeyError:
        raise ValueError(f"side must be 'long' or 'short', got {side!r}") from None


def _decimal_or_none(name: str, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def _int_or_none(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{name} must be a whole number of seconds, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number of seconds, got {value!r}") from None
