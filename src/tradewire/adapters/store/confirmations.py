"""Confirm before trade in SQL: entries proposed to their owner, and the answers, each one
conditional UPDATE so that exactly one caller changes an intent (ports/intents.ConfirmationStore).

A confirm and a decline both move an intent out of 'awaiting_confirmation' only while its deadline
has not passed: two taps, two channels or a confirm racing the expiry sweep find one winner (on
PostgreSQL the loser's UPDATE waits for the winner's row lock and then no longer matches; SQLite
runs write transactions one at a time)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import SqlTables
from tradewire.adapters.store.events import Outbox, transaction_with_events
from tradewire.adapters.store.tables import execution_intents, execution_log
from tradewire.adapters.store.values import bounded_reason
from tradewire.domain.confirmation import declined_reason, expired_reason
from tradewire.domain.events import Event, answered
from tradewire.domain.execution import IntentStatus, LogStatus
from tradewire.domain.members import NotFound
from tradewire.domain.records import Answer, Proposal

AWAITING = IntentStatus.AWAITING_CONFIRMATION.value
_I = execution_intents.c


def propose(conn: Connection, proposals: Sequence[Proposal], now: datetime) -> list[Proposal]:
    """Intents still 'created' and never confirmed wait for their owner with their proposal and
    deadline, each with a WAITING line in the log; returns those that changed."""
    changed: list[Proposal] = []
    for p in proposals:
        result = conn.execute(
            update(execution_intents)
            .where(
                _I.id == p.item.intent_id,
                _I.status == IntentStatus.CREATED.value,
                _I.confirmed_at.is_(None),
            )
            .values(
                status=AWAITING,
                proposal=p.terms,
                confirm_by=p.confirm_by,
                reason=bounded_reason(p.note),
                updated_at=now,
            )
        )
        if result.rowcount == 1:
            changed.append(p)
    rows = [intent_log_row(proposal_ids(p), LogStatus.WAITING, p.note, now) for p in changed]
    if rows:
        bulk.insert(conn, execution_log, rows)
    return changed


class SqlConfirmations(SqlTables):
    """The answers to proposals: confirm, decline, and the expiry of those nobody answered."""

    def answer_proposal(self, user_id: int, intent_id: int, confirm: bool, who: str, now: datetime) -> Answer:
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            values = answer_values(confirm, who, now)
            row = conn.execute(
                update(execution_intents)
                .where(_I.id == intent_id, _I.user_id == user_id, _I.status == AWAITING, _I.confirm_by > now)
                .values(**values, updated_at=now)
                .returning(_I.signal_id, _I.subscription_id, _I.account_id)
            ).first()
            if row is not None:
                ids = {"intent_id": intent_id, "user_id": user_id, **row._mapping}
                if not confirm:
                    bulk.insert(
                        conn, execution_log, [intent_log_row(ids, LogStatus.SKIPPED, values["reason"], now)]
                    )
                kind = "confirmed" if confirm else "declined"
                outbox.add([answered_event(ids, kind, values["status"], values["reason"])])
                return Answer(intent_id, True, values["status"], values["reason"], row.signal_id)
            current = conn.execute(
                select(_I.status, _I.reason, _I.signal_id).where(_I.id == intent_id, _I.user_id == user_id)
            ).first()
            if current is None:
                raise NotFound(f"no intent {intent_id}")
            if current.status == AWAITING:  # past its deadline, the sweep not there yet: it ends now
                for status, reason in _expire(conn, outbox, [intent_id], now):
                    return Answer(intent_id, False, status, reason, current.signal_id)
            return Answer(intent_id, False, current.status, current.reason, current.signal_id)

    def expire_proposals(self, now: datetime, limit: int = 500) -> int:
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            due = conn.execute(
                select(_I.id)
                .where(_I.status == AWAITING, _I.confirm_by <= now)
                .order_by(_I.confirm_by, _I.id)
                .limit(limit)
            ).scalars()
            return len(_expire(conn, outbox, list(due), now))


def _expire(conn: Connection, outbox: Outbox, intent_ids: list[int], now: datetime) -> list[tuple[str, str]]:
    """Reject these intents if they still await past their deadline; (status, reason) of each."""
    ended: list[tuple[str, str]] = []
    for intent_id in intent_ids:
        row = conn.execute(
            select(_I.signal_id, _I.subscription_id, _I.account_id, _I.user_id, _I.proposal).where(
                _I.id == intent_id
            )
        ).first()
        if row is None:
            continue
        reason = expired_reason(int((row.proposal or {}).get("timeout_s") or 0))
        result = conn.execute(
            update(execution_intents)
            .where(_I.id == intent_id, _I.status == AWAITING, _I.confirm_by <= now)
            .values(status=IntentStatus.REJECTED.value, reason=reason, updated_at=now)
        )
        if result.rowcount != 1:
            continue
        ids = {"intent_id": intent_id, **{k: v for k, v in row._mapping.items() if k != "proposal"}}
        bulk.insert(conn, execution_log, [intent_log_row(ids, LogStatus.SKIPPED, reason, now)])
        outbox.add([answered_event(ids, "expired", IntentStatus.REJECTED.value, reason)])
        ended.append((IntentStatus.REJECTED.value, reason))
    return ended


def answer_values(confirm: bool, who: str, now: datetime) -> dict[str, Any]:
    """What an intent's answer (a confirm or a decline by `who`) sets on it."""
    if confirm:
        return {
            "status": IntentStatus.CREATED.value,
            "confirmed_at": now,
            "reason": bounded_reason(f"confirmed by {who}"),
        }
    return {"status": IntentStatus.REJECTED.value, "reason": bounded_reason(declined_reason(who))}


def proposal_ids(p: Proposal) -> dict[str, Any]:
    item = p.item
    return {
        "intent_id": item.intent_id,
        "signal_id": item.signal_id,
        "subscription_id": item.subscription_id,
        "account_id": item.account_id,
        "user_id": item.user_id,
    }


def intent_log_row(ids: dict[str, Any], status: LogStatus, reason: str, now: datetime) -> dict[str, Any]:
    """An execution_log row about an intent (`ids`: its intent, signal, subscription, account, user)."""
    return {
        **{k: ids[k] for k in ("intent_id", "signal_id", "subscription_id", "account_id", "user_id")},
        "order_id": None,
        "status": status.value,
        "reason": bounded_reason(reason),
        "exchange_response": None,
        "created_at": now,
    }


def answered_event(ids: dict[str, Any], kind: str, status: str, reason: str | None) -> Event:
    """The event of an intent's answer (`ids`: its intent, signal, subscription, user)."""
    return answered(
        ids["user_id"], ids["intent_id"], ids["signal_id"], ids["subscription_id"], kind, status, reason
    )
