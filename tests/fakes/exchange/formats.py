"""Clocks, decimal formats and query helpers that several venues share."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

_E8 = Decimal("0.00000001")
T = TypeVar("T")


def now_ms() -> int:
    return int(time.time() * 1000)


def d8(value: Decimal) -> str:
    """Binance's decimals: always 8 places."""
    return f"{value:.8f}"


def plain(value: Decimal) -> str:
    """The shortest exact text of a decimal (no exponent, no trailing zeros)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def q8(value: Decimal) -> Decimal:
    return value.quantize(_E8, rounding=ROUND_HALF_UP)


def floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def places(value: Decimal) -> int:
    """Decimal places of a step such as ``0.001`` (3)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def fixed(value: Decimal, step: Decimal) -> str:
    """The value with exactly as many places as the step has."""
    return f"{value:.{places(step)}f}"


def window(items: list[T], params: dict[str, Any], stamp: Callable[[T], int]) -> list[T]:
    """Keep the items between ``startTime`` and ``endTime`` (binance-style query parameters)."""
    if params.get("startTime"):
        items = [i for i in items if stamp(i) >= int(params["startTime"])]
    if params.get("endTime"):
        items = [i for i in items if stamp(i) <= int(params["endTime"])]
    return items


def candle_opens(interval_ms: int, start: int | None, end: int | None, limit: int) -> list[int]:
    """Open times of the candles a kline query asks for, oldest first."""
    last_open = ((end if end is not None else now_ms()) // interval_ms) * interval_ms
    if start is not None:
        first = -(-start // interval_ms) * interval_ms
        return list(range(first, last_open + 1, interval_ms))[:limit]
    return [last_open - interval_ms * i for i in range(limit)][::-1]
