"""The chart a vision model reads (adapters/ai/chart.py): a PNG of bounded size, the same bytes for
the same candles, different bytes when a candle changes."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from matplotlib.image import imread

from tradewire.adapters.ai.chart import CHART_CANDLES, HEIGHT_PX, MAX_PNG_BYTES, WIDTH_PX, chart_png
from tradewire.domain.candles import Candles

HISTORY = 300  # candles given: more than CHART_CANDLES, for the indicators


@pytest.fixture(scope="module")
def newest(candles: Candles) -> bytes:
    """The chart of the newest HISTORY candles, drawn once for the tests that read it (~0.2 s each)."""
    return chart_png(
        candles.rows(len(candles) - HISTORY, len(candles)), f"{candles.symbol} {candles.timeframe}"
    )


def test_the_chart_is_a_bounded_png_and_deterministic(candles: Candles, newest: bytes) -> None:
    window = candles.rows(len(candles) - HISTORY, len(candles))
    again = chart_png(window, f"{candles.symbol} {candles.timeframe}")

    assert newest[:8] == b"\x89PNG\r\n\x1a\n"
    assert hashlib.sha256(newest).digest() == hashlib.sha256(again).digest()
    assert 10_000 < len(newest) < MAX_PNG_BYTES
    assert b"Software" not in newest and b"tIME" not in newest  # nothing but the candles varies it
    pixels = imread(io.BytesIO(newest))
    assert pixels.shape[:2] == (HEIGHT_PX, WIDTH_PX)
    assert float(np.std(pixels[..., :3])) > 0.05  # something is drawn


def test_another_newest_candle_draws_another_chart(candles: Candles, newest: bytes) -> None:
    # The same number of candles, one candle earlier.
    before = candles.rows(len(candles) - HISTORY - 1, len(candles) - 1)
    title = f"{candles.symbol} {candles.timeframe}"
    assert chart_png(before, title) != newest
    # Only the newest CHART_CANDLES are drawn, whatever the history given for the indicators.
    assert CHART_CANDLES < HISTORY
