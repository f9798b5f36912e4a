"""The event-driven backtester: a simulated clock walks the candles one by one, with the live domain code.

`run_backtest` is the entry point; it takes the fast path (`fast.py`) when it can and this engine
otherwise. Both produce the same trades, to the float, and the same PnL to about 1e-12.

Rules, per candle of a symbol (long only, spot, one position per symbol at a time):
  (a) an exit signal from the previous candle fills at this candle's open (sells get open × (1 − s));
      the position is then flat for this candle: no stop check;
  (b) an entry signal from the previous candle fills at this candle's open (buys pay open × (1 + s)),
      sized by `Sizing.entry`; its levels come from the fill price (`ExitPlan`, as live);
  (c) an open position, the one just opened included, is checked with `exits.evaluate_bar` over this
      candle: a gap through a level fills at the open, a stop wins over a target touched in the same
      candle, a time limit fills at the close. Exit fills pay the slippage too;
  (d) the strategy's signal at this candle's close becomes the order for the next open: an entry when
      flat (ignored while in a position), an exit when in a position (ignored when flat).
Fees: fee_rate × notional on each side. A position still open after a symbol's last candle is closed
at that candle's close with reason "END" (so every trade counts in the report and the final equity is
realised); backtesting.py does the same with `finalize_trades=True`, though at the last candle's open.

Times: a trade's entry and exit times are the open times of the candles in which they filled (the moment
inside a candle is unknown), as backtesting.py reports them.

Several symbols share one account, walked on the merged timeline (the union of their timestamps; a symbol
without a candle at a time keeps its last close for the mark). At each time: every pending exit fills,
then every pending entry in symbol order, then the stops are checked, then equity is marked at the close
(the curve), then signals are read. An entry is sized on the equity of the previous close and skipped
when the cash cannot pay for it (notional + fee), or when the sizing gives nothing (zero equity, no Kelly
edge). Accounting is the live `Position` in Decimal; the per-candle equity mark is float.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal

import numpy as np

from tradewire.domain.backtest import fast as fast_path
from tradewire.domain.backtest.model import (
    END,
    BacktestConfig,
    BacktestResult,
    EnginePath,
    Levels,
    Outcome,
    Series,
    buy_fill,
    entry_levels,
    prepare,
    resolve_timeframe,
    sell_fill,
)
from tradewire.domain.candles import Candles, timeframe_ms
from tradewire.domain.exits import best_after_bar, evaluate_bar
from tradewire.domain.metrics import ClosedTrade, build_report
from tradewire.domain.money import to_decimal
from tradewire.domain.orders import OrderSide
from tradewire.domain.positions import CloseReason, Position
from tradewire.domain.sizing import SizingError, TradeStats
from tradewire.domain.strategies.base import Strategy

__all__ = ["BacktestConfig", "BacktestResult", "run_backtest", "run_event_driven"]

Progress = Callable[[float], None]

# Kelly sizing reads the strategy's record as live does: the last 500 closed trades, net of fees.
_STATS_WINDOW = 500
_PROGRESS_STEPS = 200


def run_backtest(
    strategy: Strategy,
    candles_by_symbol: Mapping[str, Candles],
    config: BacktestConfig | None = None,
    progress: Progress | None = None,
    fast: bool = True,
) -> BacktestResult:
    """Backtest `strategy` over every series of `candles_by_symbol` on one account.

    With `fast` (the default) the vectorised path runs when it gives the event-driven answer exactly:
    fixed-quote sizing, no trailing stop, and the shared account never limiting an entry (enough cash,
    stake under the sizing cap; checked after the run). Otherwise, or with `fast=False`, the candles
    are walked one by one. `progress` receives growing fractions of the work done (the event-driven walk
    reports about 200 times), ending with exactly 1.0.
    """
    config = config or BacktestConfig()
    timeframe = resolve_timeframe(candles_by_symbol, config.timeframe)
    tf_ms = timeframe_ms(timeframe)
    series = prepare(strategy, candles_by_symbol, tf_ms)
    note = ""
    if fast:
        # No progress from the fast path: it takes well under a second, and a fallback would restart at 0.
        outcome = fast_path.simulate(series, config)
        if isinstance(outcome, Outcome):
            return _result(outcome, config, timeframe, tf_ms, "fast", "", progress)
        note = outcome
    outcome = run_event_driven(series, config, progress)
    return _result(outcome, config, timeframe, tf_ms, "event", note, progress)


def _result(
    outcome: Outcome,
    config: BacktestConfig,
    timeframe: str,
    tf_ms: int,
    path: EnginePath,
    note: str,
    progress: Progress | None,
) -> BacktestResult:
    trades = tuple(sorted(outcome.trades, key=lambda t: (t.entry_time_ms, t.symbol)))
    report = build_report(trades, outcome.ts, outcome.equity, config.initial_capital, tf_ms)
    if progress is not None:
        progress(1.0)
    return BacktestResult(
        trades=trades,
        ts_ms=outcome.ts,
        equity=outcome.equity,
        report=report,
        config=config,
        timeframe=timeframe,
        path=path,
        note=note,
        skipped_entries=outcome.skipped,
    )


class _Book:
    """One symbol's state in the event loop."""

    __slots__ = (
        "amount",
        "best",
        "entry_fill",
        "entry_ts",
        "last_close",
        "levels",
        "pending",
        "position",
        "signal_row",
    )

    def __init__(self) -> None:
        self.position: Position | None = None
        self.amount = 0.0  # float copy of position.amount, for the mark
        self.entry_fill = 0.0
        self.entry_ts = 0
        self.best = 0.0
        self.levels = Levels(None, None, None, None, None)
        self.pending = _NONE
        self.signal_row = 0  # the candle whose signal made the pending entry
        self.last_close = math.nan


_NONE, _BUY, _SELL = 0, 1, 2


class _Account:
    """Cash (Decimal, exact) and the trade record that Kelly sizing reads."""

    def __init__(self, config: BacktestConfig) -> None:
        self.config = config
        self.cash = to_decimal(config.initial_capital)
        self.cash_f = float(self.cash)
        self.fee_rate = to_decimal(config.fee_rate)
        self.trades: list[ClosedTrade] = []
        self.skipped = 0
        self._recent: deque[Decimal] = deque(maxlen=_STATS_WINDOW)

    def stats(self) -> TradeStats:
        return TradeStats.of(self._recent)

    def buy(self, book: _Book, series: Series, row: int, equity: float) -> None:
        """Fill the pending entry at this candle's open, or skip it (no size, not enough cash)."""
        config = self.config
        fill = buy_fill(float(series.open[row]), config.slippage)
        opened_at_ms = int(series.ts[row])
        levels, stop = entry_levels(config.exit_rules, series, book.signal_row, fill, opened_at_ms / 1000)
        price = to_decimal(fill)
        sizing = config.sizing.with_stop(price, stop)
        try:
            stats = self.stats() if sizing.needs_stats else None
            amount = sizing.entry(price, to_decimal(equity), None, stats).amount
        except SizingError:
            self.skipped += 1
            return
        fee = self.fee_rate * amount * price
        cost = amount * price + fee
        if amount <= 0 or cost > self.cash:
            self.skipped += 1
            return
        self.cash -= cost
        self.cash_f = float(self.cash)
        book.position = Position(series.symbol).apply_fill(OrderSide.BUY, amount, price, fee)
        book.amount = float(amount)
        book.entry_fill = fill
        book.entry_ts = opened_at_ms
        book.best = fill
        book.levels = levels

    def sell(self, book: _Book, series: Series, row: int, fill: float, reason: str) -> None:
        position = book.position
        assert position is not None
        price = to_decimal(fill)
        amount = position.amount
        fee = self.fee_rate * amount * price
        close_reason = CloseReason(reason) if reason != END else CloseReason.SIGNAL
        closed = position.apply_fill(OrderSide.SELL, amount, price, fee, close_reason)
        self.cash += amount * price - fee
        self.cash_f = float(self.cash)
        net = closed.net_realized_pnl
        self._recent.append(net)
        self.trades.append(
            ClosedTrade(
                symbol=series.symbol,
                side="long",
                entry_time_ms=book.entry_ts,
                exit_time_ms=int(series.ts[row]),
                entry_price=book.entry_fill,
                exit_price=fill,
                amount=float(amount),
                fees=float(closed.fees),
                pnl=float(net),
                exit_reason=reason,
            )
        )
        book.position = None
        book.amount = 0.0


def run_event_driven(
    series: list[Series], config: BacktestConfig, progress: Progress | None = None
) -> Outcome:
    """Walk the merged timeline candle by candle (see the module doc for the order of events)."""
    union = series[0].ts if len(series) == 1 else np.unique(np.concatenate([s.ts for s in series]))
    step_of = np.concatenate([np.searchsorted(union, s.ts) for s in series])
    symbol_of = np.concatenate([np.full(len(s), k, dtype=np.int64) for k, s in enumerate(series)])
    row_of = np.concatenate([np.arange(len(s), dtype=np.int64) for s in series])
    order = np.lexsort((symbol_of, step_of))
    bounds = np.searchsorted(step_of[order], np.arange(len(union) + 1)).tolist()
    events = list(zip(symbol_of[order].tolist(), row_of[order].tolist(), strict=True))

    slippage = config.slippage
    rules = config.exit_rules
    account = _Account(config)
    books = [_Book() for _ in series]
    columns = [
        (s.open.tolist(), s.high.tolist(), s.low.tolist(), s.close.tolist(), s.close_s.tolist())
        for s in series
    ]
    entries = [s.entries.tolist() for s in series]
    exits = [s.exits.tolist() for s in series]
    last_row = [len(s) - 1 for s in series]
    trailing = rules.trailing_pct is not None
    equity = np.empty(len(union), dtype=np.float64)
    previous_equity = config.initial_capital
    every = max(1, len(union) // _PROGRESS_STEPS)

    for step in range(len(union)):
        batch = events[bounds[step] : bounds[step + 1]]
        # (a) exits decided at the previous close fill at this open.
        for k, row in batch:
            book = books[k]
            if book.pending == _SELL:
                book.pending = _NONE
                fill = sell_fill(columns[k][0][row], slippage)
                account.sell(book, series[k], row, fill, CloseReason.SIGNAL.value)
        # (b) then entries, sized on the equity of the previous close.
        for k, row in batch:
            book = books[k]
            if book.pending == _BUY:
                book.pending = _NONE
                account.buy(book, series[k], row, previous_equity)
        # (c) stops, targets and time limits within this candle; END after a symbol's last candle.
        for k, row in batch:
            book = books[k]
            opens, highs, lows, closes, close_s = columns[k]
            close = closes[row]
            book.last_close = close
            if book.position is None:
                continue
            levels = book.levels
            high, low = highs[row], lows[row]
            hit = evaluate_bar(
                "long",
                opens[row],
                high,
                low,
                close,
                entry_price=book.entry_fill,
                best_price=book.best,
                stop_loss=levels.stop_loss,
                take_profit=levels.take_profit,
                trailing_pct=levels.trailing_pct,
                trailing_activation_pct=levels.trailing_activation_pct,
                deadline_s=levels.deadline_s,
                now_s=close_s[row],
            )
            if hit is not None:
                account.sell(book, series[k], row, sell_fill(hit.fill_price, slippage), hit.reason.value)
            elif row == last_row[k]:
                account.sell(book, series[k], row, sell_fill(close, slippage), END)
            elif trailing:
                book.best = best_after_bar("long", book.best, high, low)
        # Mark to market at the close.
        value = account.cash_f
        for book in books:
            if book.position is not None:
                value += book.amount * book.last_close
        equity[step] = value
        previous_equity = value
        # (d) signals at this close become orders for the next open.
        for k, row in batch:
            book = books[k]
            if book.position is None:
                if entries[k][row]:
                    book.pending = _BUY
                    book.signal_row = row
            elif exits[k][row]:
                book.pending = _SELL
        if progress is not None and step % every == 0:
            progress(step / len(union))

    return Outcome(account.trades, union, equity, account.skipped)
