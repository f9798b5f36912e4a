"""Automatic exits: stop loss, take profit, trailing stop and time limit for every open position.

`ExitRules` are a subscription's settings; `ExitLevels` are one position's absolute prices derived from
them; `ExitBook` checks all monitored positions at once with numpy on every price update (ticks with
`evaluate`, candles with `evaluate_bars`); `evaluate_bar` is the scalar candle rule for one position.

Precedence when several exits hit in one evaluation: SL, then TRAILING, then TP, then TIMEOUT. The
protective stop is reported first because, when the order of events is unknown, assuming the loss is
the honest (pessimistic) answer, and because a stop must never be masked by a softer reason.

The rules of one position live in domain/exit_rules.py, the numpy book in domain/exit_book.py; this
module names them together, as their callers know them.
"""

from __future__ import annotations

from tradewire.domain.exit_book import BoolArray, ExitBook, FloatArray, IntArray, Trigger, Triggers
from tradewire.domain.exit_rules import (
    HUNDRED,
    BarExit,
    ExitLevels,
    ExitReason,
    ExitRules,
    Side,
    activation_price,
    best_after_bar,
    evaluate_bar,
    side_sign,
    trailing_fraction,
    trailing_level,
)

__all__ = [
    "HUNDRED",
    "BarExit",
    "BoolArray",
    "ExitBook",
    "ExitLevels",
    "ExitReason",
    "ExitRules",
    "FloatArray",
    "IntArray",
    "Side",
    "Trigger",
    "Triggers",
    "activation_price",
    "best_after_bar",
    "evaluate_bar",
    "side_sign",
    "trailing_fraction",
    "trailing_level",
]
