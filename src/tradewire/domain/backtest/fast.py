"""The fast path: the event-driven engine's trades, found with array searches instead of a candle loop.

Only the number of TRADES is a Python loop, never the number of candles. For one symbol:
1. `V` = the tradable entry candles, `S` = the exit-signal candles (numpy). An entry at v fills at
   e = v + 1; its signal exit fills at x_sig = (first S >= e) + 1, or never (n) if none is left.
2. Ignoring stops, the trades form a chain: the next entry is the first v >= the exit candle. That chain
   is walked over integers, and for all its trades at once the first candle in [e, x_sig) where
   `evaluate_bar` can fire (open or low <= SL, open or high >= TP, close time >= deadline) is found with
   one masked search over the concatenated windows (they do not overlap: total work <= n).
3. The real chain is then walked trade by trade: the exit is the earlier of that candle and x_sig. At a
   stop candle `exits.evaluate_bar` itself gives the reason and the fill (gap at the open, stop before
   target, time limit at the close), so the rule is never re-implemented. After a stop the next entry is
   the first v >= the stop candle; when that is not a trade of step 2 (a strategy that signals entries
   while in a position), its window is searched on its own, in growing slices.
PnL and the mark-to-market curve are then computed with arrays, from the same fills.

Several symbols are simulated independently, each on its own clock, and combined: trades are pooled and
the equity is the initial capital plus every symbol's PnL so far on the merged timeline. That equals the
shared-account walk exactly when the account never limits an entry, which is checked afterwards: every
entry's stake must stay under the sizing cap of the equity at the previous close, and the cash at its
open (after that open's signal exits and the symbol-ordered entries before it) must pay notional + fee.
If not, or when the sizing depends on equity (equity_pct, risk_pct, kelly) or a trailing stop is set
(its level follows each candle's high: not vectorised here), `simulate` declines and says why, and
`run_backtest` walks the candles instead.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from tradewire.domain.backtest.model import (
    END,
    BacktestConfig,
    FloatArray,
    IntArray,
    Levels,
    Outcome,
    Series,
    buy_fill,
    entry_levels,
    sell_fill,
)
from tradewire.domain.exits import evaluate_bar
from tradewire.domain.metrics import ClosedTrade
from tradewire.domain.positions import CloseReason

_SIGNAL = CloseReason.SIGNAL.value
# Room left for float rounding when checking that the account never limited an entry.
_MARGIN = 1e-9
_FIRST_SLICE = 64


@dataclass(frozen=True, slots=True, eq=False)
class _Trades:
    """One symbol's trades as parallel arrays (entry and exit candle rows, fills, reasons)."""

    entry_row: IntArray
    exit_row: IntArray
    entry_fill: FloatArray
    exit_fill: FloatArray
    reasons: list[str]


def simulate(series: list[Series], config: BacktestConfig) -> Outcome | str:
    """The backtest of `series` on the fast path, or why it cannot be done there (see the module doc)."""
    if config.equity_dependent:
        return f"sizing '{config.sizing.mode.value}' depends on the account: walked candle by candle"
    if config.exit_rules.trailing_pct is not None:
        return "a trailing stop follows every candle: walked candle by candle"
    stake = float(config.sizing.value)
    fee_rate = config.fee_rate
    trades: list[ClosedTrade] = []
    contributions: list[FloatArray] = []
    events: list[tuple[IntArray, IntArray, FloatArray, IntArray, FloatArray]] = []
    for s in series:
        found = _trades(s, config)
        amount = stake / found.entry_fill
        fee_in = fee_rate * amount * found.entry_fill
        fee_out = fee_rate * amount * found.exit_fill
        pnl = (found.exit_fill - found.entry_fill) * amount - fee_in - fee_out
        contributions.append(_contribution(s, found, amount, fee_in, pnl))
        trades.extend(_closed_trades(s, found, amount, fee_in + fee_out, pnl))
        exit_stage = np.array([0 if r == _SIGNAL else 2 for r in found.reasons], dtype=np.int64)
        events.append(
            (
                s.ts[found.entry_row],
                s.ts[found.exit_row],
                amount * found.entry_fill + fee_in,
                exit_stage,
                amount * found.exit_fill - fee_out,
            )
        )
    union, equity = _combined(series, contributions, config.initial_capital)
    why = _account_limits(events, union, equity, config, stake)
    if why:
        return why
    return Outcome(trades, union, equity, 0)


def _trades(s: Series, config: BacktestConfig) -> _Trades:
    n = len(s)
    entries = np.flatnonzero(s.entries)
    if len(entries) == 0:
        return _Trades(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0), [])
    exit_signals = np.flatnonzero(s.exits)
    at = np.searchsorted(exit_signals, entries + 1)
    signal_row = np.full(len(entries), n, dtype=np.int64)
    found = at < len(exit_signals)
    signal_row[found] = exit_signals[at[found]]
    signal_exit = np.minimum(signal_row + 1, n)  # the candle whose open fills the exit signal; n: none
    next_entry = np.searchsorted(entries, signal_exit).tolist()
    signal_exit_l: list[int] = signal_exit.tolist()

    # The chain of trades if no stop ever fired; their stop windows do not overlap.
    chain: list[int] = []
    k = 0
    while k < len(entries):
        chain.append(k)
        if signal_exit_l[k] >= n:
            break
        k = next_entry[k]
    members = np.array(chain, dtype=np.int64)
    entry_row = entries[members] + 1
    fills = buy_fill(s.open[entry_row], config.slippage)
    fills_l: list[float] = fills.tolist()
    entries_l: list[int] = entries.tolist()
    levels = [
        entry_levels(config.exit_rules, s, entries_l[m], fills_l[i], int(s.ts[entries_l[m] + 1]) / 1000)[0]
        for i, m in enumerate(chain)
    ]
    stop_l: list[int] = _first_hits(s, entry_row, signal_exit[members], levels).tolist()
    slot = dict(zip(chain, range(len(chain)), strict=True))

    # The real chain: the earlier of the stop candle and the signal exit, then the next entry after it.
    opens, highs, lows, closes, close_s = s.open, s.high, s.low, s.close, s.close_s
    slippage = config.slippage
    out_entry: list[int] = []
    out_exit: list[int] = []
    out_in: list[float] = []
    out_out: list[float] = []
    reasons: list[str] = []
    k = 0
    while k < len(entries):
        e = entries_l[k] + 1
        x_signal = signal_exit_l[k]
        i = slot.get(k)
        if i is not None:
            fill, lv, x_stop = fills_l[i], levels[i], stop_l[i]
        else:
            fill = buy_fill(float(opens[e]), slippage)
            lv = entry_levels(config.exit_rules, s, e - 1, fill, int(s.ts[e]) / 1000)[0]
            x_stop = _scan(s, e, x_signal, lv)
        if x_stop < x_signal:
            hit = evaluate_bar(
                "long",
                float(opens[x_stop]),
                float(highs[x_stop]),
                float(lows[x_stop]),
                float(closes[x_stop]),
                entry_price=fill,
                best_price=fill,
                stop_loss=lv.stop_loss,
                take_profit=lv.take_profit,
                deadline_s=lv.deadline_s,
                now_s=float(close_s[x_stop]),
            )
            if hit is None:  # the masks above are evaluate_bar's own conditions
                raise AssertionError(f"{s.symbol}: no exit at row {x_stop} although a level was crossed")
            x, exit_fill, reason = x_stop, sell_fill(hit.fill_price, slippage), hit.reason.value
        elif x_signal < n:
            x, exit_fill, reason = x_signal, sell_fill(float(opens[x_signal]), slippage), _SIGNAL
        else:
            x, exit_fill, reason = n - 1, sell_fill(float(closes[n - 1]), slippage), END
        out_entry.append(e)
        out_exit.append(x)
        out_in.append(fill)
        out_out.append(exit_fill)
        reasons.append(reason)
        k = bisect_left(entries_l, x, lo=k + 1)
    return _Trades(
        np.array(out_entry, dtype=np.int64),
        np.array(out_exit, dtype=np.int64),
        np.array(out_in, dtype=np.float64),
        np.array(out_out, dtype=np.float64),
        reasons,
    )


def _level_columns(levels: list[Levels]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """SL, TP and deadline per trade; NaN or +inf where unset (comparisons then never fire)."""
    sl = np.array([math.nan if lv.stop_loss is None else lv.stop_loss for lv in levels], dtype=np.float64)
    tp = np.array([math.nan if lv.take_profit is None else lv.take_profit for lv in levels], dtype=np.float64)
    dl = np.array([math.inf if lv.deadline_s is None else lv.deadline_s for lv in levels], dtype=np.float64)
    return sl, tp, dl


def _first_hits(s: Series, starts: IntArray, ends: IntArray, levels: list[Levels]) -> IntArray:
    """For windows [starts[i], ends[i]) that do not overlap: the first row where trade i's SL, TP or time
    limit can fire (len(s) where none does), in one pass over all the windows."""
    n = len(s)
    result = np.full(len(starts), n, dtype=np.int64)
    sl, tp, dl = _level_columns(levels)
    use_sl = not bool(np.isnan(sl).all())
    use_tp = not bool(np.isnan(tp).all())
    use_dl = bool((dl < math.inf).any())
    if not (use_sl or use_tp or use_dl):
        return result
    lengths = ends - starts
    total = int(lengths.sum())
    trade = np.repeat(np.arange(len(starts), dtype=np.int64), lengths)
    offsets = np.cumsum(lengths) - lengths
    rows = np.arange(total, dtype=np.int64) - np.repeat(offsets - starts, lengths)
    hit = np.zeros(total, dtype=np.bool_)
    if use_sl:
        level = sl[trade]
        hit |= (s.open[rows] <= level) | (s.low[rows] <= level)
    if use_tp:
        level = tp[trade]
        hit |= (s.open[rows] >= level) | (s.high[rows] >= level)
    if use_dl:
        hit |= s.close_s[rows] >= dl[trade]
    at = np.flatnonzero(hit)
    if len(at):
        owner = trade[at]
        first = np.ones(len(at), dtype=np.bool_)
        first[1:] = owner[1:] != owner[:-1]
        result[owner[first]] = rows[at[first]]
    return result


def _scan(s: Series, start: int, end: int, lv: Levels) -> int:
    """`_first_hits` for one window, searched in growing slices (cost follows the trade's length)."""
    sl = math.nan if lv.stop_loss is None else lv.stop_loss
    tp = math.nan if lv.take_profit is None else lv.take_profit
    dl = math.inf if lv.deadline_s is None else lv.deadline_s
    size = _FIRST_SLICE
    while start < end:
        stop = min(end, start + size)
        part = slice(start, stop)
        hit = (s.open[part] <= sl) | (s.low[part] <= sl) | (s.open[part] >= tp) | (s.high[part] >= tp)
        hit |= s.close_s[part] >= dl
        if bool(hit.any()):
            return start + int(np.argmax(hit))
        start, size = stop, size * 4
    return len(s)


def _contribution(
    s: Series, found: _Trades, amount: FloatArray, fee_in: FloatArray, pnl: FloatArray
) -> FloatArray:
    """This symbol's PnL at each of its closes: realised so far plus the open trade marked at the close."""
    n = len(s)
    realised = np.zeros(n, dtype=np.float64)
    np.add.at(realised, found.exit_row, pnl)
    value = np.cumsum(realised)
    lengths = found.exit_row - found.entry_row  # open at the closes of rows e .. x - 1
    if len(lengths) and int(lengths.sum()):
        trade = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        offsets = np.cumsum(lengths) - lengths
        rows = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(offsets - found.entry_row, lengths)
        value[rows] += amount[trade] * (s.close[rows] - found.entry_fill[trade]) - fee_in[trade]
    return value


def _combined(
    series: list[Series], contributions: list[FloatArray], initial_capital: float
) -> tuple[IntArray, FloatArray]:
    if len(series) == 1:
        return series[0].ts, initial_capital + contributions[0]
    union = np.unique(np.concatenate([s.ts for s in series]))
    equity = np.full(len(union), initial_capital, dtype=np.float64)
    for s, value in zip(series, contributions, strict=True):
        last = np.searchsorted(s.ts, union, side="right") - 1
        seen = last >= 0
        equity[seen] += value[last[seen]]
    return union, equity


def _account_limits(
    events: list[tuple[IntArray, IntArray, FloatArray, IntArray, FloatArray]],
    union: IntArray,
    equity: FloatArray,
    config: BacktestConfig,
    stake: float,
) -> str:
    """Why the shared account would have limited an entry (then the fast answer is not exact), or ''."""
    entry_ts = np.concatenate([e[0] for e in events])
    if len(entry_ts) == 0:
        return ""
    # The sizing cap, measured on the equity at the previous close.
    step = np.searchsorted(union, entry_ts)
    before = np.where(step > 0, equity[np.maximum(step - 1, 0)], config.initial_capital)
    cap = before * float(config.sizing.params.max_position_pct) / 100.0
    if bool((stake > cap * (1 - _MARGIN)).any()):
        return "the sizing cap (max_position_pct of equity) limits an entry: walked candle by candle"
    # The cash: at each time, signal exits (stage 0), entries by symbol (1), then stops and END (2).
    symbol = np.concatenate([np.full(len(e[0]), k, dtype=np.int64) for k, e in enumerate(events)])
    times = np.concatenate([entry_ts, np.concatenate([e[1] for e in events])])
    stage = np.concatenate([np.ones(len(entry_ts), dtype=np.int64), np.concatenate([e[3] for e in events])])
    delta = np.concatenate([-np.concatenate([e[2] for e in events]), np.concatenate([e[4] for e in events])])
    order = np.lexsort((np.concatenate([symbol, symbol]), stage, times))
    cash = config.initial_capital + np.cumsum(delta[order])
    is_entry = order < len(entry_ts)
    if bool((cash[is_entry] < _MARGIN * config.initial_capital).any()):
        return "the cash does not pay for every entry: walked candle by candle"
    return ""


def _closed_trades(
    s: Series, found: _Trades, amount: FloatArray, fees: FloatArray, pnl: FloatArray
) -> list[ClosedTrade]:
    entry_ms: list[int] = s.ts[found.entry_row].tolist()
    exit_ms: list[int] = s.ts[found.exit_row].tolist()
    return [
        ClosedTrade(
            symbol=s.symbol,
            side="long",
            entry_time_ms=entry_ms[i],
            exit_time_ms=exit_ms[i],
            entry_price=entry_fill,
            exit_price=exit_fill,
            amount=amount_i,
            fees=fee,
            pnl=result,
            exit_reason=found.reasons[i],
        )
        for i, (entry_fill, exit_fill, amount_i, fee, result) in enumerate(
            zip(
                found.entry_fill.tolist(),
                found.exit_fill.tolist(),
                amount.tolist(),
                fees.tolist(),
                pnl.tolist(),
                strict=True,
            )
        )
    ]
