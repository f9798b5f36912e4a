"""Input types every request shares: what storage and arithmetic can hold, said once.

Each type refuses what the database would reject (a 500), silently change (a rounded amount, a cut
string) or store unbounded (SQLite keeps anything): ids are positive int64s, decimals are finite with
at most 20 integer digits, 18 decimal places (NUMERIC(38, 18) on PostgreSQL) and 28 significant
digits (the precision money arithmetic runs at), text has no NUL or unpaired surrogate.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import AfterValidator

MAX_ID = 2**63 - 1  # BIGINT
INT_DIGITS = 20  # NUMERIC(38, 18): 38 digits, 18 of them after the point
DECIMAL_PLACES = 18
SIGNIFICANT_DIGITS = 28  # decimal's default context: more would be rounded by the first operation

# A stored row's id: PostgreSQL's BIGINT and SQLite's rowid are signed 64-bit; 0 and below are never ids.
DbId = Annotated[int, Ge(1), Le(MAX_ID)]

_NUL_OR_SURROGATE = re.compile("[\x00\ud800-\udfff]")
# Also the line and paragraph separators (a line break to JavaScript and many renderers) and the
# bidirectional embeddings, overrides and isolates (U+202E shows "evil\u202etxt.exe" as "evilexe.txt").
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def storable_decimal(value: Decimal) -> Decimal:
    """`value` unchanged if a Money column (and the arithmetic on it) holds it exactly; else ValueError.

    Works on the digits alone, so a number like 1e400000 costs nothing to refuse.
    """
    if not value.is_finite():
        raise ValueError("must be a finite number")
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    significant = len(digits)
    while significant > 1 and digits[significant - 1] == 0:  # trailing zeros carry no digits
        significant -= 1
        exponent += 1
    if digits == (0,) or all(d == 0 for d in digits):
        return value
    if significant + exponent > INT_DIGITS:
        raise ValueError(f"must be below 1e{INT_DIGITS} in magnitude")
    if exponent < -DECIMAL_PLACES:
        raise ValueError(f"must have at most {DECIMAL_PLACES} decimal places (it would be rounded)")
    if significant > SIGNIFICANT_DIGITS:
        raise ValueError(f"must have at most {SIGNIFICANT_DIGITS} significant digits (it would be rounded)")
    return value


def printable(text: str) -> str:
    """`text` safe to echo in an error (JSON, logs): unpaired surrogates and NUL escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def storable_text(value: str) -> bool:
    """Whether every database can store `value` (no NUL, no unpaired surrogate)."""
    return not _NUL_OR_SURROGATE.search(value)


def clean_text(value: str) -> str:
    """Refuse NUL (PostgreSQL cannot store it) and unpaired surrogates (no encoding can)."""
    if _NUL_OR_SURROGATE.search(value):
        raise ValueError("must not contain NUL or unpaired surrogate characters")
    return value


def one_line(value: str) -> str:
    """Refuse control characters too: names are shown on one line (logs, tables, Telegram), in the
    order they are written (no bidirectional overrides)."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def utc_time(value: datetime) -> datetime:
    """`value` in UTC (a naive one is taken to be UTC); refused when UTC cannot represent it
    (0001-01-01 at +05:00 is before the first representable instant)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of range once converted to UTC") from exc


# A moment in time, in UTC.
UtcTime = Annotated[datetime, AfterValidator(utc_time)]
# A decimal a Money column or a JSON setting keeps exactly.
Amount = Annotated[Decimal, AfterValidator(storable_decimal)]
# Names: no control characters (the length is the column's, given per field).
OneLine = AfterValidator(one_line)

MAX_DEPTH = 8  # nesting of any request body (JSON settings, strategy parameters)
MAX_NODES = 5_000  # values in any request body, all levels together
MAX_TEXT = 10_000  # characters of any one string (fields with a column say less)


def check_body(data: Any) -> Any:
    """Refuse, anywhere in a request body, text that storage cannot hold and nesting or size beyond
    the bounds: a before-validator of every request model (see schemas.Strict)."""
    nodes = 0
    stack: list[tuple[Any, int, str]] = [(data, 0, "body")]
    while stack:
        value, depth, where = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ValueError(f"too many values (more than {MAX_NODES})")
        if isinstance(value, str):
            if len(value) > MAX_TEXT:
                raise ValueError(f"{where}: text longer than {MAX_TEXT} characters")
            if _NUL_OR_SURROGATE.search(value):
                raise ValueError(f"{where}: text must not contain NUL or unpaired surrogate characters")
        elif isinstance(value, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise ValueError(f"{where}: nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                label = printable(str(key))[:40]
                if isinstance(key, str):
                    stack.append((key, depth + 1, f"{where} key {label!r}"))
                stack.append((item, depth + 1, f"{where}.{label}"))
    return data
