"""The audit log: who did what, when, from where, as one append-only hash chain (no I/O here).

Every entry has a sequence number (1, 2, 3 ... with no gaps) and a hash over the previous entry's
hash and its own canonical form:

    hash(n) = SHA-256( bytes.fromhex(hash(n - 1)) || canonical(entry n) ),   hash(0) = GENESIS

`canonical` is JSON with the keys sorted, no whitespace, UTF-8, and exact types only: integers
(sequence number, user and target ids), the time as ISO 8601 UTC text with microseconds
(`2026-12-06T11:02:26.123456Z`), strings, booleans, null, and in the detail lists of those. No floats
(their text is not stable across platforms and money is never one); no secrets (`detail_of` refuses
keys that name one). The sequence number is part of the hashed content, so an entry cannot be moved
without its hash changing.

`ChainCheck` reads a chain in sequence order, one entry at a time (memory stays flat however long the
log), and names the first entry that is wrong and how:
  * MISSING: a sequence number is skipped (an entry was removed), or the log ends before the chain head
    says it does (the newest entries were removed);
  * REORDERED: an entry does not follow the one before it (its `prev_hash` is another entry's hash: it
    was moved, swapped with another, or entries before it were removed and the rest renumbered);
  * CHANGED: an entry's content no longer gives its hash (a field, or the hash itself, was edited).

A chain rewritten from the tampered entry to the end, head included, verifies: hash chains show
tampering by anyone who did not recompute the rest. Keep the head that `tradewire audit verify`
prints somewhere else (a ticket, a mail) and pass it later (`--expect SEQ:HASH`, the `anchor`
below): the entry it names must still carry that hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64  # the "previous hash" of entry 1
HASH_LENGTH = 64  # hex SHA-256

# Bounds of what an entry holds (the columns are sized to them).
USERNAME_MAX = 64
ADDRESS_MAX = 64  # an IPv6 address is at most 45 characters
CLIENT_MAX = 200  # User-Agent, cut to this
TARGET_TYPE_MAX = 32
DETAIL_MAX = 2000  # canonical JSON characters
DETAIL_KEYS_MAX = 20
DETAIL_KEY_MAX = 40
DETAIL_TEXT_MAX = 200
DETAIL_LIST_MAX = 40
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

# Detail keys that could carry a secret are refused outright (a mistake in our code, not user input).
SECRET_WORDS = ("password", "passphrase", "secret", "token", "api_key", "otp", "code")


class Action(StrEnum):
    """What an entry records: the closed set of audited actions."""

    SIGNIN = "signin"
    SIGNIN_FAILED = "signin.failed"
    SIGNIN_LOCKED = "signin.locked"
    ATTEMPTS_UNRECORDED = "signin.unrecorded"  # how many attempts over the hourly budget were not
    SIGNOUT = "signout"
    SESSION_REVOKED = "session.revoked"  # a refresh token used twice: its session ended (a copy exists)
    SIGNUP = "signup"
    PASSWORD_CHANGED = "password.changed"  # noqa: S105  (an action name, not a password)
    PASSWORD_CHANGE_FAILED = "password.change_failed"  # noqa: S105
    TOTP_ENROLLED = "totp.enrolled"
    TOTP_ENABLED = "totp.enabled"
    TOTP_DISABLED = "totp.disabled"
    TOTP_DISABLE_FAILED = "totp.disable_failed"
    ACCOUNT_CREATED = "account.created"  # an exchange account, with its API key
    ACCOUNT_DELETED = "account.deleted"  # and its API key
    API_KEYS_ROTATED = "api_keys.rotated"  # re-encrypted under a new server key (CLI)
    AI_ENDPOINT_CREATED = "ai_endpoint.created"  # an AI endpoint, with its API key
    AI_ENDPOINT_DELETED = "ai_endpoint.deleted"  # and its API key
    WEBHOOK_CREATED = "webhook.created"  # an outgoing webhook, with its signing secret
    WEBHOOK_DELETED = "webhook.deleted"
    STRATEGY_CREATED = "strategy.created"
    STRATEGY_CHANGED = "strategy.changed"
    PASSPHRASE_ROTATED = "strategy.passphrase_rotated"  # noqa: S105
    PAIR_CHANGED = "strategy.pair_changed"
    SUBSCRIPTION_CREATED = "subscription.created"
    SUBSCRIPTION_CHANGED = "subscription.changed"  # status, pairs, sizing, risk limits, exit rules
    BOT_CREATED = "bot.created"
    BOT_CHANGED = "bot.changed"
    BOT_STARTED = "bot.started"
    BOT_STOPPED = "bot.stopped"
    POSITION_CLOSED = "position.closed"  # a manual close
    INTENT_CONFIRMED = "intent.confirmed"  # confirm before trade: the user's answer
    INTENT_DECLINED = "intent.declined"
    MODEL_UPLOADED = "model.uploaded"
    MODEL_DELETED = "model.deleted"
    EXPORTED = "export"
    TAX_REPORT = "export.tax_report"
    USER_CREATED = "user.created"  # by an administrator (CLI)
    ROLE_SET = "admin.role_set"  # admin actions: the admin's, with the user as target (in both trails)
    USER_DISABLED = "admin.user_disabled"
    USER_ENABLED = "admin.user_enabled"
    PLATFORM_TRADING_SET = "admin.platform_trading"


Scalar = str | int | bool | None
Detail = Mapping[str, Scalar | Sequence[Scalar]]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: a user (id and name), or only a name (a sign-in attempt for an unknown user, the
    server's operator on the command line)."""

    user_id: int | None
    username: str


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from: the client's address and its User-Agent (cut to CLIENT_MAX)."""

    address: str
    client: str

    @classmethod
    def of(cls, address: str | None, client: str | None) -> Origin:
        return cls(_cut(address or "?", ADDRESS_MAX), _printable(_cut(client or "", CLIENT_MAX)))


# The target type of an entry about a user (an admin's action on them, their creation at the command
# line): such an entry is in that user's trail too, besides the actor's.
USER_TARGET = "user"

COMMAND_LINE = Origin("local", "tradewire cli")
SERVER = Origin("server", "tradewire")  # what the server records of itself


@dataclass(frozen=True, slots=True)
class Event:
    """An entry before it is chained: what happened, by whom, from where."""

    at: datetime
    actor: Actor
    action: Action
    origin: Origin
    target_type: str | None = None
    target_id: int | None = None
    detail: Detail | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """A chained entry, as stored."""

    seq: int
    at: datetime
    user_id: int | None
    username: str
    action: str
    target_type: str | None
    target_id: int | None
    detail: str  # canonical JSON of the detail object
    address: str
    client: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Head:
    """The chain's newest entry: its sequence number (0 for an empty log) and hash."""

    seq: int
    hash: str


EMPTY = Head(0, GENESIS)


def detail_of(detail: Detail | None) -> str:
    """The canonical JSON of a detail object; ValueError when it is too big, holds a float or other
    type, or has a key that names a secret."""
    detail = detail or {}
    if len(detail) > DETAIL_KEYS_MAX:
        raise ValueError(f"audit detail: more than {DETAIL_KEYS_MAX} keys")
    for key, value in detail.items():
        if not isinstance(key, str) or not 0 < len(key) <= DETAIL_KEY_MAX:
            raise ValueError(f"audit detail: bad key {key!r}")
        if any(word in key.lower() for word in SECRET_WORDS):
            raise ValueError(f"audit detail: key {key!r} may hold a secret")
        listed = isinstance(value, list | tuple)
        values = list(value) if isinstance(value, list | tuple) else [value]
        if listed and len(values) > DETAIL_LIST_MAX:
            raise ValueError(f"audit detail: {key} lists more than {DETAIL_LIST_MAX} items")
        for item in values:
            _check_scalar(key, item)
    text = _canonical({key: list(v) if isinstance(v, tuple) else v for key, v in detail.items()})
    if len(text) > DETAIL_MAX:
        raise ValueError(f"audit detail: over {DETAIL_MAX} characters")
    return text


def chained(event: Event, head: Head) -> Entry:
    """`event` as the entry after `head`."""
    actor = event.actor
    if actor.user_id is not None:
        _check_int("user_id", actor.user_id)
    if event.target_id is not None:
        _check_int("target_id", event.target_id)
    target_type = None if event.target_type is None else _cut(event.target_type, TARGET_TYPE_MAX)
    draft = Entry(
        seq=head.seq + 1,
        at=event.at.astimezone(UTC),
        user_id=actor.user_id,
        username=_printable(_cut(actor.username, USERNAME_MAX)),  # a name tried may hold anything
        action=Action(event.action).value,
        target_type=target_type,
        target_id=event.target_id,
        detail=detail_of(event.detail),
        address=_cut(event.origin.address, ADDRESS_MAX),
        client=_cut(event.origin.client, CLIENT_MAX),
        prev_hash=head.hash,
        hash="",
    )
    return _with_hash(draft)


def as_seen_by(entry: Entry, user_id: int) -> Entry:
    """`entry` as it is shown in the trail of `user_id`: an entry someone else wrote about them (an
    admin disabling them) without that actor's address and client, which are the actor's to see."""
    if entry.user_id == user_id:
        return entry
    return replace(entry, address="", client="")


def canonical(entry: Entry) -> bytes:
    """The bytes an entry's hash covers (besides the previous hash): everything but the two hashes.
    ValueError when the stored detail is not JSON."""
    content: dict[str, Any] = {
        "seq": entry.seq,
        "at": iso_utc(entry.at),
        "user_id": entry.user_id,
        "username": entry.username,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "detail": json.loads(entry.detail),
        "address": entry.address,
        "client": entry.client,
    }
    return _canonical(content).encode()


def entry_hash(prev_hash: str, entry: Entry) -> str:
    """SHA-256 over the previous hash's 32 bytes and the entry's canonical form, as hex. ValueError when
    `prev_hash` is not 64 hex digits or the detail not JSON."""
    if len(prev_hash) != HASH_LENGTH:
        raise ValueError("a hash is 64 hex digits")
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(entry)).hexdigest()


def iso_utc(at: datetime) -> str:
    """A time as the audit log writes it: ISO 8601 in UTC with microseconds and Z."""
    if at.tzinfo is None:
        raise ValueError("audit times are timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Problem(StrEnum):
    CHANGED = "changed"
    MISSING = "missing"
    REORDERED = "reordered"


@dataclass(frozen=True, slots=True)
class Finding:
    """The first wrong entry: its sequence number, what is wrong, and in words."""

    seq: int
    problem: Problem
    reason: str


class ChainCheck:
    """Checks a chain fed entry by entry in sequence order; `finish` compares the end with the chain
    head. Holds only the previous entry: memory is flat. An `anchor` is a head noted down earlier,
    outside the database: the entry it names must still have its hash (a chain rewritten from an
    earlier entry on, head included, passes every other check)."""

    def __init__(self, anchor: Head | None = None) -> None:
        self.checked = 0
        self._last = EMPTY
        self._anchor = anchor

    @property
    def last(self) -> Head:
        return self._last

    def feed(self, entry: Entry) -> Finding | None:
        """The problem with `entry`, the next one read, or None."""
        expected = self._last.seq + 1
        if entry.seq != expected:
            gap = f"{expected}" if entry.seq == expected + 1 else f"{expected} to {entry.seq - 1}"
            return Finding(expected, Problem.MISSING, f"entry {gap} missing: the next is {entry.seq}")
        if entry.prev_hash != self._last.hash:
            return Finding(
                entry.seq,
                Problem.REORDERED,
                f"entry {entry.seq} does not follow entry {self._last.seq}: it was moved or swapped, or "
                "entries before it were removed and the rest renumbered",
            )
        try:
            recomputed = entry_hash(entry.prev_hash, entry)
        except ValueError as exc:
            return Finding(entry.seq, Problem.CHANGED, f"entry {entry.seq} cannot be read: {exc}")
        if recomputed != entry.hash:
            return Finding(entry.seq, Problem.CHANGED, f"entry {entry.seq} was changed: its hash differs")
        anchor = self._anchor
        if anchor is not None and anchor.seq == entry.seq and anchor.hash != entry.hash:
            return Finding(
                entry.seq,
                Problem.CHANGED,
                f"entry {entry.seq} is not the one noted down: the chain was rewritten",
            )
        self._last = Head(entry.seq, entry.hash)
        self.checked += 1
        return None

    def finish(self, head: Head | None) -> Finding | None:
        """The problem at the end of the log, given the chain head kept beside it, or None."""
        if self._anchor is not None and self._anchor.seq > self._last.seq:
            first = self._last.seq + 1
            return Finding(
                first, Problem.MISSING, f"the log ends at {self._last.seq}, before the noted entry"
            )
        if head is None:  # an empty log has none until its first entry
            if self._last.seq == 0:
                return None
            return Finding(self._last.seq + 1, Problem.MISSING, "the chain head is missing")
        if head.seq > self._last.seq:
            first = self._last.seq + 1
            gap = f"{first}" if head.seq == first else f"{first} to {head.seq}"
            return Finding(first, Problem.MISSING, f"entry {gap} missing: the log ends at {self._last.seq}")
        if head.seq < self._last.seq:
            return Finding(head.seq + 1, Problem.CHANGED, f"the chain head names entry {head.seq}")
        if head.hash != self._last.hash:
            return Finding(head.seq, Problem.CHANGED, f"entry {head.seq} differs from the chain head")
        return None


def _with_hash(draft: Entry) -> Entry:
    return replace(draft, hash=entry_hash(draft.prev_hash, draft))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _check_scalar(key: str, value: object) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        _check_int(key, value)
    elif isinstance(value, str):
        if len(value) > DETAIL_TEXT_MAX:
            raise ValueError(f"audit detail: {key} over {DETAIL_TEXT_MAX} characters")
    else:
        raise ValueError(f"audit detail: {key} is a {type(value).__name__}, not text, int, bool or null")


def _check_int(name: str, value: int) -> None:
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError(f"audit: {name} out of the 64-bit range")


def _cut(text: str, limit: int) -> str:
    return text[:limit]


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in text)


@dataclass(frozen=True, slots=True)
class Verification:
    """What a check of the whole log found: how many entries were good before the first problem (all
    of them when `finding` is None) and the chain head."""

    checked: int
    head: Head | None
    finding: Finding | None


def verify_chain(entries: Iterable[Entry], head: Head | None, anchor: Head | None = None) -> Verification:
    """Check `entries` (oldest first, read lazily: stop at the first problem) against `head`, and
    against a head noted down earlier (`anchor`) when given."""
    check = ChainCheck(anchor)
    for entry in entries:
        finding = check.feed(entry)
        if finding is not None:
            return Verification(check.checked, head, finding)
    return Verification(check.checked, head, check.finish(head))
