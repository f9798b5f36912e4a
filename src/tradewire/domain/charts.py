"""Tiny line charts as PNG bytes, drawn with numpy and encoded with zlib (pure: no matplotlib, no I/O)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

Color = tuple[int, int, int]

BACKGROUND: Color = (255, 255, 255)
AXIS: Color = (150, 150, 150)
LINE: Color = (25, 55, 110)
AREA: Color = (200, 70, 70)
MARGIN = 10
"""Blank pixels around every panel, and between the line panel and the area panel."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_AREA_SHARE = 0.3


def encode_png(image: npt.NDArray[np.uint8], *, text: Mapping[str, str] | None = None) -> bytes:
    """Encode an (height, width, 3) uint8 RGB image as a PNG; `text` becomes tEXt chunks (e.g. Title)."""
    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"expected a non-empty (height, width, 3) RGB image, got shape {pixels.shape}")
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    # Each scanline is prefixed by its filter type; 0 (none) keeps the encoder trivial and zlib still
    # compresses the large flat areas of a chart well.
    scanlines = np.zeros((height, 1 + width * 3), dtype=np.uint8)
    scanlines[:, 1:] = pixels.reshape(height, width * 3)
    chunks = [_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))]
    for keyword, value in (text or {}).items():
        if not 1 <= len(keyword) <= 79:
            raise ValueError(f"PNG text keyword must be 1 to 79 characters, got {keyword!r}")
        data = keyword.encode("latin-1", "replace") + b"\x00" + value.encode("latin-1", "replace")
        chunks.append(_chunk(b"tEXt", data))
    chunks.append(_chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 6)))
    chunks.append(_chunk(b"IEND", b""))
    return _PNG_SIGNATURE + b"".join(chunks)


def line_chart_png(
    values: npt.ArrayLike,
    width: int = 800,
    height: int = 300,
    *,
    x: npt.ArrayLike | None = None,
    area: npt.ArrayLike | None = None,
    title: str | None = None,
) -> bytes:
    """Draw `values` as a line chart PNG: white background, left and bottom axes, a dark line.

    `x` (non-decreasing, default evenly spaced) places the points horizontally, so gaps stay visible.
    `area`, if given, is drawn in a lower panel as a filled area hanging from zero (e.g. a drawdown).
    """
    ys = _finite_1d("values", values)
    xs = np.arange(len(ys), dtype=np.float64) if x is None else _finite_1d("x", x)
    if len(xs) != len(ys):
        raise ValueError(f"x has {len(xs)} points, values has {len(ys)}")
    if len(xs) > 1 and bool((np.diff(xs) < 0).any()):
        raise ValueError("x must be non-decreasing")
    under = None if area is None else _finite_1d("area", area)
    if under is not None and len(under) != len(ys):
        raise ValueError(f"area has {len(under)} points, values has {len(ys)}")
    min_height = 4 * MARGIN + 8 if under is not None else 2 * MARGIN + 4
    if width < 2 * MARGIN + 4 or height < min_height:
        raise ValueError(f"a {width}x{height} chart is too small for its margins")

    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = BACKGROUND
    left, right = MARGIN, width - MARGIN
    if under is None:
        _line_panel(image, (left, MARGIN, right, height - MARGIN), xs, ys)
    else:
        area_height = max(int((height - 3 * MARGIN) * _AREA_SHARE), 4)
        split = height - MARGIN - area_height
        _line_panel(image, (left, MARGIN, right, split - MARGIN), xs, ys)
        _area_panel(image, (left, split, right, height - MARGIN), xs, under)
    return encode_png(image, text=None if title is None else {"Title": title})


# A panel is (left, top, right, bottom) in pixels, right and bottom exclusive; the axes take its left
# column and bottom row, the data the rest.
_Box = tuple[int, int, int, int]


def _line_panel(
    image: npt.NDArray[np.uint8], box: _Box, xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64]
) -> None:
    left, top, right, bottom = _axes(image, box)
    if len(ys) == 0:
        return
    if len(ys) == 1:
        # One point has no slope to draw; a flat line reads better than a lone dot.
        xs, ys = np.array([0.0, 1.0]), np.repeat(ys, 2)
    cols = _scale(xs, float(xs[0]), float(xs[-1]), left, right - 1)
    lo, hi = float(ys.min()), float(ys.max())
    rows = _scale(ys, lo, hi, bottom - 1, top)
    cols, rows = _decimate(cols, rows, right - left)
    _polyline(image, cols, rows, LINE)


def _area_panel(
    image: npt.NDArray[np.uint8], box: _Box, xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64]
) -> None:
    left, top, right, bottom = _axes(image, box)
    if len(ys) == 0:
        return
    if len(ys) == 1:
        xs, ys = np.array([0.0, 1.0]), np.repeat(ys, 2)
    lo, hi = min(float(ys.min()), 0.0), max(float(ys.max()), 0.0)
    if lo == hi:
        # All zero (e.g. no drawdown): an empty panel says so better than a line at mid-height.
        return
    at = _scale(xs, float(xs[0]), float(xs[-1]), left, right - 1)
    cols = np.rint(at).astype(np.intp)
    # Interpolating fills the columns between sparse points; the per-column extremes keep a one-candle
    # spike visible when many points share a column.
    col_lo = np.interp(np.arange(left, right, dtype=np.float64), at, ys)
    col_hi = col_lo.copy()
    np.minimum.at(col_lo, cols - left, ys)
    np.maximum.at(col_hi, cols - left, ys)
    zero_row = _scale(np.array([0.0]), lo, hi, bottom - 1, top)[0]
    first = np.rint(np.minimum(_scale(col_hi, lo, hi, bottom - 1, top), zero_row)).astype(np.intp)
    last = np.rint(np.maximum(_scale(col_lo, lo, hi, bottom - 1, top), zero_row)).astype(np.intp)
    grid = np.arange(top, bottom, dtype=np.intp)[:, None]
    mask = (grid >= first[None, :]) & (grid <= last[None, :])
    image[top:bottom, left:right][mask] = AREA


def _axes(image: npt.NDArray[np.uint8], box: _Box) -> _Box:
    left, top, right, bottom = box
    image[top:bottom, left] = AXIS
    image[bottom - 1, left:right] = AXIS
    # One blank pixel between the axes and the data so a curve along the minimum stays visible.
    return left + 2, top, right, bottom - 2


def _scale(
    values: npt.NDArray[np.float64], lo: float, hi: float, start: float, end: float
) -> npt.NDArray[np.float64]:
    if hi <= lo:
        return np.full(len(values), (start + end) / 2.0)
    result: npt.NDArray[np.float64] = start + (values - lo) / (hi - lo) * (end - start)
    return result


def _decimate(
    cols: npt.NDArray[np.float64], rows: npt.NDArray[np.float64], columns: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    # Far more points than pixel columns would make the rasteriser walk every tiny wiggle; keeping the
    # first, lowest, highest and last point of each column draws exactly the same pixels.
    if len(cols) <= 4 * columns:
        return cols, rows
    pixel = np.rint(cols).astype(np.intp)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(pixel)) + 1))
    ends = np.concatenate((starts[1:], [len(pixel)])) - 1
    keep_rows = np.stack(
        (rows[starts], np.minimum.reduceat(rows, starts), np.maximum.reduceat(rows, starts), rows[ends]),
        axis=1,
    ).ravel()
    keep_cols = np.repeat(pixel[starts].astype(np.float64), 4)
    return keep_cols, keep_rows


def _polyline(
    image: npt.NDArray[np.uint8], cols: npt.NDArray[np.float64], rows: npt.NDArray[np.float64], color: Color
) -> None:
    dx, dy = np.diff(cols), np.diff(rows)
    # A simple DDA: enough samples per segment that consecutive ones are at most a pixel apart.
    steps = np.maximum(np.ceil(np.maximum(np.abs(dx), np.abs(dy))), 1).astype(np.intp)
    segment = np.repeat(np.arange(len(dx), dtype=np.intp), steps)
    offset = np.arange(int(steps.sum()), dtype=np.intp) - np.repeat(np.cumsum(steps) - steps, steps)
    t = offset / steps[segment]
    xs = np.concatenate((cols[segment] + t * dx[segment], cols[-1:]))
    ys = np.concatenate((rows[segment] + t * dy[segment], rows[-1:]))
    image[np.rint(ys).astype(np.intp), np.rint(xs).astype(np.intp)] = color


def _finite_1d(name: str, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not bool(np.isfinite(array).all()):
        raise ValueError(f"{name} must be finite")
    return array


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
