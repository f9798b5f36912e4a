"""Backtest performance metrics: trade statistics and equity-curve ratios (pure: numpy, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
"""Crypto markets trade every day, so a year is 365 days of candles (not 252 trading days)."""

# Conventions, chosen to match vectorbt-style per-bar reports so numbers can be compared with them:
# * The curve starts at `initial_capital` at the open of the first candle, and `equity[i]` is the
#   mark-to-market value at the close of candle i (open time ts_ms[i]). So n candles give n simple
#   returns, the first one from the initial capital, and the curve spans ts_ms[-1] + timeframe - ts_ms[0].
# * Periods per year = YEAR_MS / timeframe_ms; a missing candle (gap) is not a period, so gaps do not
#   dilute volatility with invented zero returns.
# * Sharpe = mean / std(ddof=1) of the per-candle returns × sqrt(periods per year), risk-free rate 0.
#   backtesting.py differs on purpose: it resamples equity to daily returns and divides a geometric
#   annual return by an annualised volatility, so its Sharpe is not comparable bar for bar.
# * Sortino = mean / downside deviation × sqrt(periods per year), the downside deviation being
#   sqrt(mean(min(r, 0)²)) over all periods (target 0, as empyrical and vectorbt do).
# * No variation (flat equity, a single candle) gives Sharpe and Sortino 0 rather than NaN: the
#   report should say "no evidence of skill", not break JSON. Unbounded ratios (no losing trade, no
#   downside, no drawdown with a gain) are float('inf'); `as_json` renders them as null.
# * Exposure is computed from the trade intervals: a candle counts as exposed when any trade was open
#   during part of it, so the caller need not track it, and overlapping trades are counted once.

_SIDES = frozenset({"long", "short"})
# Below this a per-candle standard deviation is float noise from a flat or constant-growth curve.
_NO_VARIATION = 1e-12


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """One finished round trip; `fees` and `pnl` are in the quote currency, `pnl` net of fees."""

    symbol: str
    side: str
    entry_time_ms: int
    exit_time_ms: int
    entry_price: float
    exit_price: float
    amount: float
    fees: float
    pnl: float
    exit_reason: str

    def __post_init__(self) -> None:
        if self.side not in _SIDES:
            raise ValueError(f"{self.symbol}: side must be 'long' or 'short', got {self.side!r}")
        # Written as `not x > 0` so NaN is refused too; return_pct divides by this notional.
        if not (self.entry_price > 0 and self.amount > 0):
            raise ValueError(f"{self.symbol}: entry price and amount must be positive")
        if not all(math.isfinite(v) for v in (self.exit_price, self.fees, self.pnl)):
            raise ValueError(f"{self.symbol}: exit price, fees and pnl must be finite")
        if self.exit_time_ms < self.entry_time_ms:
            raise ValueError(
                f"{self.symbol}: exit at {self.exit_time_ms} before entry at {self.entry_time_ms}"
            )

    @property
    def return_pct(self) -> float:
        """Net P&L as a percentage of the entry notional."""
        return self.pnl / (self.entry_price * self.amount) * 100.0


@dataclass(frozen=True, slots=True)
class PairRow:
    """Trade statistics of one symbol."""

    symbol: str
    trades: int
    win_rate_pct: float
    pnl: float
    avg_return_pct: float


@dataclass(frozen=True, slots=True)
class ExitReasonRow:
    """Trade statistics of one exit reason (SL, TP, TRAILING…)."""

    reason: str
    trades: int
    win_rate_pct: float
    pnl: float


@dataclass(frozen=True, slots=True)
class Report:
    """Performance of one backtest; percentages are in percent, money in the quote currency."""

    trades: int
    wins: int
    losses: int
    win_rate_pct: float
    total_return_pct: float
    annualized_return_pct: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown_pct: float
    max_drawdown_duration_ms: int
    profit_factor: float
    expectancy: float
    expectancy_pct: float
    avg_win: float
    avg_loss: float
    best_trade_pct: float
    worst_trade_pct: float
    avg_holding_ms: int
    exposure_pct: float
    fees_paid: float
    initial_capital: float
    final_equity: float
    span_ms: int
    per_pair: tuple[PairRow, ...]
    per_exit_reason: tuple[ExitReasonRow, ...]

    def as_json(self) -> dict[str, Any]:
        """A JSON-safe dict for programs: every float at full precision, inf and NaN as None (only the
        tables for people round)."""
        return _jsonable(self)

    def summary_rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a CLI table."""
        return [
            ("Initial capital", _money(self.initial_capital)),
            ("Final equity", _money(self.final_equity)),
            ("Total return", _pct(self.total_return_pct, signed=True)),
            ("Annualized return", _pct(self.annualized_return_pct, signed=True)),
            ("Period", _duration(self.span_ms)),
            ("Sharpe", _num(self.sharpe)),
            ("Sortino", _num(self.sortino)),
            ("Calmar", _num(self.calmar)),
            ("Max drawdown", _pct(self.max_drawdown_pct)),
            ("Max drawdown duration", _duration(self.max_drawdown_duration_ms)),
            ("Exposure", _pct(self.exposure_pct)),
            ("Trades", str(self.trades)),
            ("Wins / losses", f"{self.wins} / {self.losses}"),
            ("Win rate", _pct(self.win_rate_pct)),
            ("Profit factor", _num(self.profit_factor)),
            ("Expectancy", f"{_money(self.expectancy)} ({_pct(self.expectancy_pct, signed=True)})"),
            ("Avg win / loss", f"{_money(self.avg_win)} / {_money(self.avg_loss)}"),
            (
                "Best / worst trade",
                f"{_pct(self.best_trade_pct, signed=True)} / {_pct(self.worst_trade_pct, signed=True)}",
            ),
            ("Avg holding time", _duration(self.avg_holding_ms)),
            ("Fees paid", _money(self.fees_paid)),
        ]


def build_report(
    trades: Sequence[ClosedTrade],
    ts_ms: npt.ArrayLike,
    equity: npt.ArrayLike,
    initial_capital: float,
    timeframe_ms: int,
) -> Report:
    """Compute every metric of a backtest from its closed trades and its per-candle equity curve."""
    ts, values = _curve(ts_ms, equity)
    if not (math.isfinite(initial_capital) and initial_capital > 0):
        raise ValueError(f"initial capital must be positive, got {initial_capital}")
    if timeframe_ms <= 0:
        raise ValueError(f"timeframe must be positive, got {timeframe_ms} ms")

    points = np.concatenate(([float(initial_capital)], values))
    times = np.concatenate((ts[:1], ts + timeframe_ms)) if len(ts) else np.zeros(1, dtype=np.int64)
    returns = period_returns(points)
    periods_per_year = YEAR_MS / timeframe_ms
    final_equity = float(points[-1])
    total_return_pct = (final_equity / initial_capital - 1.0) * 100.0
    span_ms = int(times[-1] - times[0])
    annualized = annualized_return_pct(final_equity / initial_capital, span_ms)
    drawdown_pct, drawdown_ms = max_drawdown(points, times)

    pnl = np.array([t.pnl for t in trades], dtype=np.float64)
    rets = np.array([t.return_pct for t in trades], dtype=np.float64)
    held = np.array([t.exit_time_ms - t.entry_time_ms for t in trades], dtype=np.float64)
    gross_profit = float(pnl[pnl > 0].sum())
    gross_loss = float(-pnl[pnl < 0].sum())
    wins, losses = int((pnl > 0).sum()), int((pnl < 0).sum())

    return Report(
        trades=len(trades),
        wins=wins,
        losses=losses,
        win_rate_pct=_share_pct(wins, len(trades)),
        total_return_pct=total_return_pct,
        annualized_return_pct=annualized,
        sharpe=sharpe_ratio(returns, periods_per_year),
        sortino=sortino_ratio(returns, periods_per_year),
        calmar=_ratio(annualized, drawdown_pct),
        max_drawdown_pct=drawdown_pct,
        max_drawdown_duration_ms=drawdown_ms,
        profit_factor=_ratio(gross_profit, gross_loss),
        expectancy=_mean(pnl),
        expectancy_pct=_mean(rets),
        avg_win=_mean(pnl[pnl > 0]),
        avg_loss=_mean(pnl[pnl < 0]),
        best_trade_pct=float(rets.max()) if len(rets) else 0.0,
        worst_trade_pct=float(rets.min()) if len(rets) else 0.0,
        avg_holding_ms=round(_mean(held)),
        exposure_pct=exposure_pct(trades, ts, timeframe_ms),
        fees_paid=float(sum(t.fees for t in trades)),
        initial_capital=float(initial_capital),
        final_equity=final_equity,
        span_ms=span_ms,
        per_pair=tuple(
            PairRow(symbol, *_tally(group), avg_return_pct=float(np.mean([t.return_pct for t in group])))
            for symbol, group in _grouped(trades, lambda t: t.symbol)
        ),
        per_exit_reason=tuple(
            ExitReasonRow(reason, *_tally(group))
            for reason, group in _grouped(trades, lambda t: t.exit_reason)
        ),
    )


def period_returns(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Simple returns between consecutive equity points; a return from zero or below counts as 0."""
    previous = points[:-1]
    returns = np.zeros(len(previous), dtype=np.float64)
    # A ruined account (equity 0) has no meaningful return afterwards; 0 keeps the series finite.
    np.divide(points[1:] - previous, previous, out=returns, where=previous > 0)
    return returns


def sharpe_ratio(returns: npt.NDArray[np.float64], periods_per_year: float) -> float:
    """Annualised Sharpe ratio of per-period returns, risk-free rate 0; 0 without variation."""
    if len(returns) < 2:
        return 0.0
    std = float(returns.std(ddof=1))
    if not std > _NO_VARIATION:
        return 0.0
    return float(returns.mean()) / std * math.sqrt(periods_per_year)


def sortino_ratio(returns: npt.NDArray[np.float64], periods_per_year: float) -> float:
    """Annualised Sortino ratio (target 0); inf for a gain without a single losing period."""
    if len(returns) < 2:
        return 0.0
    mean = float(returns.mean())
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    if not downside > _NO_VARIATION:
        return math.inf if mean > 0 else 0.0
    return mean / downside * math.sqrt(periods_per_year)


def annualized_return_pct(growth: float, span_ms: int) -> float:
    """CAGR in percent for `growth` = final / initial equity over `span_ms`."""
    if growth <= 0:
        return -100.0
    total_pct = (growth - 1.0) * 100.0
    # Compounding a few hours to a year turns +1 % into an absurd figure, so below a day the plain
    # total return is reported instead.
    if span_ms < DAY_MS:
        return total_pct
    exponent = math.log(growth) * YEAR_MS / span_ms
    try:
        return math.expm1(exponent) * 100.0
    except OverflowError:
        return math.inf


def max_drawdown(points: npt.NDArray[np.float64], times: npt.NDArray[np.int64]) -> tuple[float, int]:
    """Deepest peak-to-trough fall in percent, and the longest time from a peak to its recovery (ms).

    A drawdown still open at the end of the curve lasts until the end.
    """
    if len(points) < 2:
        return 0.0, 0
    peaks = np.maximum.accumulate(points)
    depth = np.zeros(len(points), dtype=np.float64)
    np.divide(peaks - points, peaks, out=depth, where=peaks > 0)
    underwater = points < peaks
    if not bool(underwater.any()):
        return 0.0, 0
    index = np.arange(len(points))
    last = len(points) - 1
    peak_at = np.maximum.accumulate(np.where(underwater, 0, index))
    recovered_at = np.minimum.accumulate(np.where(underwater, last, index)[::-1])[::-1]
    durations = times[recovered_at[underwater]] - times[peak_at[underwater]]
    return float(depth.max()) * 100.0, int(durations.max())


def exposure_pct(trades: Sequence[ClosedTrade], ts_ms: npt.NDArray[np.int64], timeframe_ms: int) -> float:
    """Share of candles, in percent, during which at least one trade was open."""
    if len(ts_ms) == 0 or not trades:
        return 0.0
    entries = np.array([t.entry_time_ms for t in trades], dtype=np.int64)
    # An instantaneous trade still occupies the candle it happened in.
    exits = np.maximum(np.array([t.exit_time_ms for t in trades], dtype=np.int64), entries + 1)
    first = np.searchsorted(ts_ms + timeframe_ms, entries, side="right")
    stop = np.searchsorted(ts_ms, exits, side="left")
    inside = first < stop
    change = np.zeros(len(ts_ms) + 1, dtype=np.int64)
    np.add.at(change, first[inside], 1)
    np.add.at(change, stop[inside], -1)
    open_trades = np.cumsum(change[:-1])
    return float((open_trades > 0).mean()) * 100.0


def _curve(
    ts_ms: npt.ArrayLike, equity: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    ts = np.asarray(ts_ms, dtype=np.int64)
    values = np.asarray(equity, dtype=np.float64)
    if ts.ndim != 1 or values.ndim != 1 or len(ts) != len(values):
        raise ValueError(f"ts_ms {ts.shape} and equity {values.shape} must be 1-D and the same length")
    if not bool(np.isfinite(values).all()):
        raise ValueError("equity must be finite")
    if len(ts) > 1 and not bool((np.diff(ts) > 0).all()):
        raise ValueError("ts_ms must be strictly increasing")
    return ts, values


def _grouped(
    trades: Sequence[ClosedTrade], key: Callable[[ClosedTrade], str]
) -> list[tuple[str, list[ClosedTrade]]]:
    groups: dict[str, list[ClosedTrade]] = {}
    for trade in trades:
        groups.setdefault(key(trade), []).append(trade)
    return sorted(groups.items())


def _tally(trades: Sequence[ClosedTrade]) -> tuple[int, float, float]:
    """A group's trades, win rate (%) and PnL: the columns every per-group row starts with."""
    wins = sum(1 for t in trades if t.pnl > 0)
    return len(trades), _share_pct(wins, len(trades)), float(sum(t.pnl for t in trades))


def _share_pct(part: int, whole: int) -> float:
    return part / whole * 100.0 if whole else 0.0


def _mean(values: npt.NDArray[np.float64]) -> float:
    return float(values.mean()) if len(values) else 0.0


def _ratio(gain: float, loss: float) -> float:
    # Nothing lost: any gain is unboundedly good, no gain is simply nothing.
    if loss > 0:
        return gain / loss
    return math.inf if gain > 0 else 0.0


def _jsonable(record: Report | PairRow | ExitReasonRow) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for field in fields(record):
        value = getattr(record, field.name)
        if isinstance(value, tuple):
            result[field.name] = [_jsonable(row) for row in value]
        elif isinstance(value, float):
            result[field.name] = _finite(value)
        else:
            result[field.name] = value
    return result


def _finite(value: float) -> float | None:
    # `+ 0.0` turns -0.0 into 0.0, which reads better in a report; the value is otherwise untouched.
    return float(value) + 0.0 if math.isfinite(value) else None


def _num(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return f"{value:,.2f}"


def _pct(value: float, *, signed: bool = False) -> str:
    if not math.isfinite(value):
        return _num(value)
    return f"{value:{'+' if signed else ''},.2f} %"


def _money(value: float) -> str:
    # Quote currencies range from USDT to BTC: small amounts need significant digits, not cents.
    if value == 0 or abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4f}" if abs(value) >= 0.01 else f"{value:.6g}"


def _duration(ms: int) -> str:
    if ms <= 0:
        return "0"
    days, rest = divmod(ms, DAY_MS)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    parts = [f"{count}{unit}" for count, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if count]
    return " ".join(parts) if parts else f"{rest / 1000:g}s"
