"""The audit trail: what the API and the command line record, what users (and administrators, all
of it) read back, and the check of the whole chain (hashing and checking: domain/audit.py).

When an entry is written. A change is recorded right after the store that makes it has committed it,
in its own transaction, never before. Every audited change lives in another store's transaction
(members, accounts, subscriptions, sign-in, two-factor, models), behind its own port, and some use
cases commit more than one (an account is added, then its keys sealed); writing the entry inside
them would mean an audit event parameter on each of those port methods and their twins, and the
chain head's lock taken inside each of their transactions. Exports change nothing and have no
transaction to share. So an entry never claims a change that did not happen (a refused or failed
change raises before `record`); what this costs is that a process dying between the change's commit
and its entry's loses the entry: a change without an entry, never an entry without a change.
Failures (a wrong password, a wrong code) change nothing and are recorded alone.

A failed write of an entry does not fail the request whose change is already made (answering an
error for a change that happened would mislead the client): it is logged, without the detail.

Growth from outside. Only sign-in attempts add entries without a signed-in user. Checked failures
under an existing name are always recorded: the sign-in throttle locks an account after a few of
them, so they are bounded per account. Attempts under unknown names (fresh names cost an attacker
nothing) and attempts refused unchecked while locked (many addresses can keep sending them) are
recorded within a budget per process and hour (`AttemptBudget`, setting audit_attempts_per_hour);
beyond it they are counted, and the first recorded attempt of a later hour is preceded by one
`signin.unrecorded` entry saying how many were left out. The rate limits (5 sign-ins per 15 minutes
per address) and the bounded entry size do the rest.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tradewire.domain.audit import (
    SERVER,
    Action,
    Actor,
    Detail,
    Entry,
    Event,
    Head,
    Origin,
    Verification,
    as_seen_by,
    iso_utc,
    verify_chain,
)
from tradewire.domain.members import User
from tradewire.ports import Clock
from tradewire.ports.audit import AuditQuery, AuditStore

log = logging.getLogger("tradewire.audit")

Target = tuple[str, int]  # (type, id): ("account", 3)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """A page of a trail, newest first, optionally of some actions and in a time range [since, until)."""

    limit: int = 100
    before_seq: int | None = None
    actions: tuple[Action, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


@dataclass(slots=True)
class AttemptBudget:
    """How many sign-in attempts in nobody's trail (unknown names) or refused while locked may be
    recorded per hour, in this process."""

    per_hour: int = 600
    window: timedelta = timedelta(hours=1)
    _started: datetime | None = None
    _used: int = 0
    _left_out: int = 0
    _left_out_since: datetime | None = None

    def take(self, now: datetime) -> tuple[bool, int, datetime | None]:
        """Whether an attempt at `now` may be recorded; and when a new window has opened after some
        were left out, how many and since when (to record once)."""
        left_out, since = 0, None
        if self._started is None or now - self._started >= self.window:
            left_out, since = self._left_out, self._left_out_since
            self._started, self._used, self._left_out, self._left_out_since = now, 0, 0, None
        if self._used >= self.per_hour:
            if self._left_out == 0:
                log.warning("sign-in attempts over %s per hour: not recorded in the audit log", self.per_hour)
                self._left_out_since = now
            self._left_out += 1
            return False, left_out, since
        self._used += 1
        return True, left_out, since


@dataclass(slots=True, eq=False)
class AuditTrail:
    store: AuditStore
    clock: Clock
    budget: AttemptBudget = field(default_factory=AttemptBudget)

    async def record(
        self,
        user: User | Actor,
        action: Action,
        origin: Origin,
        target: Target | None = None,
        detail: Detail | None = None,
    ) -> Entry | None:
        """Append an entry for what `user` did (None when it could not be written; that is logged)."""
        actor = user if isinstance(user, Actor) else Actor(user.id, user.username)
        target_type, target_id = target if target is not None else (None, None)
        event = Event(self.clock.now(), actor, action, origin, target_type, target_id, detail)
        try:
            return await asyncio.to_thread(self.store.append, event)
        except Exception:
            log.exception("audit entry %s of user %s could not be written", action.value, actor.user_id)
            return None

    async def record_attempt(
        self, username: str, action: Action, origin: Origin, detail: Detail | None = None
    ) -> Entry | None:
        """Append an entry for a sign-in attempt under `username`: in that user's trail when the name
        exists, else kept for administrators only (the name cut to the column's size). Unknown names
        and locked attempts are recorded within the hourly budget (None beyond it)."""
        user_id = await asyncio.to_thread(self.store.user_named, username)
        if user_id is None or action is Action.SIGNIN_LOCKED:
            allowed, left_out, since = self.budget.take(self.clock.now())
            if left_out:
                summary: Detail = {"count": left_out, "since": None if since is None else iso_utc(since)}
                await self.record(Actor(None, "-"), Action.ATTEMPTS_UNRECORDED, SERVER, detail=summary)
            if not allowed:
                return None
        return await self.record(Actor(user_id, username), action, origin, detail=detail)

    async def trail(self, user_id: int, which: AuditFilter) -> list[Entry]:
        """The user's own trail, as they see it: what they did, and what others (admins, the command
        line) did to their user, without those others' address and client."""
        found = await asyncio.to_thread(self.store.entries, _query(user_id, which))
        return [as_seen_by(entry, user_id) for entry in found]

    async def everyone(self, which: AuditFilter, user_id: int | None = None) -> list[Entry]:
        """Every user's entries and those of no known user, or one user's trail, whole
        (GET /api/v1/admin/audit, admins only)."""
        return await asyncio.to_thread(self.store.entries, _query(user_id, which))

    def verify(self, batch: int = 1000, anchor: Head | None = None) -> Verification:
        """Check the whole chain, streaming it `batch` entries at a time (blocking), and that it still
        holds `anchor`, a head noted down earlier. Entries appended while it runs are beyond the head
        read first, and are left for the next check."""
        head = self.store.head()
        upto = None if head is None else max(head.seq, anchor.seq if anchor else 0)
        return verify_chain(self.store.chain(upto, batch), head, anchor)


def _query(user_id: int | None, which: AuditFilter) -> AuditQuery:
    return AuditQuery(
        user_id=user_id,
        limit=which.limit,
        before_seq=which.before_seq,
        actions=tuple(a.value for a in which.actions),
        since=which.since,
        until=which.until,
    )
