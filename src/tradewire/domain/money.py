"""Exact money: Decimal everywhere an amount or a price leaves the building."""

from __future__ import annotations

from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_DOWN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Subnormal,
    Underflow,
    localcontext,
)

ZERO = Decimal(0)
_ONE = Decimal(1)
# Enough digits that dividing any realistic amount by a step is exact before it is rounded.
_WIDE = 100
# The default context with _WIDE digits, passed to each operation (no localcontext to enter and
# leave: every order quantizes its amount and price, twice).
_WIDE_CONTEXT = Context(prec=_WIDE)

# What every stored amount and price must fit: NUMERIC(38, 18) on PostgreSQL (adapters/store/types.py),
# so below 10^20 in size and at most 18 decimal places.
MAX_INTEGER_DIGITS = 20
MAX_SCALE = 18
STORABLE_LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS  # exclusive
SMALLEST_STORABLE = Decimal(10) ** -MAX_SCALE


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


def storable(value: Decimal, what: str = "number") -> Decimal:
    """`value` rounded to the 18 decimals storage keeps; MoneyError if it is not finite, is 10^20 or
    more in size, or is a non-zero amount that 18 decimals would store as zero.

    Only comparisons and one bounded rounding are done, so a huge exponent costs nothing to refuse.
    """
    if not value.is_finite():
        raise MoneyError(f"{what} is not a finite number")
    if value.copy_abs() >= STORABLE_LIMIT:
        raise MoneyError(f"{what} {describe(value)} is too large: it must be below 1e{MAX_INTEGER_DIGITS}")
    if value != 0 and value.copy_abs() < SMALLEST_STORABLE:
        raise MoneyError(
            f"{what} {describe(value)} is too small: at most {MAX_SCALE} decimal places are kept"
        )
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_SCALE:
        with localcontext(prec=MAX_INTEGER_DIGITS + MAX_SCALE + 2):
            return value.quantize(SMALLEST_STORABLE, rounding=ROUND_HALF_EVEN)
    return value


def is_storable(value: Decimal | None) -> bool:
    """True for None and for a value storage holds as it is (what a row written by this version holds)."""
    if value is None:
        return True
    try:
        return storable(value) == value
    except MoneyError:
        return False


def describe(value: Decimal) -> str:
    """A short text for a number in a message, whatever its size (scientific when it would be long)."""
    text = str(value)
    return text if len(text) <= 40 else f"{value:.6E}"


def quantize_down(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of `step` that is <= value (for non-negative values): amounts are truncated."""
    return _quantize(value, step, ROUND_DOWN)


def quantize_nearest(value: Decimal, step: Decimal) -> Decimal:
    """Nearest multiple of `step` (half to even): prices are rounded."""
    return _quantize(value, step, ROUND_HALF_EVEN)


def _quantize(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:
        raise MoneyError("step must be positive")
    try:
        units = _WIDE_CONTEXT.divide(value, step).to_integral_value(rounding=rounding, context=_WIDE_CONTEXT)
        # More units than the context's digits would have been rounded: refuse rather than guess.
        if units.adjusted() >= _WIDE:
            raise MoneyError(f"{describe(value)} is too large to round to a step of {step}")
        return normalize(_WIDE_CONTEXT.multiply(units, step))
    except ArithmeticError as exc:
        raise MoneyError(f"{describe(value)} cannot be rounded to a step of {step}") from exc


# Normalizes exactly or raises: the hot path for every stored amount (few digits, small exponent).
_EXACT = Context(
    prec=28, Emax=999_999, Emin=-999_999, traps=[Inexact, Rounded, Overflow, Underflow, Subnormal]
)


def normalize(value: Decimal) -> Decimal:
    """Drop trailing zeros, exactly, without exponent notation for whole numbers of up to 100 digits
    (larger ones, which storage cannot hold anyway, keep their exponent rather than be written out)."""
    if value == 0:
        return ZERO
    if not value.is_finite():
        return value  # NaN and infinities have no digits to drop
    try:
        normalized = value.normalize(_EXACT)
    except ArithmeticError:
        # More digits or a wider exponent than the fast context holds: as many digits as the value
        # has, so nothing is rounded, and any exponent, so nothing overflows.
        digits = len(value.as_tuple().digits)
        with localcontext(prec=max(digits, 1), Emax=MAX_EMAX, Emin=MIN_EMIN) as context:
            normalized = value.normalize(context)
    # A positive exponent (whole, with trailing zeros) needs a digit before the point: adjusted() > 0.
    if 0 < normalized.adjusted() < _WIDE:
        exponent = normalized.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent > 0:
            return normalized.quantize(_ONE, context=_WIDE_CONTEXT)
    return normalized


def fmt(value: Decimal | None) -> str | None:
    """Decimal as plain text (no exponent), for storage and JSON; a value beyond 100 digits either side
    of the point (none that storage holds) is written in scientific notation instead of in full."""
    if value is None:
        return None
    if not value:
        return "0"  # any zero (-0, 0E-8, ...)
    if value.is_finite() and -_WIDE <= value.adjusted() < _WIDE:
        # The common case (every event and row carries several): written out as it is, then its
        # trailing fractional zeros dropped; the same text as normalizing first, at a third the cost.
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    normalized = normalize(value)
    if not normalized.is_finite() or not -_WIDE <= normalized.adjusted() < _WIDE:
        return str(normalized)
    return format(normalized, "f")
