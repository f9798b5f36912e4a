"""Telegram, as the platform sees it without I/O: link codes, commands and the data of their buttons,
confirm-before-trade questions and the daily summary. Which events are notifications and their text are
every channel's (domain/notices.py).

Every number in a message is the exact decimal the event stored (events hold decimals as strings),
with the quote currency of its pair (the account's currency for that trade). Messages are plain text
(no parse mode: a symbol or a reason can never break the markup) and never longer than Telegram's 4096.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tradewire.domain.money import fmt
from tradewire.domain.notices import MAX_TEXT, clip, quote_of

MAX_MESSAGE = MAX_TEXT  # Telegram's limit on a message's text
MAX_COMMAND_TEXT = 256  # longer messages are not commands we read
MAX_CALLBACK_DATA = 64  # Telegram's limit, in bytes
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read from a screen and typed
CODE_LENGTH = 10  # 32^10 = 2^50 codes
MAX_DB_ID = 2**63 - 1


# -- link codes --------------------------------------------------------------------------------------


def new_link_code() -> str:
    """A random one-time code (50 bits), shown once to its user."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def code_digest(code: str) -> str:
    """How a code is stored: its SHA-256 (a 50-bit random code needs no slow hash; attempts are
    bounded and codes expire in minutes)."""
    return hashlib.sha256(normal_code(code).encode()).hexdigest()


def normal_code(code: str) -> str:
    return code.strip().upper()


def looks_like_code(code: str) -> bool:
    text = normal_code(code)
    return len(text) == CODE_LENGTH and all(c in CODE_ALPHABET for c in text)


# -- commands ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # without the slash, lower case; "" for text that is not a command
    args: tuple[str, ...]


_COMMAND = re.compile(r"^/([A-Za-z_]{1,32})(?:@[A-Za-z0-9_]{1,64})?$")


def parse_command(text: str | None) -> Command:
    """`/name arg …` (also `/name@bot`); anything else, or longer than MAX_COMMAND_TEXT, is no command."""
    if not text or len(text) > MAX_COMMAND_TEXT:
        return Command("", ())
    words = text.split()
    match = _COMMAND.match(words[0]) if words else None
    if match is None:
        return Command("", ())
    return Command(match.group(1).lower(), tuple(words[1:9]))


def db_id(text: str) -> int | None:
    """A database id typed by a user: 1 … 2^63-1, digits only (with an optional leading #)."""
    text = text.removeprefix("#")
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_DB_ID else None


def close_data(position_id: int) -> str:
    """The Confirm button's data of /close: checked again (the position must be the chat's user's)."""
    return f"close:{position_id}"


def cancel_data(position_id: int) -> str:
    return f"keep:{position_id}"


def confirm_data(intent_id: int) -> str:
    """The Confirm button's data under a proposed entry: checked again (the intent must be the chat's
    user's, and still wait)."""
    return f"ok:{intent_id}"


def decline_data(intent_id: int) -> str:
    return f"no:{intent_id}"


BUTTON_ACTIONS = ("close", "keep", "ok", "no")


def parse_button(data: str | None) -> tuple[str, int] | None:
    """A button's (action, id): a position's for close and keep, an intent's for ok and no; None for
    data we did not make."""
    if not data or len(data.encode()) > MAX_CALLBACK_DATA:
        return None
    action, _, raw = data.partition(":")
    if action not in BUTTON_ACTIONS:
        return None
    found = db_id(raw)
    return None if found is None else (action, found)


# -- confirm before trade ----------------------------------------------------------------------------

# The intent events that end or follow a question asked in a chat: its message is edited to tell them.
OUTCOMES = ("confirmed", "declined", "expired", "ordered", "rejected", "failed")


def _v(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return "-" if value is None else str(value)


def prompt_of(topic: str, type_: str, data: dict[str, Any]) -> tuple[int, str] | None:
    """The question to ask for an outcome event: (intent id, text) for an entry proposed to a
    subscription that confirms on Telegram, else None. Asked whatever the notification settings say:
    unasked, the entry could only expire."""
    if topic != "intents" or type_ != "proposed" or data.get("via") != "telegram":
        return None
    intent_id = data.get("intent_id")
    if not isinstance(intent_id, int) or isinstance(intent_id, bool):
        return None
    return intent_id, prompt_text(data)


def prompt_text(data: dict[str, Any]) -> str:
    """An entry proposed for confirmation: the order, its stop and target, the risk rules' verdicts,
    the signal's confidence, the sizing, and the deadline."""
    raw = data.get("proposal")
    p: dict[str, Any] = raw if isinstance(raw, dict) else {}
    quote = quote_of(p.get("symbol"))
    limit = f", limit {p['limit_price']}" if p.get("limit_price") is not None else ""
    lines = [
        f"❓ Confirm entry: buy {_v(p, 'amount')} {_v(p, 'symbol')} ({_v(p, 'order_type')}{limit}) "
        f"at {_v(p, 'price')} {quote}, about {_v(p, 'notional')} {quote}?",
        f"Stop loss {_v(p, 'stop_loss')}, take profit {_v(p, 'take_profit')}",
    ]
    verdicts = [v for v in p.get("risk") or () if isinstance(v, dict)]
    if verdicts:
        passed = sum(1 for v in verdicts if v.get("passed"))
        lines.append(f"Risk: {passed} of {len(verdicts)} rules passed")
        lines += [f"  {'✓' if v.get('passed') else '✗'} {_v(v, 'rule')}: {_v(v, 'detail')}" for v in verdicts]
    if p.get("confidence") is not None:
        lines.append(f"Signal confidence: {p['confidence']}")
    if p.get("sizing_note"):
        lines.append(f"Sizing: {p['sizing_note']}")
    lines.append(
        f"Answer by {_utc_time(data.get('confirm_by'))} (intent #{_v(data, 'intent_id')}, subscription "
        f"#{_v(data, 'subscription_id')}); unanswered, nothing trades."
    )
    return clip("\n".join(lines))


def _utc_time(value: Any) -> str:
    """An ISO 8601 time as people read it ("2026-12-06 14:05:09 UTC"); as given when not one."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def outcome_of(topic: str, type_: str, data: dict[str, Any]) -> tuple[int, str] | None:
    """(intent id, the line that tells it) for an intent event that may follow a question, else None."""
    if topic != "intents" or type_ not in OUTCOMES:
        return None
    intent_id = data.get("intent_id")
    if not isinstance(intent_id, int) or isinstance(intent_id, bool):
        return None
    return intent_id, outcome_line(type_, data)


def outcome_line(kind: str, data: dict[str, Any]) -> str:
    if kind == "confirmed":
        return "✅ Confirmed: risk and price are checked again now, then it is ordered."
    if kind == "declined":
        return "✖️ Declined: nothing traded."
    if kind == "expired":
        return f"⌛ {_v(data, 'reason')}"
    if kind == "ordered":
        return f"📤 Ordered: order #{_v(data, 'order_id')}."
    if kind == "rejected":
        return f"🛑 Not traded: {_v(data, 'reason')}"
    return f"❌ Failed: {_v(data, 'reason')}"


def answered_text(question: str, line: str) -> str:
    """The question's message once something became of it: its text, then what."""
    return clip(f"{question}\n\n{line}")


HELP = (
    "Tradewire commands:\n"
    "/status - your subscriptions and their trading state\n"
    "/positions - open positions with their PnL\n"
    "/profit [days] - realised PnL of positions closed in the last days (default 7)\n"
    "/balance - your accounts' balances\n"
    "/close ID - close a position (asks to confirm)\n"
    "/pause ID, /resume ID - pause or resume a subscription (resume also lifts a halt or drawdown pause)\n"
    "/halt - HALT every subscription at once (no orders at all)\n"
    "/unlink - disconnect this chat\n"
    "/help - this list"
)

COMMANDS: tuple[tuple[str, str], ...] = (
    ("status", "your subscriptions and their trading state"),
    ("positions", "open positions with their PnL"),
    ("profit", "realised PnL of the last days"),
    ("balance", "your accounts' balances"),
    ("close", "close a position"),
    ("pause", "pause a subscription"),
    ("resume", "resume a subscription"),
    ("halt", "HALT every subscription"),
    ("unlink", "disconnect this chat"),
    ("help", "the commands"),
)


# -- the daily summary -------------------------------------------------------------------------------


def summary_day(local_now: datetime, hour: int, last_sent_on: str | None) -> str | None:
    """The local day (ISO date) whose summary is due at `local_now` (the user's own time): from `hour`
    on, once a day; None when not yet, or when that day's was sent."""
    if local_now.hour < hour:
        return None
    day = local_now.date().isoformat()
    return None if last_sent_on is not None and last_sent_on >= day else day


@dataclass(frozen=True, slots=True)
class DayResults:
    """What a summary tells: positions closed in the last 24 hours (per quote currency: count,
    realised PnL, fees) and the open positions (count, unrealised PnL per quote where marked)."""

    closed: dict[str, tuple[int, Decimal, Decimal]]
    open_count: int
    unrealised: dict[str, Decimal]
    unmarked: int  # open positions without a price now


def summary_text(day: str, time_zone: str, results: DayResults) -> str:
    lines = [f"📊 Daily summary {day} ({time_zone})"]
    if not results.closed:
        lines.append("No positions closed in the last 24 hours.")
    for quote in sorted(results.closed):
        count, realised, fees = results.closed[quote]
        lines.append(
            f"Closed {count} ({quote}): realised {fmt(realised) or '0'}, fees {fmt(fees) or '0'}, "
            f"net {fmt(realised - fees) or '0'}"
        )
    opened = f"Open positions: {results.open_count}"
    if results.unrealised:
        marks = ", ".join(f"{fmt(v) or '0'} {q}" for q, v in sorted(results.unrealised.items()))
        opened += f", unrealised {marks}"
    if results.unmarked:
        opened += f" ({results.unmarked} without a price now)"
    lines.append(opened)
    return clip("\n".join(lines))
