"""Values as JSON holds them, for events and other JSON-ready data. Pure.

Exact decimals as strings, times as ISO 8601, enums as their values, and a value of an unexpected type
as its text, so that converting never fails (events are built inside trading transactions)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from tradewire.domain.money import fmt

# Types JSON holds as they are (exactly these: an enum derived from str is turned into its value).
_AS_IS = frozenset({type(None), bool, int, float, str})


def plain(value: Any) -> Any:
    """`value` as JSON holds it: decimals exact, as strings; times ISO 8601; enums their values."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is Decimal:
        return fmt(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return fmt(value)
    for base in (bool, int, float, str):  # a subclass of one (not an enum): as its base holds it
        if isinstance(value, base):
            return base(value)
    return str(value)


def json_fields(**values: Any) -> dict[str, Any]:
    # Converted in place (the keyword arguments' dict is new at each call); most values are plain
    # already, and decimals, enums and times common: each converted by its type's own converter
    # (found once per type), not through plain()'s chain of checks (events are made per subscriber).
    for key, value in values.items():
        kind = type(value)
        if kind in _AS_IS:
            continue
        convert = _CONVERTERS.get(kind)
        if convert is None:
            convert = _converter(kind)
        values[key] = convert(value)
    return values


def _enum_value(value: Enum) -> Any:
    return plain(value._value_)  # the member's value, without the `value` property's lookup


def _iso(value: datetime) -> str:
    return value.isoformat()


_CONVERTERS: dict[type, Any] = {Decimal: fmt}


def _converter(kind: type) -> Any:
    """How `json_fields` converts a value of `kind`: as plain() would, an enum's and a time's found once."""
    if issubclass(kind, Enum):
        _CONVERTERS[kind] = _enum_value
        return _enum_value
    if issubclass(kind, datetime):
        _CONVERTERS[kind] = _iso
        return _iso
    return plain
