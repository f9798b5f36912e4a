"""Backtest charts (adapters/charts.py): labelled, dated, in the quote currency, fast on long series.
That the domain stays free of plotting: tests/integration/test_domain_imports.py (a new process each)."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from matplotlib.dates import ConciseDateFormatter
from matplotlib.image import imread

from tradewire.adapters.charts import (
    ChartTrade,
    PriceSeries,
    UnchartableResult,
    backtest_chart,
    backtest_chart_png,
    envelope,
    stored_chart_png,
)

MINUTE_MS = 60_000
T0 = 1_514_764_800_000  # 2018-01-01 00:00 UTC
REPORT = {
    "total_return_pct": 12.3456,
    "max_drawdown_pct": 4.5,
    "sharpe": 1.23,
    "win_rate_pct": 50.0,
    "final_equity": 1.123456,
}


def _walk(n: int, start: float = 0.09, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(n, dtype=np.int64) * MINUTE_MS
    return ts, start * np.exp(np.cumsum(rng.normal(0, 0.001, n)))


def _chart(n: int = 2_000, symbols: tuple[str, ...] = ("ETH/BTC",), prices: bool = True) -> dict[str, object]:
    ts, close = _walk(n)
    equity = 1.0 + np.cumsum(np.random.default_rng(2).normal(0, 0.001, n))
    trades = [
        ChartTrade("ETH/BTC", int(ts[10]), float(close[10]), int(ts[50]), float(close[50]), 0.01),
        ChartTrade("ETH/BTC", int(ts[100]), float(close[100]), int(ts[150]), float(close[150]), -0.01),
    ]
    series = {s: PriceSeries(ts, close * (1 + i)) for i, s in enumerate(symbols)}
    return {
        "title": "ema_cross ETH/BTC 1m",
        "symbols": symbols,
        "ts_ms": ts,
        "equity": equity,
        "initial_capital": 1.0,
        "trades": trades,
        "prices": series if prices else None,
        "report": REPORT,
    }


def test_the_chart_has_price_with_trades_equity_and_drawdown_on_labelled_dated_axes() -> None:
    fig = backtest_chart(**_chart())  # type: ignore[arg-type]
    fig.canvas.draw()

    price, equity, drawdown = fig.axes
    assert price.get_ylabel() == "Price (BTC)"
    assert equity.get_ylabel() == "Equity (BTC)"
    assert drawdown.get_ylabel() == "Drawdown (%)"
    assert drawdown.get_xlabel() == "Date (UTC)"
    assert isinstance(drawdown.xaxis.get_major_formatter(), ConciseDateFormatter)
    dates = [t.get_text() for t in drawdown.get_xticklabels() if t.get_text()]
    assert len(dates) >= 3 and any("Jan" in d or d.isdigit() for d in dates), dates
    values = [t.get_text() for t in equity.get_yticklabels() if t.get_text()]
    assert values and all(any(ch.isdigit() for ch in v) for v in values)
    texts = [t.get_text() for t in fig.texts]
    assert "ema_cross ETH/BTC 1m" in texts
    assert any("return +12.35 %" in t and "final equity 1.123 BTC" in t for t in texts), texts
    legend = [t.get_text() for t in price.get_legend().get_texts()]
    assert {"entry", "exit, won", "exit, lost"} <= set(legend)


def test_several_symbols_are_rebased_to_100_and_without_candles_two_panels_remain() -> None:
    several = backtest_chart(**_chart(symbols=("ETH/BTC", "LTC/BTC")))  # type: ignore[arg-type]
    assert several.axes[0].get_ylabel() == "Price, rebased to 100"
    assert {"ETH/BTC", "LTC/BTC"} <= {t.get_text() for t in several.axes[0].get_legend().get_texts()}
    mixed = backtest_chart(**{**_chart(), "symbols": ("ETH/BTC", "BTC/USDT")})  # type: ignore[arg-type]
    assert mixed.axes[1].get_ylabel() == "Equity (quote currency)"

    without = backtest_chart(**_chart(prices=False))  # type: ignore[arg-type]
    assert [ax.get_ylabel() for ax in without.axes] == ["Equity (BTC)", "Drawdown (%)"]


@pytest.fixture(scope="module")
def half_a_million() -> tuple[bytes, float]:
    """The PNG of a 500,000-candle backtest and the seconds it took, drawn once for the two tests
    that read it (a PNG takes ~0.3 s even for a short series)."""
    chart = _chart(n=500_000)
    started = time.perf_counter()
    data = backtest_chart_png(**chart)
    return data, time.perf_counter() - started


def test_the_png_is_1400_by_900_with_its_title_in_the_metadata(half_a_million: tuple[bytes, float]) -> None:
    data, _ = half_a_million

    image = imread(io.BytesIO(data), format="png")
    assert image.shape[:2] == (900, 1400)
    assert b"tEXtTitle\x00ema_cross ETH/BTC 1m" in data
    assert image[..., :3].std() > 0.05  # something is drawn, not a blank canvas


def test_envelope_keeps_the_first_last_lowest_and_highest_points_in_order() -> None:
    x = np.arange(100_003, dtype=np.float64)
    y = np.random.default_rng(5).normal(0, 1, 100_003)
    y[12_345], y[99_999] = 50.0, -50.0  # one-point spikes

    ex, ey = envelope(x, y, points=2_000)

    assert len(ex) <= 2_000 + 4
    assert (np.diff(ex) > 0).all()
    assert ey.max() == 50.0 and ey.min() == -50.0
    assert (ex[0], ex[-1]) == (0.0, 100_002.0)
    assert np.array_equal(y[ex.astype(np.int64)], ey)
    short = np.arange(10, dtype=np.float64)
    assert envelope(short, short)[1] is short  # short series are drawn as they are


def test_half_a_million_candles_draw_in_a_few_seconds(half_a_million: tuple[bytes, float]) -> None:
    data, elapsed = half_a_million
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert elapsed < 5.0, f"{elapsed:.2f} s"


def test_a_result_stored_without_config_trades_or_report_is_still_charted() -> None:
    # A result an older version stored: only the equity curve
    stored = {"equity": {"ts_ms": [T0, T0 + MINUTE_MS, T0 + 2 * MINUTE_MS], "equity": [100.0, 101.0, 99.0]}}

    png = stored_chart_png(stored, "old result", ["BTC/USDT"], None)

    assert png.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    "stored",
    [
        {},
        {"equity": {}},
        {"equity": {"ts_ms": [T0], "equity": []}},
        {"equity": {"ts_ms": [], "equity": [1.0]}},
    ],
)
def test_a_result_without_an_equity_curve_is_refused_with_a_reason(stored: dict[str, object]) -> None:
    with pytest.raises(UnchartableResult, match="no equity curve"):
        stored_chart_png(stored, "broken", ["BTC/USDT"], None)
