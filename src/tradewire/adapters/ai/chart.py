"""The chart a vision model reads: candles with EMAs, volume, and an RSI panel, as PNG.

Drawn on the Agg canvas directly (no pyplot, thread-safe like adapters/charts.py), on a fixed size
and resolution, with no timestamp or version in the PNG's metadata: the same candles give the same
bytes, so an analysis' image can be checked against its candles and a retry sends what was stored.
The candles are drawn against their index (no gaps at weekends or outages) and labelled with dates.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from tradewire.adapters.charts import _GAIN, _INK, _LOSS, _MUTED, _style
from tradewire.domain.candles import Candles
from tradewire.domain.indicators import ema, rsi

CHART_CANDLES = 120  # the candles drawn: the newest ones
WIDTH_PX, HEIGHT_PX, DPI = 1280, 800, 100
MAX_PNG_BYTES = 400_000  # a chart is far smaller; the store refuses anything larger
EMA_PERIODS = (20, 50)
EMA_COLOURS = ("#2b6cb0", "#dd6b20")
RSI_PERIOD = 14


def chart_png(candles: Candles, title: str) -> bytes:
    """The newest CHART_CANDLES candles of `candles` (EMAs and RSI computed on all of them)."""
    if len(candles) < 2:
        raise ValueError("a chart needs at least two candles")
    close = np.asarray(candles.close, dtype=np.float64)
    averages = [ema(close, period) for period in EMA_PERIODS]
    strength = rsi(close, RSI_PERIOD)
    start = max(0, len(candles) - CHART_CANDLES)
    shown = candles.rows(start, len(candles))

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(
        3, 1, height_ratios=(5, 1.3, 1.7), hspace=0.08, left=0.06, right=0.92, top=0.95, bottom=0.06
    )
    price = fig.add_subplot(grid[0])
    volume = fig.add_subplot(grid[1], sharex=price)
    momentum = fig.add_subplot(grid[2], sharex=price)
    x = np.arange(len(shown), dtype=np.float64)
    _draw_candles(price, shown, x)
    for period, line, colour in zip(EMA_PERIODS, averages, EMA_COLOURS, strict=True):
        price.plot(x, line[start:], color=colour, linewidth=1.2, label=f"EMA {period}")
    price.legend(loc="upper left", fontsize=9, frameon=False)
    # At the top edge, as matplotlib would place it (nothing is drawn above the price axes); placed,
    # not found: finding it measures the y axis' tick labels a second time, a tenth of a chart's time.
    price.set_title(title, color=_INK, fontsize=12, loc="left", y=1.0)
    price.yaxis.tick_right()
    price.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.6g}"))
    up = shown.close >= shown.open
    zero = np.zeros(len(shown))
    volume.add_collection(_boxes(x, zero, np.asarray(shown.volume), np.where(up, _GAIN, _LOSS), alpha=0.6))
    volume.set_ylim(0, float(np.nanmax(shown.volume)) * 1.05 or 1.0)
    volume.set_ylabel("Volume", fontsize=9)
    volume.yaxis.set_major_locator(MaxNLocator(3))
    momentum.plot(x, strength[start:], color="#805ad5", linewidth=1.1)
    for level in (30, 70):
        momentum.axhline(level, color=_MUTED, linewidth=0.8, linestyle="--")
    momentum.set_ylim(0, 100)
    momentum.set_ylabel(f"RSI {RSI_PERIOD}", fontsize=9)
    for ax in (price, volume, momentum):
        _style(ax)
    for ax in (price, volume):
        ax.tick_params(labelbottom=False)
    times = shown.ts
    momentum.xaxis.set_major_locator(MaxNLocator(8, integer=True))
    momentum.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _label(times, v)))
    price.set_xlim(-1, len(shown))
    buffer = io.BytesIO()
    # No "Software" or date chunk: the bytes depend on the candles alone.
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def _draw_candles(ax: Any, shown: Candles, x: np.ndarray) -> None:
    up = shown.close >= shown.open
    colours = np.where(up, _GAIN, _LOSS)
    ax.vlines(x, shown.low, shown.high, colors=colours, linewidth=0.8)
    bottom = np.minimum(shown.open, shown.close)
    height = np.abs(shown.close - shown.open)
    # A doji still shows as a line: at least a thousandth of the visible range.
    span = float(np.nanmax(shown.high) - np.nanmin(shown.low)) or 1.0
    ax.add_collection(_boxes(x, bottom, bottom + np.maximum(height, span / 1000), colours))


def _boxes(x: np.ndarray, low: np.ndarray, high: np.ndarray, colours: Any, alpha: float = 1.0) -> Any:
    """One rectangle per x (0.7 wide) from `low` to `high`, as a single collection: drawing 120
    separate bar patches costs most of a chart's time."""
    left, right = x - 0.35, x + 0.35
    corners = np.stack(
        [np.column_stack(pair) for pair in ((left, low), (left, high), (right, high), (right, low))], axis=1
    )
    return PolyCollection(list(corners), facecolors=colours, edgecolors="none", alpha=alpha)


def _label(times: np.ndarray, value: float) -> str:
    i = round(value)
    if not 0 <= i < len(times):
        return ""
    return datetime.fromtimestamp(int(times[i]) / 1000, tz=UTC).strftime("%m-%d %H:%M")
