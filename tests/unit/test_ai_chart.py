"""The chart a vision model reads (adapters/ai/chart.py): a PNG of bounded size, the same bytes for
the same candles, different bytes when a candle changes."""

from __future__ import annotations

import hashlib
import io

import numpy as np
from matplotlib.image import imread

from tradewire.adapters.ai.chart import CHART_CANDLES, HEIGHT_PX, MAX_PNG_BYTES, WIDTH_PX, chart_png
from tradewire.domain.candles import Candles


def test_the_chart_is_a_bounded_png_and_deterministic(candles: Candles) -> None:
    window = candles.rows(len(candles) - 300, len(candles))
    first = chart_png(window, f"{candles.symbol} {candles.timeframe}")
    second = chart_png(window, f"{candles.symbol} {candles.timeframe}")

    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest()
    assert 10_000 < len(first) < MAX_PNG_BYTES
    assert b"Software" not in first and b"tIME" not in first  # nothing but the candles varies it
    pixels = imread(io.BytesIO(first))
    assert pixels.shape[:2] == (HEIGHT_PX, WIDTH_PX)
    assert float(np.std(pixels[..., :3])) > 0.05  # something is drawn


def test_another_newest_candle_draws_another_chart(candles: Candles) -> None:
    before = candles.rows(len(candles) - 300, len(candles) - 1)
    after = candles.rows(len(candles) - 299, len(candles))
    assert chart_png(before, "t") != chart_png(after, "t")
    # Only the newest CHART_CANDLES are drawn, whatever the history given for the indicators.
    assert CHART_CANDLES < 300
