"""An alert's fields turned into a SignalIntent: the action, numbers, levels, times and texts, each
checked against what storage and arithmetic hold. Shared by every alert format; no I/O."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tradewire.domain.money import MoneyError, describe, storable, to_decimal
from tradewire.domain.orders import OrderType
from tradewire.domain.signals import MarketPosition, SignalAction, SignalIntent

MAX_COMMENT_CHARS = 500
MAX_TICKER_CHARS = 64  # signals.ticker
MAX_TEXT_CHARS = 200  # exchange, interval, order id: kept in the signal's details

# As seconds, epochs this large would be past the year 5000, so they can only be milliseconds.
_EPOCH_MS_THRESHOLD = Decimal(10) ** 11
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Milliseconds at the end of year 9999, the last moment a datetime holds. Compared before any
# arithmetic, so an epoch such as 1e900000 is refused without being converted.
_EPOCH_MS_LIMIT = Decimal(253402300800000)

ACTIONS: dict[str, SignalAction] = {
    **dict.fromkeys(("buy", "long", "enter_long", "entry_long"), SignalAction.BUY),
    **dict.fromkeys(("sell", "short", "enter_short", "entry_short"), SignalAction.SELL),
    **dict.fromkeys(
        (
            "close",
            "exit",
            "flat",
            "close_all",
            "exit_all",
            "flatten",
            "close_long",
            "exit_long",
            "close_short",
            "exit_short",
            "cover",
        ),
        SignalAction.EXIT,
    ),
}

# Field name -> (the name as the sender wrote it, for error messages; the raw value).
Fields = dict[str, tuple[str, object]]


class AlertError(ValueError):
    """The body cannot be read as a trading signal; str(exc) says what is wrong, for a 4xx answer."""


def build_intent(fields: Fields) -> SignalIntent:
    """The signal the fields describe; AlertError naming the field (as the sender wrote it) if not one."""
    action = _action(fields)
    ticker = _required_text(fields, "ticker", "the alert must name a symbol ('ticker' or 'symbol')")
    _check_length(fields, "ticker", ticker, MAX_TICKER_CHARS)
    market_position, market_position_size = _market_position(fields)
    # A buy or sell that leaves the strategy flat closes the position rather than opening one.
    if market_position is MarketPosition.FLAT and action is not SignalAction.EXIT:
        action = SignalAction.EXIT
    _check_levels(action, fields)
    return SignalIntent(
        action=action,
        ticker=ticker,
        contracts=_positive(fields, "contracts"),
        price=_positive(fields, "price"),
        stop_loss=_positive(fields, "stop_loss"),
        take_profit=_positive(fields, "take_profit"),
        market_position=market_position,
        prev_market_position=_position(fields, "prev_market_position"),
        market_position_size=market_position_size,
        prev_market_position_size=_non_negative(fields, "prev_market_position_size"),
        exchange=_short_text(fields, "exchange"),
        interval=_short_text(fields, "interval"),
        order_id=_short_text(fields, "order_id"),
        signal_time=_signal_time(fields),
        comment=_comment(fields),
        order_type=_order_type(fields),
    )


def _order_type(fields: Fields) -> OrderType | None:
    """market or limit; a limit order needs the alert's price (its limit)."""
    raw = _optional_text(fields, "order_type")
    if raw is None:
        return None
    try:
        kind = OrderType(raw.lower())
    except ValueError:
        name = fields["order_type"][0]
        raise AlertError(f"field {name!r} is {raw[:40]!r}; expected market or limit") from None
    if kind is OrderType.LIMIT and _positive(fields, "price") is None:
        raise AlertError('order_type limit needs a price: add "price": "{{strategy.order.price}}"')
    return kind


def _check_levels(action: SignalAction, fields: Fields) -> None:
    """A long entry's stop must lie below its price and its target above (when the alert has both)."""
    price, stop, target = (_positive(fields, f) for f in ("price", "stop_loss", "take_profit"))
    if action is not SignalAction.BUY:
        return
    if stop is not None and target is not None and stop >= target:
        raise AlertError(f"stop_loss {stop} must be below take_profit {target} for a buy")
    if price is not None and stop is not None and stop >= price:
        raise AlertError(f"stop_loss {stop} must be below the price {price} for a buy")
    if price is not None and target is not None and target <= price:
        raise AlertError(f"take_profit {target} must be above the price {price} for a buy")


def _action(fields: Fields) -> SignalAction:
    raw = _required_text(fields, "action", "the alert must say buy, sell or close/exit")
    action = ACTIONS.get(action_key(raw))
    if action is None:
        raise AlertError(f"unknown action {raw!r}; expected buy, sell or close/exit")
    return action


def action_key(raw: str) -> str:
    """An action as ACTIONS spells it: 'Close Long' and 'close-long' are close_long."""
    return re.sub(r"[\s-]+", "_", raw.strip().lower())


def _market_position(fields: Fields) -> tuple[MarketPosition | None, Decimal | None]:
    """The position after the order and its size, falling back to the signed strategy.position_size."""
    position = _position(fields, "market_position")
    size = _non_negative(fields, "market_position_size")
    signed = _number(fields, "position_size")
    if signed is not None:
        if position is None:
            position = _side_of(signed)
        if size is None:
            size = signed.copy_abs()
    return position, size


def _side_of(signed_size: Decimal) -> MarketPosition:
    if signed_size > 0:
        return MarketPosition.LONG
    if signed_size < 0:
        return MarketPosition.SHORT
    return MarketPosition.FLAT


def _position(fields: Fields, field: str) -> MarketPosition | None:
    raw = _optional_text(fields, field)
    if raw is None:
        return None
    try:
        return MarketPosition(raw.lower())
    except ValueError:
        name = fields[field][0]
        raise AlertError(f"field {name!r} is {raw!r}; expected long, short or flat") from None


def _required_text(fields: Fields, field: str, hint: str) -> str:
    if field not in fields:
        raise AlertError(f"missing {field}: {hint}")
    text = _optional_text(fields, field)
    if text is None:
        raise AlertError(f"field {fields[field][0]!r} is empty: {hint}")
    return text


def _optional_text(fields: Fields, field: str) -> str | None:
    if field not in fields:
        return None
    name, value = fields[field]
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise AlertError(f"field {name!r} must be text")
    text = str(value).strip()
    _reject_placeholder(name, text)
    return text or None


def _short_text(fields: Fields, field: str) -> str | None:
    text = _optional_text(fields, field)
    if text is not None:
        _check_length(fields, field, text, MAX_TEXT_CHARS)
    return text


def _check_length(fields: Fields, field: str, text: str, limit: int) -> None:
    if len(text) > limit:
        raise AlertError(f"field {fields[field][0]!r} is {len(text)} characters long; the limit is {limit}")


def _number(fields: Fields, field: str) -> Decimal | None:
    """The field as an exact number that storage holds (below 1e20, 18 decimals), else AlertError."""
    if field not in fields:
        return None
    name, value = fields[field]
    if isinstance(value, str):
        if not value.strip():
            raise AlertError(f"field {name!r} is empty; expected a number")
        _reject_placeholder(name, value)
    try:
        number = to_decimal(value)
    except MoneyError:
        raise AlertError(f"field {name!r} is not a number: {_quoted(value)}") from None
    try:
        return storable(number, f"field {name!r}")
    except MoneyError as exc:
        raise AlertError(str(exc)) from None


def _quoted(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _positive(fields: Fields, field: str) -> Decimal | None:
    value = _number(fields, field)
    if value is not None and value <= 0:
        raise AlertError(f"field {fields[field][0]!r} must be positive, got {describe(value)}")
    return value


def _non_negative(fields: Fields, field: str) -> Decimal | None:
    value = _number(fields, field)
    if value is not None and value < 0:
        raise AlertError(f"field {fields[field][0]!r} must not be negative, got {describe(value)}")
    return value


def _reject_placeholder(name: str, text: str) -> None:
    # A template pasted into a test tool (not rendered by TradingView) still has its {{...}}.
    if "{{" in text:
        raise AlertError(f"field {name!r} holds an unrendered placeholder {text!r}")


def _comment(fields: Fields) -> str | None:
    comment = _optional_text(fields, "comment")
    return comment[:MAX_COMMENT_CHARS] if comment is not None else None


def _signal_time(fields: Fields) -> datetime | None:
    if "time" not in fields:
        return None
    name, value = fields["time"]
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise AlertError(f"field {name!r} is empty; expected an ISO 8601 time or epoch seconds")
        if re.fullmatch(r"[+-]?\d+(?:\.\d+)?", text):
            return _from_epoch(name, Decimal(text))  # digits only: at most the body's 64 KiB of them
        return _from_iso(name, text)
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return _from_epoch(name, Decimal(value))
    raise AlertError(f"field {name!r} must be an ISO 8601 time or epoch seconds")


def _from_iso(name: str, text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AlertError(f"field {name!r} is not a time: {_quoted(text)}") from None
    # TradingView's times are UTC; a time without an offset can only mean UTC.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the year 9999 in UTC
        raise AlertError(f"field {name!r} is out of range: {_quoted(text)}") from None


def _from_epoch(name: str, value: Decimal) -> datetime:
    if not value.is_finite() or value.copy_abs() >= _EPOCH_MS_LIMIT:
        raise AlertError(f"field {name!r} is out of range: {describe(value)} (epoch seconds or milliseconds)")
    seconds = value / 1000 if value.copy_abs() >= _EPOCH_MS_THRESHOLD else value
    try:
        return _EPOCH + timedelta(microseconds=int(seconds * 1_000_000))
    except (OverflowError, ArithmeticError):
        raise AlertError(f"field {name!r} is out of range: {describe(value)}") from None
