"""Outgoing webhooks, without I/O: what a user may point one at, the bodies (Discord-, Slack-compatible
or JSON), the signature, and what an answer means (done, try again, refused) with the waits between
tries.

The texts are the notifications' (domain/notices.py `notice_from_data`), as Telegram sends them: one
wording for every channel. A body is signed with the hook's secret (`X-Tradewire-Signature:
sha256=<hex HMAC-SHA256 of the raw body>`), so a receiver can check a request came from this server
and was not altered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from tradewire.domain.notices import NOTICES, Notice, clip, notice_from_data

MAX_URL = 2048
DISCORD_MAX = 2000  # Discord's limit on a message's content
SLACK_MAX = 4000  # Slack truncates longer texts; keep well within
SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
SIGNATURE_HEADER = "X-Tradewire-Signature"
TIMESTAMP_HEADER = "X-Tradewire-Timestamp"
ID_HEADER = "X-Tradewire-Event-Id"  # the same on every try of one delivery: receivers drop repeats
MAX_RETRY_AFTER_S = 600.0  # a 429's Retry-After is honoured up to this
DEFAULT_RETRY_AFTER_S = 30.0  # a 429 without a readable Retry-After


class HookKind(StrEnum):
    """The body a hook receives."""

    DISCORD = "discord"  # {"content": text}
    SLACK = "slack"  # {"text": text}
    JSON = "json"  # {"event": {topic, type, id, ts, data}, "text": text}


class Verdict(StrEnum):
    """What an answer means for the delivery."""

    DONE = "done"  # 2xx
    RETRY = "retry"  # 5xx, 429, 408 (and timeouts and connection errors, which have no answer)
    REFUSED = "refused"  # any other status: sending it again cannot help


def new_secret() -> str:
    """A hook's signing secret (256 random bits), shown once to its user."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def url_problem(url: str, allow_http: bool) -> str | None:
    """Why `url` cannot be a hook's address by its form alone (None: acceptable). https only, unless
    the server allows plain http; no credentials; a host. Where the host's name leads is checked
    when the hook is made and at every connection (the adapter)."""
    if len(url) > MAX_URL:
        return f"at most {MAX_URL} characters"
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "no spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number or out of range)
    except ValueError:
        return "not a valid URL"
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        return "must be an https:// URL" if not allow_http else "must be an http:// or https:// URL"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials"
    if not parts.hostname:
        return "has no host"
    return None


def notices_on(settings: dict[str, bool] | None) -> dict[str, bool]:
    """Every notice with its state (those not set are on)."""
    chosen = settings or {}
    return {n.value: bool(chosen.get(n.value, True)) for n in NOTICES}


@dataclass(frozen=True, slots=True)
class Message:
    """What a hook is sent for one event: its text, and for JSON hooks the event itself."""

    notice: Notice | None  # None: a test message
    text: str
    event: dict[str, Any]  # topic, type, id, ts, data


def message_of(
    topic: str, type_: str, event_id: int, ts: str, data: dict[str, Any], settings: dict[str, bool]
) -> Message | None:
    """The message an outbox event makes for a hook with these notice settings, or None (not a
    notification, or turned off)."""
    made = notice_from_data(topic, type_, data)
    if made is None or not settings.get(made[0].value, True):
        return None
    notice, text = made
    return Message(notice, text, {"topic": topic, "type": type_, "id": event_id, "ts": ts, "data": data})


def trial_message(ts: str) -> Message:
    text = "🔔 Tradewire test message: this webhook is set up."
    return Message(None, text, {"topic": "webhooks", "type": "test", "id": None, "ts": ts, "data": {}})


def body_of(kind: HookKind, message: Message) -> bytes:
    """The request body for a hook of `kind` (UTF-8 JSON, compact: exactly what is signed)."""
    payload: dict[str, Any]
    if kind is HookKind.DISCORD:
        payload = {"content": clip(message.text, DISCORD_MAX)}
    elif kind is HookKind.SLACK:
        payload = {"text": clip(message.text, SLACK_MAX)}
    else:
        payload = {"event": message.event, "text": message.text}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_of(secret: str, body: bytes, delivery_id: str, unix_s: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, body),
        TIMESTAMP_HEADER: str(unix_s),
        ID_HEADER: delivery_id,
        "User-Agent": "tradewire-webhooks/1",
    }


def verdict_of(status: int) -> Verdict:
    if 200 <= status < 300:
        return Verdict.DONE
    if status >= 500 or status in (408, 429):
        return Verdict.RETRY
    return Verdict.REFUSED  # 3xx too: redirects are not followed (they could lead anywhere)


def backoff_s(attempt: int, base_s: float) -> float:
    """The wait after failed try number `attempt` (1, 2, …): base, 2×base, 4×base …"""
    return float(base_s * 2 ** (attempt - 1))


def retry_after_s(value: str | None) -> float:
    """A 429's Retry-After in seconds (an HTTP date, a missing or odd value: the default), capped."""
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER_S
    except ValueError:
        seconds = DEFAULT_RETRY_AFTER_S
    if seconds != seconds or seconds < 0:
        seconds = DEFAULT_RETRY_AFTER_S
    return min(seconds, MAX_RETRY_AFTER_S)
