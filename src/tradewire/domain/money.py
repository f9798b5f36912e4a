"""Exact money: Decimal everywhere an amount or a price leaves the building."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

ZERO = Decimal(0)
# Enough digits that dividing any realistic amount by a step is exact before it is rounded.
_WIDE = 100


class MoneyError(ValueError):
    """A value that cannot be read as an exact, finite number."""


def to_decimal(value: object) -> Decimal:
    """Read a number exactly: floats go through their shortest repr, never their binary expansion."""
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise MoneyError(f"not a number: {value!r}")
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace("_", "")
        if not text:
            raise MoneyError("empty number")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(f"not a number: {value!r}") from exc
    else:
        raise MoneyError(f"not a number: {value!r}")
    if not result.is_finite():
        raise MoneyError(f"not a finite number: {value!r}")
    return result


def quantize_down(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of `step` that is <= value (for non-negative values): amounts are truncated."""
    return _quantize(value, step, ROUND_DOWN)


def quantize_nearest(value: Decimal, step: Decimal) -> Decimal:
    """Nearest multiple of `step` (half to even): prices are rounded."""
    return _quantize(value, step, ROUND_HALF_EVEN)


def _quantize(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        raise MoneyError("step must be positive")
    with localcontext(prec=_WIDE):
        units = (value / step).to_integral_value(rounding=rounding)
        return normalize(units * step)


def normalize(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation for whole numbers."""
    if value == 0:
        return ZERO
    normalized = value.normalize()
    _sign, _digits, exponent = normalized.as_tuple()
    if isinstance(exponent, int) and exponent > 0:
        with localcontext(prec=_WIDE):
            return normalized.quantize(Decimal(1))
    return normalized


def fmt(value: Decimal | None) -> str | None:
    """Decimal as plain text (no exponent), for storage and JSON."""
    if value is None:
        return None
    return format(normalize(value), "f")
