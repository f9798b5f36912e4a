"""`ExitBook`: the exit levels of every monitored position as numpy columns, checked together on
every price update (ticks with `evaluate`, candles with `evaluate_bars`), with the same rules and
precedence as the scalar `evaluate_bar` of domain/exit_rules.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tradewire.domain.exit_rules import (
    ExitLevels,
    activation_price,
    side_sign,
    trailing_fraction,
    trailing_level,
)
from tradewire.domain.positions import CloseReason

# Reason codes used inside the vectorised evaluation, in precedence order.
_REASONS = (CloseReason.SL, CloseReason.TRAILING, CloseReason.TP, CloseReason.TIMEOUT)
_SL, _TRAILING, _TP, _TIMEOUT = range(4)
# A trailing level computed in float is within a few units in the last place of its exact value: where
# a price lies this close to it (relative), the level is computed exactly (trailing_level) before they
# are compared, so a price exactly at the stop hits it. Far wider than the float error, far narrower
# than any market's tick.
_NEAR_LEVEL = 1e-9

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class Trigger(NamedTuple):
    """One exit found by an evaluation."""

    position_id: int
    reason: CloseReason
    trigger_level: float  # the SL/TP/trailing level crossed; NaN for TIMEOUT
    price: float  # the price that triggered it (the fill reference); NaN if none was known


@dataclass(frozen=True, slots=True)
class Triggers:
    """The exits found by one evaluation, as parallel arrays (few: one per triggered position)."""

    position_ids: IntArray
    reasons: tuple[CloseReason, ...]
    trigger_level: FloatArray
    price: FloatArray

    @classmethod
    def empty(cls) -> Triggers:
        return cls(np.empty(0, np.int64), (), np.empty(0, np.float64), np.empty(0, np.float64))

    def __len__(self) -> int:
        return len(self.reasons)

    def __iter__(self) -> Iterator[Trigger]:
        for i, reason in enumerate(self.reasons):
            yield Trigger(
                int(self.position_ids[i]), reason, float(self.trigger_level[i]), float(self.price[i])
            )


class ExitBook:
    """The exit levels of all monitored positions as numpy columns, checked together on every update.

    Rows grow by doubling (amortised O(1) add) and are removed by moving the last row into the gap
    (O(1)); `_row` maps a position id to its row. Prices are float64 with NaN for "no level",
    sides int8 (+1 long, -1 short), deadlines float64 with +inf for "none".
    """

    _INITIAL_CAPACITY = 64

    def __init__(self) -> None:
        cap = self._INITIAL_CAPACITY
        self._n = 0
        self._row: dict[int, int] = {}
        self._levels: list[ExitLevels] = []  # the levels as given, for exact Decimals in levels_of
        self._symbol_code: dict[str, int] = {}
        self._symbol_name: list[str] = []
        self._symbol_rows: list[int] = []  # monitored positions per symbol code
        self._ids: IntArray = np.empty(cap, np.int64)
        self._sym: npt.NDArray[np.int32] = np.empty(cap, np.int32)
        self._side: npt.NDArray[np.int8] = np.empty(cap, np.int8)
        self._sl: FloatArray = np.empty(cap, np.float64)
        self._tp: FloatArray = np.empty(cap, np.float64)
        self._trail: FloatArray = np.empty(cap, np.float64)  # fraction, not %
        self._start: FloatArray = np.empty(cap, np.float64)  # activation price of the trailing stop
        self._best: FloatArray = np.empty(cap, np.float64)
        self._deadline: FloatArray = np.empty(cap, np.float64)
        self._exiting: BoolArray = np.empty(cap, np.bool_)
        self._moved: BoolArray = np.empty(cap, np.bool_)  # best price changed since last asked

    def _columns(self) -> tuple[npt.NDArray[Any], ...]:
        return (
            self._ids,
            self._sym,
            self._side,
            self._sl,
            self._tp,
            self._trail,
            self._start,
            self._best,
            self._deadline,
            self._exiting,
            self._moved,
        )

    def _grow(self) -> None:
        cap = 2 * len(self._ids)
        self._ids = _grown(self._ids, cap)
        self._sym = _grown(self._sym, cap)
        self._side = _grown(self._side, cap)
        self._sl = _grown(self._sl, cap)
        self._tp = _grown(self._tp, cap)
        self._trail = _grown(self._trail, cap)
        self._start = _grown(self._start, cap)
        self._best = _grown(self._best, cap)
        self._deadline = _grown(self._deadline, cap)
        self._exiting = _grown(self._exiting, cap)
        self._moved = _grown(self._moved, cap)

    def __len__(self) -> int:
        return self._n

    def __contains__(self, position_id: object) -> bool:
        return position_id in self._row

    def symbols(self) -> list[str]:
        """The symbols with at least one monitored position (what the price feed must deliver), sorted."""
        return sorted(name for name, rows in zip(self._symbol_name, self._symbol_rows, strict=True) if rows)

    def upsert(self, position_id: int, symbol: str, levels: ExitLevels) -> None:
        """Monitor a position with exactly these levels (replacing any it had); keeps a pending exit."""
        row = self._row.get(position_id)
        code = self._intern(symbol)
        if row is None:
            if self._n == len(self._ids):
                self._grow()
            row = self._n
            self._n += 1
            self._row[position_id] = row
            self._levels.append(levels)
            self._exiting[row] = False
        else:
            self._symbol_rows[int(self._sym[row])] -= 1
            self._levels[row] = levels
        self._symbol_rows[code] += 1
        entry = float(levels.entry_price)
        trailing = None if levels.trailing_pct is None else float(levels.trailing_pct)
        activation = None if levels.trailing_activation_pct is None else float(levels.trailing_activation_pct)
        self._ids[row] = position_id
        self._sym[row] = code
        self._side[row] = side_sign(levels.side)
        self._sl[row] = math.nan if levels.stop_loss is None else float(levels.stop_loss)
        self._tp[row] = math.nan if levels.take_profit is None else float(levels.take_profit)
        self._trail[row] = trailing_fraction(trailing)
        self._start[row] = activation_price(levels.side, entry, activation)
        self._best[row] = float(levels.best_price)
        self._deadline[row] = math.inf if levels.deadline_s is None else levels.deadline_s
        self._moved[row] = False

    def remove(self, position_id: int) -> bool:
        """Stop monitoring a position; False if it was not monitored (removing twice is harmless)."""
        row = self._row.pop(position_id, None)
        if row is None:
            return False
        self._symbol_rows[int(self._sym[row])] -= 1
        last = self._n - 1
        if row != last:
            for column in self._columns():
                column[row] = column[last]
            self._levels[row] = self._levels[last]
            self._row[int(self._ids[row])] = row
        self._levels.pop()
        self._n = last
        return True

    def levels_of(self, position_id: int) -> ExitLevels:
        """The position's current levels, with the best price as tracked (KeyError if not monitored)."""
        row = self._row[position_id]
        levels = self._levels[row]
        best = float(self._best[row])
        if best == float(levels.best_price):
            return levels
        return replace(levels, best_price=Decimal(repr(best)))

    def mark_exiting(self, position_ids: Iterable[int]) -> None:
        """Exclude positions from evaluation while their exit is pending (KeyError if not monitored)."""
        rows = [self._row[int(position_id)] for position_id in position_ids]
        self._exiting[rows] = True

    def unmark_exiting(self, position_ids: Iterable[int]) -> None:
        """Evaluate these positions again (e.g. their exit order failed); unknown ids are ignored."""
        rows = [row for position_id in position_ids if (row := self._row.get(int(position_id))) is not None]
        self._exiting[rows] = False

    def is_exiting(self, position_id: int) -> bool:
        return bool(self._exiting[self._row[position_id]])

    def best_price_changes(self) -> tuple[IntArray, FloatArray]:
        """(ids, best prices) of the positions whose best price moved since the last call; resets."""
        moved = np.flatnonzero(self._moved[: self._n])
        self._moved[moved] = False
        return self._ids[moved].copy(), self._best[moved].copy()

    def evaluate(self, prices: Mapping[str, float], now_s: float) -> Triggers:
        """Check every monitored position against the latest prices; triggered ones become exiting.

        For each position with a price: the best price ratchets in its favour, then SL (long: price
        <= SL), trailing (price <= best × (1 − trail), once best reached the activation price) and TP
        (price >= TP) are checked; the time limit applies to every position, with NaN as the price
        where none came in this batch. Precedence: SL, TRAILING, TP, TIMEOUT (see the module doc).
        Reported positions are marked exiting, so they are not reported again until `remove` or
        `unmark_exiting`.
        """
        n = self._n
        if n == 0:
            return Triggers.empty()
        price = self._gather({symbol: (value,) for symbol, value in prices.items()}, 1)[0]
        sign = self._side[:n].astype(np.float64)
        live = ~self._exiting[:n]
        priced = live & ~np.isnan(price)
        # Signed space (price × side) turns every short comparison into the long one; exact in float.
        signed_price = sign * price
        signed_best = sign * self._best[:n]
        moved = priced & (signed_price > signed_best)
        self._best[:n][moved] = price[moved]
        self._moved[:n] |= moved
        signed_best = np.where(moved, signed_price, signed_best)
        signed_trail = self._exact_where_near(sign, self._signed_trail_level(sign, signed_best), signed_price)
        # NaN levels (exit not set, trailing not active) compare False: no trigger.
        sl_hit = priced & (signed_price <= sign * self._sl[:n])
        trail_hit = priced & (signed_price <= signed_trail)
        tp_hit = priced & (signed_price >= sign * self._tp[:n])
        timeout = live & (now_s >= self._deadline[:n])
        rows = np.flatnonzero(sl_hit | trail_hit | tp_hit | timeout)
        if len(rows) == 0:
            return Triggers.empty()
        # The first true condition wins: the list is in precedence order.
        choice = np.select([sl_hit[rows], trail_hit[rows], tp_hit[rows]], [_SL, _TRAILING, _TP], _TIMEOUT)
        level = self._crossed_level(rows, choice, sign[rows] * signed_trail[rows], self._best[rows])
        return self._triggers(rows, choice, level, price[rows])

    def evaluate_bars(self, bars: Mapping[str, tuple[float, float, float, float]], now_s: float) -> Triggers:
        """Apply `evaluate_bar` to every position at once: bars are (open, high, low, close) per symbol.

        `now_s` is the time the candles close (for the time limit; a timeout fills at the close, NaN
        for a position whose symbol has no candle). Triggered positions become exiting, as in `evaluate`.
        """
        n = self._n
        if n == 0:
            return Triggers.empty()
        open_, high, low, close = self._gather(bars, 4)
        sign = self._side[:n].astype(np.float64)
        live = ~self._exiting[:n]
        priced = live & ~np.isnan(open_)
        long = sign > 0
        # Signed space: for a short the adverse extreme is the high and the favourable one the low.
        s_open = sign * open_
        s_adverse = np.where(long, low, -high)
        s_favourable = np.where(long, high, -low)
        signed_best = sign * self._best[:n]
        s_sl = sign * self._sl[:n]
        # From the best *before* this candle; exact where a price or the stop loss is at it.
        s_trail = self._exact_where_near(
            sign, self._signed_trail_level(sign, signed_best), s_open, s_adverse, s_sl
        )
        s_tp = sign * self._tp[:n]
        gap_sl = priced & (s_open <= s_sl)
        gap_trail = priced & ~gap_sl & (s_open <= s_trail)
        gap_tp = priced & ~gap_sl & ~gap_trail & (s_open >= s_tp)
        open_fill = gap_sl | gap_trail | gap_tp
        # Of SL and trailing, the one nearer the open (the higher, signed) is crossed first; tie: SL.
        trail_nearer = (s_trail > s_sl) | (np.isnan(s_sl) & ~np.isnan(s_trail))
        s_stop = np.where(trail_nearer, s_trail, s_sl)
        stop_hit = priced & ~open_fill & (s_adverse <= s_stop)
        tp_hit = priced & ~open_fill & ~stop_hit & (s_favourable >= s_tp)
        timeout = live & (now_s >= self._deadline[:n])
        new_best = np.fmax(signed_best, np.where(priced, s_favourable, np.nan))
        moved = new_best > signed_best
        self._best[:n][moved] = sign[moved] * new_best[moved]
        self._moved[:n] |= moved
        rows = np.flatnonzero(open_fill | stop_hit | tp_hit | timeout)
        if len(rows) == 0:
            return Triggers.empty()
        trail_stop = stop_hit[rows] & trail_nearer[rows]
        choice = np.select(
            [
                gap_sl[rows] | (stop_hit[rows] & ~trail_stop),
                gap_trail[rows] | trail_stop,
                gap_tp[rows] | tp_hit[rows],
            ],
            [_SL, _TRAILING, _TP],
            _TIMEOUT,
        )
        level = self._crossed_level(rows, choice, sign[rows] * s_trail[rows], sign[rows] * signed_best[rows])
        fill = np.where(open_fill[rows], open_[rows], np.where(choice == _TIMEOUT, close[rows], level))
        return self._triggers(rows, choice, level, fill)

    def _gather(self, values: Mapping[str, tuple[float, ...]], width: int) -> list[FloatArray]:
        """Per-row columns from per-symbol values: one vector per field indexed by symbol code, gathered."""
        by_code = np.full((width, len(self._symbol_name)), np.nan)
        for symbol, fields in values.items():
            code = self._symbol_code.get(symbol)
            if code is not None:  # prices for symbols nobody holds are simply not needed
                by_code[:, code] = fields
        codes = self._sym[: self._n]
        return [by_code[i][codes] for i in range(width)]

    def _signed_trail_level(self, sign: FloatArray, signed_best: FloatArray) -> FloatArray:
        """Signed trailing level (NaN where off or not yet active): best × (1 − trail) for a long."""
        n = self._n
        active = signed_best >= sign * self._start[:n]
        level = signed_best * (1.0 - sign * self._trail[:n])
        return np.where(active, level, np.nan)

    def _exact_where_near(
        self, sign: FloatArray, signed_trail: FloatArray, *compared: FloatArray
    ) -> FloatArray:
        """`signed_trail` with the exact level (trailing_level, from the best price tracked) in the rows
        where one of the `compared` signed prices lies within _NEAR_LEVEL of it; few rows, if any."""
        active = np.flatnonzero(~np.isnan(signed_trail))
        level = signed_trail[active]
        band = np.abs(level) * _NEAR_LEVEL
        near = np.zeros(len(active), np.bool_)
        for values in compared:
            near |= np.abs(values[active] - level) <= band  # NaN (no price) is never near
        rows = active[near]
        if len(rows) == 0:
            return signed_trail
        exact = signed_trail.copy()
        for row in rows.tolist():
            given = self._levels[row]
            assert given.trailing_pct is not None  # a NaN level is never near
            exact[row] = sign[row] * trailing_level(given.side, float(self._best[row]), given.trailing_pct)
        return exact

    def _crossed_level(
        self, rows: IntArray, choice: IntArray, trail: FloatArray, best: FloatArray
    ) -> FloatArray:
        """The level each triggered row crossed, by its reason; NaN for a time limit (no level). A
        trailing stop's is its exact level at the best price it was measured from (`best`)."""
        trail = trail.copy()
        for i in np.flatnonzero(choice == _TRAILING).tolist():
            given = self._levels[int(rows[i])]
            assert given.trailing_pct is not None
            trail[i] = trailing_level(given.side, float(best[i]), given.trailing_pct)
        levels = np.stack([self._sl[rows], trail, self._tp[rows], np.full(len(rows), np.nan)])
        picked: FloatArray = levels[choice, np.arange(len(rows))]
        return picked

    def _triggers(self, rows: IntArray, choice: IntArray, level: FloatArray, price: FloatArray) -> Triggers:
        # Reported once: the caller removes the position when its exit order is stored.
        self._exiting[rows] = True
        return Triggers(
            position_ids=self._ids[rows].copy(),
            reasons=tuple(_REASONS[i] for i in choice.tolist()),
            trigger_level=level,
            price=np.asarray(price, dtype=np.float64),
        )

    def _intern(self, symbol: str) -> int:
        code = self._symbol_code.get(symbol)
        if code is None:
            code = len(self._symbol_name)
            self._symbol_code[symbol] = code
            self._symbol_name.append(symbol)
            self._symbol_rows.append(0)
        return code


def _grown(column: npt.NDArray[Any], capacity: int) -> npt.NDArray[Any]:
    bigger = np.empty(capacity, column.dtype)
    bigger[: len(column)] = column
    return bigger
