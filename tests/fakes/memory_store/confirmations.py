"""The twin's confirm before trade: proposals stored, answered and expired as SqlConfirmations does
(adapters/store/confirmations.py), with the same log rows, reasons and events."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from tests.fakes.memory_store.tables import Row, Tables
from tradewire.adapters.store.confirmations import answer_values, answered_event, intent_log_row, proposal_ids
from tradewire.adapters.store.values import bounded_reason
from tradewire.domain.confirmation import expired_reason
from tradewire.domain.events import Event
from tradewire.domain.execution import IntentStatus, LogStatus
from tradewire.domain.members import NotFound
from tradewire.domain.records import Answer, Proposal

AWAITING = IntentStatus.AWAITING_CONFIRMATION.value
_IDS = ("signal_id", "subscription_id", "account_id", "user_id")


class ConfirmationsTwin:
    """Proposals and their answers, each all or nothing with its events."""

    tables: Tables

    def _with_events(self, now: datetime) -> AbstractContextManager[list[Event]]:
        raise NotImplementedError  # EventsTwin's

    def _propose(self, proposals: Sequence[Proposal], now: datetime) -> list[Proposal]:
        changed: list[Proposal] = []
        for p in proposals:
            intent = self.tables["execution_intents"].get(p.item.intent_id)
            if intent is None or intent["status"] != IntentStatus.CREATED.value or intent["confirmed_at"]:
                continue
            intent.update(
                status=AWAITING,
                proposal=p.terms,
                confirm_by=p.confirm_by,
                reason=bounded_reason(p.note),
                updated_at=now,
            )
            changed.append(p)
        for p in changed:
            self.tables.insert_new(
                "execution_log", intent_log_row(proposal_ids(p), LogStatus.WAITING, p.note, now)
            )
        return changed

    def answer_proposal(self, user_id: int, intent_id: int, confirm: bool, who: str, now: datetime) -> Answer:
        with self._with_events(now) as made:
            intent = self.tables["execution_intents"].get(intent_id)
            if intent is None or intent["user_id"] != user_id:
                raise NotFound(f"no intent {intent_id}")
            if intent["status"] == AWAITING and intent["confirm_by"] > now:
                values = answer_values(confirm, who, now)
                intent.update(values, updated_at=now)
                ids = _ids(intent)
                if not confirm:
                    self.tables.insert_new(
                        "execution_log", intent_log_row(ids, LogStatus.SKIPPED, values["reason"], now)
                    )
                kind = "confirmed" if confirm else "declined"
                made.append(answered_event(ids, kind, values["status"], values["reason"]))
                return Answer(intent_id, True, values["status"], values["reason"], intent["signal_id"])
            if intent["status"] == AWAITING:
                self._expire(intent, now, made)
            return Answer(intent_id, False, intent["status"], intent["reason"], intent["signal_id"])

    def expire_proposals(self, now: datetime, limit: int = 500) -> int:
        with self._with_events(now) as made:
            due = [
                i for i in self.tables.where("execution_intents", status=AWAITING) if i["confirm_by"] <= now
            ]
            due.sort(key=lambda i: (i["confirm_by"], i["id"]))
            for intent in due[:limit]:
                self._expire(intent, now, made)
            return len(due[:limit])

    def _expire(self, intent: Row, now: datetime, made: list[Event]) -> None:
        reason = expired_reason(int((intent["proposal"] or {}).get("timeout_s") or 0))
        intent.update(status=IntentStatus.REJECTED.value, reason=reason, updated_at=now)
        ids = _ids(intent)
        self.tables.insert_new("execution_log", intent_log_row(ids, LogStatus.SKIPPED, reason, now))
        made.append(answered_event(ids, "expired", IntentStatus.REJECTED.value, reason))


def _ids(intent: Row) -> dict[str, Any]:
    return {"intent_id": intent["id"], **{k: intent[k] for k in _IDS}}
