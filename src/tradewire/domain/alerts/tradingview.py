"""TradingView webhook bodies read as trading signals: JSON templates and plain-text alerts, no I/O.

TradingView POSTs the alert message verbatim, as `application/json` only when the rendered text is
valid JSON and as `text/plain` otherwise; users also send JSON as text, so the body's shape decides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tradewire.domain.alerts.fields import ACTIONS, AlertError, Fields, action_key, build_intent
from tradewire.domain.money import MoneyError, to_decimal
from tradewire.domain.signals import SignalIntent

__all__ = ["MAX_BODY_BYTES", "AlertError", "ParsedAlert", "parse_alert"]

MAX_BODY_BYTES = 64 * 1024
# TradingView templates nest two levels ({"strategy": {"order": ...}}); deeper bodies are not alerts,
# and a bound keeps every walk over the body short whatever a sender (signed in or not) posts.
MAX_JSON_DEPTH = 16

# Order matters: the first key found is the passphrase.
_PASSPHRASE_KEYS = ("passphrase", "password", "secret", "token")
_TEXT_PASSPHRASE_KEYS = frozenset((*_PASSPHRASE_KEYS, "pass"))

_KeyPath = tuple[str, ...]
# Where each field may sit in a JSON body, most specific first: flat fields win over the nested
# strategy ones, and `order` as a plain string comes after `order.action` because it may be an object.
_FIELD_PATHS: dict[str, tuple[_KeyPath, ...]] = {
    "action": (
        ("action",),
        ("side",),
        ("signal",),
        ("order_action",),
        ("order", "action"),
        ("order",),
        ("strategy", "order_action"),
        ("strategy", "order", "action"),
    ),
    "ticker": (("ticker",), ("symbol",), ("pair",)),
    "contracts": (
        ("contracts",),
        ("quantity",),
        ("qty",),
        ("amount",),
        ("size",),
        ("order_contracts",),
        ("order", "contracts"),
        ("strategy", "order_contracts"),
        ("strategy", "order", "contracts"),
    ),
    "price": (
        ("price",),
        ("order_price",),
        ("order", "price"),
        ("strategy", "order_price"),
        ("strategy", "order", "price"),
        ("close",),
        ("bar", "close"),
    ),
    # {{timenow}} is when the alert fired; {{time}} and bar.time are the bar's open time.
    "time": (("timenow",), ("timestamp",), ("time",), ("strategy", "time"), ("bar", "time")),
    "exchange": (("exchange",),),
    "interval": (("interval",), ("timeframe",)),
    "order_id": (
        ("order_id",),
        ("id",),
        ("order", "id"),
        ("strategy", "order_id"),
        ("strategy", "order", "id"),
    ),
    "comment": (
        ("comment",),
        ("order", "comment"),
        ("strategy", "order_comment"),
        ("strategy", "order", "comment"),
    ),
    "market_position": (("market_position",), ("strategy", "market_position")),
    "prev_market_position": (("prev_market_position",), ("strategy", "prev_market_position")),
    "market_position_size": (("market_position_size",), ("strategy", "market_position_size")),
    "prev_market_position_size": (
        ("prev_market_position_size",),
        ("strategy", "prev_market_position_size"),
    ),
    # Absolute price levels for the position's stop loss and take profit.
    "stop_loss": (("stop_loss",), ("stoploss",), ("sl",), ("stop",), ("strategy", "stop_loss")),
    "take_profit": (("take_profit",), ("takeprofit",), ("tp",), ("target",), ("strategy", "take_profit")),
    # market | limit; a limit order's price is the alert's price ({{strategy.order.price}}).
    "order_type": (
        ("order_type",),
        ("ordertype",),
        ("order", "type"),
        ("strategy", "order_type"),
        ("strategy", "order", "type"),
    ),
    # Signed, as {{strategy.position_size}}: negative means short.
    "position_size": (("position_size",), ("strategy", "position_size")),
}

# `key=value` words in text alerts use the flat JSON names; `close=` would read as a price, so not it.
_TEXT_KEYS: dict[str, str] = {
    path[0]: field
    for field, paths in _FIELD_PATHS.items()
    for path in paths
    if len(path) == 1 and path[0] != "close"
}

# TradingView's default strategy alert: "Order buy @ 0.01 filled on BTCUSDT. New strategy position is 0.01".
_DEFAULT_STRATEGY_MESSAGE = re.compile(
    r"(?:^|\border\s+)(?P<action>[a-z_]+)\s+@\s+(?P<contracts>\S+)\s+filled\s+on\s+(?P<ticker>\S+?)\.?"
    r"(?:\s+new\s+strategy\s+position\s+is\s+(?P<position>\S+?))?\.?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ParsedAlert:
    """A webhook body read as a signal, with what the caller needs to authenticate and deduplicate it."""

    intent: SignalIntent
    passphrase: str | None
    dedup_material: str
    has_timestamp: bool


def parse_alert(body: bytes, content_type: str | None) -> ParsedAlert:
    """Read a TradingView webhook body (JSON or plain text) as a signal; AlertError if it is not one."""
    text = _decode(body)
    if text.startswith(("{", "[")) or _is_json_media_type(content_type):
        return _parse_json(text)
    return _parse_text(text)


def _decode(body: bytes) -> str:
    if len(body) > MAX_BODY_BYTES:
        raise AlertError(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AlertError(f"body is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    text = text.strip()
    if not text:
        raise AlertError("empty body: expected a JSON object or a text alert such as 'buy BTCUSDT'")
    if "\x00" in text:
        raise AlertError("body holds a NUL character, which is not text")
    return text


def _is_json_media_type(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


# --- JSON bodies -------------------------------------------------------------------------------


def _parse_json(text: str) -> ParsedAlert:
    exact = _load_json(text, parse_float=Decimal)
    if not isinstance(exact, dict):
        raise AlertError(f"body is JSON but not an object (got {_json_kind(exact)}); expected {{...}}")
    _check_json_shape(exact)
    fields = _json_fields(exact)
    return ParsedAlert(
        intent=build_intent(fields),
        passphrase=_json_passphrase(exact),
        dedup_material=_json_dedup_material(text),
        has_timestamp="time" in fields,
    )


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKETS = re.compile(r"[\[\]{}]")


def _nesting_over(text: str, limit: int) -> bool:
    """Whether `text`'s brackets (outside strings) nest deeper than `limit`, found before parsing: the
    parser recurses once per level, so the depth it can take depends on the stack it runs on."""
    depth = 0
    for bracket in _JSON_BRACKETS.findall(_JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def _load_json(text: str, parse_float: Callable[[str], Any] = float) -> object:
    if _nesting_over(text, MAX_JSON_DEPTH):
        raise AlertError(f"body is nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text, parse_float=parse_float, parse_constant=_reject_json_constant)
    except json.JSONDecodeError as exc:
        raise AlertError(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except RecursionError as exc:
        raise AlertError("body is not valid JSON: nested too deeply") from exc
    except ValueError as exc:  # NaN/Infinity, or integers past Python's digit limit
        raise AlertError(f"body is not valid JSON: {exc}") from exc


def _reject_json_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _check_json_shape(root: object) -> None:
    """Nesting within MAX_JSON_DEPTH and every key and string real text (no unpaired UTF-16 surrogate
    such as "\\ud800", no NUL), walked without recursion: the later walks rely on both."""
    pending: list[tuple[object, int]] = [(root, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise AlertError(f"body is nested more than {MAX_JSON_DEPTH} levels deep")
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise AlertError("body holds a NUL character (\\u0000), which is not text")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise AlertError(
                "body holds an unpaired UTF-16 surrogate escape (such as \\ud800), which is not text"
            ) from None


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _json_dedup_material(text: str) -> str:
    """The spec'd canonical form: plain json.loads floats, passphrase keys dropped, keys sorted."""
    plain = _load_json(text)
    if not isinstance(plain, dict):  # pragma: no cover - the exact parse already checked this
        raise AlertError("body is JSON but not an object")
    kept = {key: value for key, value in plain.items() if key.lower() not in _PASSPHRASE_KEYS}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"))


def _json_passphrase(obj: dict[str, Any]) -> str | None:
    lowered = {key.lower(): value for key, value in obj.items()}
    for key in _PASSPHRASE_KEYS:
        value = lowered.get(key)
        if value is None:
            continue
        # Users write `"passphrase": 1234` too; anything else is a template mistake.
        if isinstance(value, str | int | Decimal) and not isinstance(value, bool):
            return str(value)
        raise AlertError(f"field {key!r} must be text")
    return None


def _json_fields(obj: dict[str, Any]) -> Fields:
    lowered = _lower_keys(obj)
    fields: Fields = {}
    for field, paths in _FIELD_PATHS.items():
        found = _first_value(lowered, paths)
        if found is not None:
            fields[field] = found
    return fields


def _lower_keys(value: object) -> object:
    # Keys are matched case-insensitively because hand-written templates say "Ticker" or "ACTION".
    if isinstance(value, dict):
        return {str(key).lower(): _lower_keys(item) for key, item in value.items()}
    return value


def _first_value(obj: object, paths: tuple[_KeyPath, ...]) -> tuple[str, object] | None:
    """First non-null value along `paths`; an object sitting where a value belongs is a last resort."""
    container: tuple[str, object] | None = None
    for path in paths:
        value = _dig(obj, path)
        if value is None:
            continue
        if not isinstance(value, dict):
            return ".".join(path), value
        container = container or (".".join(path), value)
    return container


def _dig(obj: object, path: _KeyPath) -> object:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


# --- Plain-text bodies -------------------------------------------------------------------------


def _parse_text(text: str) -> ParsedAlert:
    passphrase: str | None = None
    kept: list[str] = []
    for word in text.split():
        key, sep, value = word.partition("=")
        if sep and key.lower() in _TEXT_PASSPHRASE_KEYS:
            passphrase = value if passphrase is None else passphrase
            continue
        kept.append(word)
    normalised = " ".join(kept)
    fields = _default_message_fields(normalised)
    if fields is None:
        fields = _dsl_fields(kept)
    return ParsedAlert(
        intent=build_intent(fields),
        passphrase=passphrase,
        dedup_material=normalised,
        has_timestamp="time" in fields,
    )


def _default_message_fields(text: str) -> Fields | None:
    match = _DEFAULT_STRATEGY_MESSAGE.search(text)
    if match is None:
        return None
    # In the default message the number after '@' is the order size, not a price.
    fields: Fields = {
        "action": ("action", match["action"]),
        "contracts": ("contracts", match["contracts"]),
        "ticker": ("ticker", match["ticker"]),
    }
    if match["position"] is not None:
        fields["position_size"] = ("strategy position", match["position"])
    return fields


def _dsl_fields(words: list[str]) -> Fields:
    """`BUY BTCUSDT 0.01 @ 96388.12`, `BTCUSDT sell`, `close long BINANCE:BTCUSDT`, `buy X qty=1`..."""
    fields: Fields = {}
    tokens: list[str] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            # "0.01@96000" and "@96000" are the same as "0.01 @ 96000".
            tokens.extend(piece for piece in re.split(r"(@)", word) if piece)
            continue
        field = _TEXT_KEYS.get(key.lower())
        if field is None:
            raise AlertError(f"unknown field {key!r} in text alert")
        _put(fields, field, key, value)
    _read_positional(tokens, fields)
    return fields


def _read_positional(tokens: list[str], fields: Fields) -> None:
    index = 0
    bare_size_seen = False
    while index < len(tokens):
        piece = tokens[index]
        if piece == "@":
            if index + 1 >= len(tokens):
                raise AlertError("'@' must be followed by a price")
            _put(fields, "price", "@", tokens[index + 1])
            index += 2
            continue
        action, used = _text_action(tokens, index)
        if action is not None:
            if "action" in fields:
                raise AlertError(f"unexpected second action {action!r} in text alert")
            _put(fields, "action", "action", action)
            index += used
            continue
        if _is_number(piece):
            # After a bare size, another bare number was most likely meant as the price.
            if bare_size_seen:
                raise AlertError(
                    f"unexpected number {piece!r} in text alert; "
                    f"write a price as '@ {piece}' or 'price={piece}'"
                )
            _put(fields, "contracts", "contracts", piece)
            bare_size_seen = True
        elif "ticker" not in fields:
            _put(fields, "ticker", "ticker", piece)
        else:
            raise AlertError(f"unexpected word {piece!r} in text alert")
        index += 1


def _text_action(tokens: list[str], index: int) -> tuple[str | None, int]:
    """The action word at `index` and how many tokens it spans: 'close long' and 'enter long' are one."""
    if index + 1 < len(tokens):
        pair = f"{tokens[index]}_{tokens[index + 1]}"
        if action_key(pair) in ACTIONS:
            return pair, 2
    if action_key(tokens[index]) in ACTIONS:
        return tokens[index], 1
    return None, 0


def _is_number(token: str) -> bool:
    try:
        to_decimal(token)
    except MoneyError:
        return False
    return True


def _put(fields: Fields, field: str, name: str, value: str) -> None:
    if field in fields:
        raise AlertError(f"{field} given twice in text alert")
    fields[field] = (name, value)
