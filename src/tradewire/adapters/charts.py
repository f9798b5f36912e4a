"""Backtest charts drawn with matplotlib (Agg, no display): price with the trades, equity, drawdown.

Charts are I/O, so they live here and not in the domain. Figures are drawn on the Agg canvas directly
(no pyplot, no global figure state), so backtests in worker threads can draw at the same time. Long
series are thinned for drawing to the first, lowest, highest and last point of each screen column,
which keeps every spike and every dip visible while a 500,000-candle backtest draws in about a second.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

if TYPE_CHECKING:
    from tradewire.domain.backtest import BacktestResult
    from tradewire.domain.candles import Candles

FloatArray = npt.NDArray[np.float64]
DAY_MS = 86_400_000.0
# Points kept per line: about two per pixel column of the 1,400-pixel figure.
DRAW_POINTS = 3_000

_INK = "#1a202c"
_MUTED = "#718096"
_PRICE = "#4a5568"
_EQUITY = "#2b6cb0"
_GAIN = "#2f855a"
_LOSS = "#c53030"
_SERIES = ("#2b6cb0", "#dd6b20", "#805ad5", "#2c7a7b", "#b7791f", "#d53f8c", "#4a5568", "#38a169")


@dataclass(frozen=True, slots=True)
class ChartTrade:
    """A round trip as the chart marks it."""

    symbol: str
    entry_ms: int
    entry_price: float
    exit_ms: int
    exit_price: float
    pnl: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChartTrade:
        """From a trade of a backtest result's JSON (`BacktestResult.to_json()["trades"]`)."""
        return cls(
            str(data["symbol"]),
            int(data["entry_time_ms"]),
            float(data["entry_price"]),
            int(data["exit_time_ms"]),
            float(data["exit_price"]),
            float(data["pnl"]),
        )


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """One symbol's candle closes over time (ms since the epoch)."""

    ts_ms: npt.NDArray[np.int64]
    close: FloatArray


def result_chart_png(result: BacktestResult, candles: Mapping[str, Candles], title: str) -> bytes:
    """The chart of a backtest just run (the command line's --plot), at full resolution."""
    return backtest_chart_png(
        title=title,
        symbols=list(candles),
        ts_ms=result.ts_ms,
        equity=result.equity,
        initial_capital=result.config.initial_capital,
        trades=[
            ChartTrade(t.symbol, t.entry_time_ms, t.entry_price, t.exit_time_ms, t.exit_price, t.pnl)
            for t in result.trades
        ],
        prices={symbol: PriceSeries(c.ts, c.close) for symbol, c in candles.items()},
        report=result.report.as_json(),
    )


def stored_chart_png(
    stored: Mapping[str, Any], title: str, symbols: Sequence[str], candles: Mapping[str, Candles] | None
) -> bytes:
    """The chart of a stored result (`BacktestResult.to_json()`: a thinned equity curve); the price
    panel needs the candles again (None: the chart shows equity and drawdown only)."""
    curve = stored.get("equity") or {}
    ts_ms, equity = curve.get("ts_ms") or [], curve.get("equity") or []
    if not equity or len(ts_ms) != len(equity):
        raise UnchartableResult("the stored result has no equity curve to draw")
    # Results stored by older versions may lack the config, trades or report: chart what is there.
    capital = (stored.get("config") or {}).get("initial_capital", equity[0])
    return backtest_chart_png(
        title=title,
        symbols=symbols,
        ts_ms=ts_ms,
        equity=equity,
        initial_capital=float(capital),
        trades=[ChartTrade.from_json(t) for t in stored.get("trades") or []],
        prices=None if candles is None else {s: PriceSeries(c.ts, c.close) for s, c in candles.items()},
        report=stored.get("report"),
    )


class UnchartableResult(ValueError):
    """A stored backtest result without the data a chart needs."""


def backtest_chart_png(**chart: Any) -> bytes:
    """`backtest_chart(...)` as PNG bytes, with the title in the PNG's metadata."""
    fig = backtest_chart(**chart)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Title": chart["title"], "Software": "tradewire"})
    return buffer.getvalue()


def backtest_chart(
    *,
    title: str,
    symbols: Sequence[str],
    ts_ms: npt.ArrayLike,
    equity: npt.ArrayLike,
    initial_capital: float,
    trades: Sequence[ChartTrade],
    prices: Mapping[str, PriceSeries] | None = None,
    report: Mapping[str, Any] | None = None,
) -> Figure:
    """A 1400×900 figure: the price with entries and exits (several symbols rebased to 100), the equity
    against the initial capital, and the drawdown below its running peak; dated axes in UTC, amounts
    in the quote currency, the key figures of `report` (a Report's `as_json()`) under the title."""
    currency = _currency(symbols)
    times = np.asarray(ts_ms, dtype=np.int64)
    values = np.asarray(equity, dtype=np.float64)
    fig = Figure(figsize=(14, 9), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    has_prices = bool(prices) and any(len(p.ts_ms) for p in (prices or {}).values())
    ratios = [3, 2, 1.2] if has_prices else [3, 1.4]
    grid = fig.add_gridspec(len(ratios), 1, height_ratios=ratios, hspace=0.07)
    grid.update(left=0.075, right=0.975, top=0.885, bottom=0.075)
    axes = [fig.add_subplot(grid[0])]
    axes += [fig.add_subplot(grid[i], sharex=axes[0]) for i in range(1, len(ratios))]
    if has_prices:
        assert prices is not None
        _draw_prices(axes[0], prices, trades, currency)
    _draw_equity(axes[-2], times, values, initial_capital, currency)
    reported = (report or {}).get("max_drawdown_pct")
    _draw_drawdown(axes[-1], times, values, None if reported is None else -float(reported))
    for ax in axes:
        _style(ax)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    _date_axis(axes[-1], times)
    fig.text(0.075, 0.955, title, fontsize=15, fontweight="bold", color=_INK, ha="left")
    fig.text(0.075, 0.92, _summary(report, len(trades), currency), fontsize=10.5, color=_MUTED, ha="left")
    if len(times) == 0:
        axes[-2].text(0.5, 0.5, "no candles", transform=axes[-2].transAxes, ha="center", color=_MUTED)
    return fig


def envelope(x: FloatArray, y: FloatArray, points: int = DRAW_POINTS) -> tuple[FloatArray, FloatArray]:
    """At most about `points` of (x, y) for drawing: the first, lowest, highest and last point of each
    of points/4 equal runs, in order, so no extreme is lost."""
    n = len(y)
    buckets = max(1, points // 4)
    if n <= points:
        return x, y
    size = math.ceil(n / buckets)
    full = (n // size) * size
    blocks = y[:full].reshape(-1, size)
    starts = np.arange(0, full, size)
    picks = [starts, starts + size - 1, starts + blocks.argmin(axis=1), starts + blocks.argmax(axis=1)]
    if full < n:
        tail = y[full:]
        picks.append(np.array([full, n - 1, full + int(tail.argmin()), full + int(tail.argmax())]))
    keep = np.unique(np.concatenate(picks))
    return x[keep], y[keep]


def _days(ts_ms: npt.ArrayLike) -> FloatArray:
    # matplotlib's dates are days since 1970-01-01 (its default epoch).
    return np.asarray(ts_ms, dtype=np.float64) / DAY_MS


def _draw_prices(
    ax: Any, prices: Mapping[str, PriceSeries], trades: Sequence[ChartTrade], quote: str
) -> None:
    rebased = len(prices) > 1
    for number, (symbol, series) in enumerate(sorted(prices.items())):
        if not len(series.ts_ms):
            continue
        scale = 100.0 / float(series.close[0]) if rebased else 1.0
        color = _SERIES[number % len(_SERIES)] if rebased else _PRICE
        x, y = envelope(_days(series.ts_ms), series.close * scale)
        ax.plot(x, y, color=color, linewidth=0.9, label=symbol if rebased else f"{symbol} close")
        own = [t for t in trades if t.symbol == symbol]
        if own:
            _mark_trades(ax, own, scale, first=number == 0)
    ax.set_ylabel("Price, rebased to 100" if rebased else f"Price ({quote})")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _amount(v)))
    ax.legend(loc="best", fontsize=9, framealpha=0.9, edgecolor="none", ncol=min(4, len(prices) + 3),
              markerscale=1.0 if len(trades) <= 300 else 2.5)  # fmt: skip


def _mark_trades(ax: Any, trades: Sequence[ChartTrade], scale: float, first: bool) -> None:
    entry_x = _days([t.entry_ms for t in trades])
    entry_y = np.array([t.entry_price for t in trades]) * scale
    exit_x = _days([t.exit_ms for t in trades])
    exit_y = np.array([t.exit_price for t in trades]) * scale
    won = np.array([t.pnl > 0 for t in trades])
    # Hundreds of trades: small plain markers, so the price stays readable underneath.
    few = len(trades) <= 300
    style = {"s": 36, "edgecolors": "white", "linewidths": 0.4} if few else {"s": 7, "linewidths": 0}
    ax.scatter(entry_x, entry_y, marker="^", color=_INK, zorder=3, label="entry" if first else None, **style)
    for mask, color, label in ((won, _GAIN, "exit, won"), (~won, _LOSS, "exit, lost")):
        if mask.any():
            where = (exit_x[mask], exit_y[mask])
            ax.scatter(*where, marker="v", color=color, zorder=3, label=label if first else None, **style)


def _draw_equity(
    ax: Any, times: npt.NDArray[np.int64], values: FloatArray, capital: float, quote: str
) -> None:
    x, y = envelope(_days(times), values)
    ax.plot(x, y, color=_EQUITY, linewidth=1.3, label="equity")
    ax.axhline(
        capital, color=_MUTED, linewidth=0.9, linestyle="--", label=f"initial capital {_amount(capital)}"
    )
    ax.fill_between(x, y, capital, where=y >= capital, color=_GAIN, alpha=0.12, interpolate=True)
    ax.fill_between(x, y, capital, where=y < capital, color=_LOSS, alpha=0.12, interpolate=True)
    ax.set_ylabel(f"Equity ({quote})")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _amount(v)))
    ax.legend(loc="best", fontsize=9, framealpha=0.9, edgecolor="none")


def _draw_drawdown(ax: Any, times: npt.NDArray[np.int64], values: FloatArray, reported: float | None) -> None:
    """`reported`: the report's maximum drawdown (negative %), which a stored, thinned curve may miss
    by a little; the label then says the report's figure at the deepest point drawn."""
    drawdown = np.zeros(len(values))
    if len(values):
        peaks = np.maximum.accumulate(values)
        np.divide(values - peaks, peaks, out=drawdown, where=peaks > 0)
        drawdown *= 100.0
    x, y = envelope(_days(times), drawdown)
    ax.fill_between(x, y, 0.0, color=_LOSS, alpha=0.35, linewidth=0)
    ax.plot(x, y, color=_LOSS, linewidth=0.8)
    deepest = float(drawdown.min()) if len(drawdown) else 0.0
    ax.set_ylim(min(deepest * 1.15, -1.0), 0.5)
    ax.set_ylabel("Drawdown (%)")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f} %"))
    if deepest < 0:
        at = int(np.argmin(drawdown))
        right_half = at > len(drawdown) / 2  # write the label towards the middle, inside the axes
        ax.annotate(
            f"max {deepest if reported is None else min(reported, deepest):.2f} %",
            xy=(_days(times[at : at + 1])[0], deepest),
            xytext=(-6 if right_half else 6, 4),
            ha="right" if right_half else "left",
            textcoords="offset points",
            fontsize=9,
            color=_LOSS,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
        )


def _date_axis(ax: Any, times: npt.NDArray[np.int64]) -> None:
    locator = AutoDateLocator(minticks=5, maxticks=10)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlabel("Date (UTC)")
    if len(times) > 1:
        ax.set_xlim(_days(times[:1])[0], _days(times[-1:])[0])


def _style(ax: Any) -> None:
    ax.grid(True, color="#e2e8f0", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#a0aec0")
    ax.tick_params(colors=_INK, labelsize=9)
    ax.yaxis.label.set_color(_INK)
    ax.xaxis.label.set_color(_INK)


def _currency(symbols: Sequence[str]) -> str:
    quotes = {s.partition(":")[0].partition("/")[2] for s in symbols} - {""}
    return quotes.pop() if len(quotes) == 1 else "quote currency"


def _amount(value: float) -> str:
    # Quote currencies range from USDT to BTC: small amounts need significant digits, not cents.
    if value == 0 or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _summary(report: Mapping[str, Any] | None, trades: int, quote: str) -> str:
    if not report:
        return f"{trades} trades · amounts in {quote}"

    def pct(name: str, signed: bool = False) -> str:
        value = report.get(name)
        return "n/a" if value is None else f"{value:{'+' if signed else ''}.2f} %"

    sharpe = report.get("sharpe")
    parts = [
        f"return {pct('total_return_pct', signed=True)}",
        f"max drawdown {pct('max_drawdown_pct')}",
        f"Sharpe {'n/a' if sharpe is None else f'{sharpe:.2f}'}",
        f"{trades} trades, win rate {pct('win_rate_pct')}",
        f"final equity {_amount(float(report.get('final_equity') or 0.0))} {quote}",
    ]
    return " · ".join(parts)
