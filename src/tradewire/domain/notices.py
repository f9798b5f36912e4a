"""The notifications a user gets, on every channel (Telegram, outgoing webhooks), without I/O: which
outbox events are notifications, and their text.

Every number in a text is the exact decimal the event stored (events hold decimals as strings), with the
quote currency of its pair (the account's currency for that trade). Texts are plain (no markup: a symbol
or a reason can never break it) and never longer than MAX_TEXT (Telegram's 4096).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

MAX_TEXT = 4096  # Telegram's limit on a message's text, the tightest of the channels that take it whole


class Notice(StrEnum):
    """The notifications a user turns on or off, each fed by events of the outbox."""

    SIGNAL_RECEIVED = "signal_received"  # a signal reached one of the user's subscriptions
    ENTRY_FILLED = "entry_filled"  # a buy filled (each fill)
    EXIT_FILLED = "exit_filled"  # a position closed: reason and realised PnL
    ORDER_FAILED = "order_failed"  # an order rejected, or an intent failed, with the reason
    ENTRY_REFUSED = "entry_refused"  # a risk rule refused an entry
    BOT_CHANGED = "bot_changed"  # a bot started or stopped
    DAILY_LOSS = "daily_loss"  # an account's daily loss limit reached (once a day)
    DRAWDOWN = "drawdown"  # a subscription's drawdown past its warning level, and its pause
    BREAKER_OPEN = "breaker_open"  # an exchange account's circuit breaker opened


NOTICES: tuple[Notice, ...] = tuple(Notice)


def notice_of(topic: str, type_: str, data: dict[str, Any]) -> Notice | None:
    """Which notification an outbox event is (None: not one a chat is told of)."""
    if topic == "signals" and type_ == "received":
        return Notice.SIGNAL_RECEIVED
    if topic == "fills" and type_ == "new" and data.get("side") == "buy":
        return Notice.ENTRY_FILLED
    if topic == "positions" and type_ == "closed":
        return Notice.EXIT_FILLED
    if topic == "positions" and type_ == "exit_refused":  # for insufficient funds (domain/held_exit.py)
        return Notice.ORDER_FAILED
    if topic == "orders" and type_ == "updated" and data.get("state") == "rejected":
        return Notice.ORDER_FAILED
    if topic == "intents" and type_ == "failed":
        return Notice.ORDER_FAILED
    details = data.get("details")
    if topic == "intents" and type_ == "rejected" and isinstance(details, dict) and "risk" in details:
        return Notice.ENTRY_REFUSED
    if topic == "bots" and type_ == "changed":
        return Notice.BOT_CHANGED
    if topic == "risk":
        return _RISK_NOTICES.get(type_)
    return None


_RISK_NOTICES = {
    "daily_loss": Notice.DAILY_LOSS,
    "drawdown_warning": Notice.DRAWDOWN,
    "paused": Notice.DRAWDOWN,
    "breaker_open": Notice.BREAKER_OPEN,
}


def quote_of(symbol: Any) -> str:
    """The quote currency of a pair ("BTC/USDT" → "USDT"); "" when it has none."""
    text = str(symbol or "")
    return text.split("/", 1)[1].split(":", 1)[0] if "/" in text else ""


def _v(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return "-" if value is None else str(value)


def notice_text(notice: Notice, data: dict[str, Any]) -> str:
    """The message of a notification (plain text, at most MAX_MESSAGE characters)."""
    d = data
    quote = quote_of(d.get("symbol"))
    if notice is Notice.SIGNAL_RECEIVED:
        price = f" @ {d['price']} {quote}".rstrip() if d.get("price") is not None else ""
        size = f" {d['contracts']}" if d.get("contracts") is not None else ""
        text = (
            f"📡 Signal #{_v(d, 'signal_id')}: {_v(d, 'action')} {_v(d, 'symbol')}{size}{price} "
            f"(strategy #{_v(d, 'strategy_id')})"
        )
    elif notice is Notice.ENTRY_FILLED:
        text = (
            f"✅ Entry filled: bought {_v(d, 'amount')} {_v(d, 'symbol')} @ {_v(d, 'price')} {quote}, "
            f"fee {_v(d, 'fee')} {d.get('fee_currency') or ''}".rstrip()
            + f" (order #{_v(d, 'order_id')}, account #{_v(d, 'account_id')})"
        )
    elif notice is Notice.EXIT_FILLED:
        text = (
            f"🏁 Position #{_v(d, 'position_id')} {_v(d, 'symbol')} closed ({_v(d, 'close_reason')}): "
            f"realised PnL {_v(d, 'realized_pnl')} {quote}, fees {_v(d, 'fees')} {quote} "
            f"(account #{_v(d, 'account_id')})"
        )
        if d.get("note"):  # closed outside tradewire: why, with the numbers
            text += f": {_v(d, 'note')}"
    elif notice is Notice.ORDER_FAILED:
        if "position_id" in d and d.get("note"):  # an exit refused for insufficient funds
            text = f"⚠️ Position #{_v(d, 'position_id')} {_v(d, 'symbol')}: {_v(d, 'note')}"
        elif "order_id" in d and d.get("state") == "rejected":
            text = f"❌ Order #{_v(d, 'order_id')} rejected: {_v(d, 'reason')}"
        else:
            text = (
                f"❌ Intent #{_v(d, 'intent_id')} (signal #{_v(d, 'signal_id')}, subscription "
                f"#{_v(d, 'subscription_id')}) failed: {_v(d, 'reason')}"
            )
    elif notice is Notice.ENTRY_REFUSED:
        text = (
            f"🛑 Entry refused by risk (intent #{_v(d, 'intent_id')}, subscription "
            f"#{_v(d, 'subscription_id')}): {_v(d, 'reason')}"
        )
    elif notice is Notice.DAILY_LOSS:
        text = _daily_loss_text(d)
    elif notice is Notice.DRAWDOWN:
        text = _drawdown_text(d)
    elif notice is Notice.BREAKER_OPEN:
        text = (
            f"🔌 Exchange account #{_v(d, 'account_id')} ({_v(d, 'exchange')}): circuit breaker open after "
            f"{_v(d, 'failures')} failed calls in a row ({_v(d, 'kind')}); no calls for "
            f"{_seconds(d.get('cooldown_s'))} s, then one trial"
        )
    else:
        state = "running" if d.get("enabled") and d.get("status") == "ACTIVE" else "stopped"
        text = f"🤖 Bot #{_v(d, 'bot_id')} {state} (subscription {_v(d, 'status')})"
    return clip(text)


def _money(d: dict[str, Any], key: str) -> str:
    """An amount with the event's currency ("12.5 USDT")."""
    return f"{_v(d, key)} {d.get('currency') or ''}".rstrip()


def _daily_loss_text(d: dict[str, Any]) -> str:
    bounds = []
    if d.get("equity") is not None:
        bounds.append(f"{_v(d, 'daily_loss_pct')}% of equity {_money(d, 'equity')}")
    if d.get("daily_loss_quote") is not None:
        bounds.append(_money(d, "daily_loss_quote"))
    how = f" ({'the smaller of ' + ' and '.join(bounds) if len(bounds) > 1 else bounds[0]})" if bounds else ""
    return (
        f"🚨 Daily loss limit reached on account #{_v(d, 'account_id')}: lost {_money(d, 'loss')} on "
        f"{_v(d, 'day')} (UTC), limit {_money(d, 'limit')}{how}. No new entries until 00:00 UTC "
        f"(subscription #{_v(d, 'subscription_id')}, intent #{_v(d, 'intent_id')})"
    )


def _drawdown_text(d: dict[str, Any]) -> str:
    fall = f"results {_money(d, 'lost')} below their peak of {_money(d, 'peak')} (now {_money(d, 'total')})"
    if d.get("trading_state") == "REDUCING":
        return (
            f"⏸️ Subscription #{_v(d, 'subscription_id')} paused, exits only: drawdown "
            f"{_v(d, 'drawdown_pct')}% reached {_v(d, 'pause_pct')}% (account #{_v(d, 'account_id')}), "
            f"{fall}. /resume {_v(d, 'subscription_id')} (or its trading state ACTIVE) resumes entries"
        )
    return (
        f"⚠️ Drawdown warning, subscription #{_v(d, 'subscription_id')} (account #{_v(d, 'account_id')}): "
        f"{_v(d, 'drawdown_pct')}% of equity, {fall}; warning at {_v(d, 'warn_pct')}%, entries pause "
        f"at {_v(d, 'pause_pct')}%"
    )


def _seconds(value: Any) -> str:
    """Seconds as people read them: 30, not 30.0."""
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return str(int(value))
    return "-" if value is None else str(value)


def stored_data(data_json: str) -> dict[str, Any] | None:
    """An outbox event's data as stored (JSON text), or None when it is not a JSON object."""
    try:
        data = json.loads(data_json)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def notice_from_data(topic: str, type_: str, data: dict[str, Any]) -> tuple[Notice, str] | None:
    """An outbox event's notification and text, or None."""
    notice = notice_of(topic, type_, data)
    return None if notice is None else (notice, notice_text(notice, data))


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """`text` cut to `limit` characters (with an ellipsis when cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
