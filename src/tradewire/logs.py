"""Logging: readable text by default, one JSON object per line with TRADEWIRE_LOG_FORMAT=json.

Whatever the level, no secret reaches a log: every handler `configure` installs blanks API keys,
secrets, passphrases, signatures, bearer tokens and JWTs (by the name they travel under, by their
shape, and by value for the keys of the live accounts in use), and ccxt's own logger, which prints
whole signed requests at DEBUG, is kept at INFO or above.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime

MASK = "***"

# A credential by the name it travels under: headers (X-MBX-APIKEY, OK-ACCESS-SIGN, Authorization),
# JSON or dict fields ('apiKey': '...'), query and form parameters (signature=...).
_NAMED = re.compile(
    r"""(?ix)
    (?P<name>["']?[\w.-]*?(?:api[-_]?key|apikey|access[-_]?key|secret|passphrase|password|passwd
        |signature|sign|token|authorization|cookie)["']?)
    (?P<sep>\s*[:=]\s*)
    (?:(?P<quote>["'])(?P<quoted>.*?)(?P=quote)|(?P<bare>[^\s,&;}\]]+))
    """
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# A Telegram bot token (<bot id>:<35 characters>), also inside a Bot API URL (/bot<token>/sendMessage).
_BOT_TOKEN = re.compile(r"(?<![A-Za-z0-9])(bot)?\d{5,}:[A-Za-z0-9_-]{30,}")

_known: set[str] = set()
_known_pattern: re.Pattern[str] | None = None
_known_lock = threading.Lock()


def register_secret(*values: str | None) -> None:
    """Blank these exact values wherever they appear in a log (the API keys of a live account)."""
    global _known_pattern
    fresh = {v for v in values if v and len(v) >= 6} - _known
    if not fresh:
        return
    with _known_lock:
        _known.update(fresh)
        longest_first = sorted(_known, key=len, reverse=True)
        _known_pattern = re.compile("|".join(re.escape(v) for v in longest_first))


def redact(text: str) -> str:
    """`text` with every secret it carries replaced by ***."""
    pattern = _known_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _JWT.sub(MASK, text)
    text = _BOT_TOKEN.sub(lambda m: f"{m.group(1) or ''}{MASK}", text)
    return _NAMED.sub(_mask_named, text)


def _mask_named(match: re.Match[str]) -> str:
    quote = match.group("quote")
    value = f"{quote}{MASK}{quote}" if quote else MASK
    return f"{match.group('name')}{match.group('sep')}{value}"


class RedactSecrets(logging.Filter):
    """A handler filter that rewrites each record's message (and traceback) without its secrets."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception text)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text  # already formatted (and redacted) by the filter
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class RecentProblems(logging.Handler):
    """The process's last warnings and errors, redacted and cut short (no tracebacks), newest last:
    what an admin's health page lists as the last errors."""

    def __init__(self, keep: int = 50, max_chars: int = 300) -> None:
        super().__init__(logging.WARNING)
        self._keep = keep
        self._max = max_chars
        self._entries: list[dict[str, str]] = []
        self._entries_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = " ".join(redact(record.getMessage()).split())
        except Exception:  # a record whose arguments do not format: say so, never fail the caller
            message = f"(unformattable message: {record.msg!r})"[: self._max]
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": message[: self._max],
        }
        with self._entries_lock:
            self._entries.append(entry)
            del self._entries[: -self._keep]

    def entries(self) -> list[dict[str, str]]:
        with self._entries_lock:
            return list(self._entries)


RECENT_PROBLEMS = RecentProblems()


def watch_problems() -> RecentProblems:
    """Keep the last warnings and errors (RECENT_PROBLEMS) from now on; idempotent."""
    root = logging.getLogger()
    if RECENT_PROBLEMS not in root.handlers:
        root.addHandler(RECENT_PROBLEMS)
    return RECENT_PROBLEMS


def configure(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    watch_problems()
    root.setLevel(level)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs each request's URL at INFO, and a Telegram bot's URLs carry its token (as Discord's and
    # Slack's webhook URLs carry theirs: outgoing webhooks post with httpx too).
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    # ccxt logs every signed request and response whole at DEBUG: never that, even when we debug.
    logging.getLogger("ccxt").setLevel(max(logging.INFO, root.level))
