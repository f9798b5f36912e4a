"""Confirm before trade: your answer to an entry proposed to you (GET /intents?status=
awaiting_confirmation lists them). Telegram buttons and the dashboard answer through the same use case
(services/confirmations.py)."""

from __future__ import annotations

from fastapi import APIRouter

from tradewire.api.audited import AuditDep
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId
from tradewire.api.schemas.records import IntentAnswer
from tradewire.domain.audit import Action

router = APIRouter(prefix="/api/v1", tags=["records"])

_ANSWERS: dict[int | str, dict[str, str]] = {
    404: {"description": "no such intent of yours"},
    409: {"description": "the intent does not await confirmation (its status and why)"},
}


@router.post("/intents/{intent_id}/confirm", response_model=IntentAnswer, responses=_ANSWERS)
async def confirm_intent(
    intent_id: DbId, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> IntentAnswer:
    """Yes: the entry is decided again now (risk rules on the state of now, sizing again, refused if
    the price moved more than your max_confirm_drift_pct). One order at most, however many answer."""
    answer = await runtime.confirmations.confirm(user, intent_id)
    await audit.record(user, Action.INTENT_CONFIRMED, ("intent", intent_id), {"status": str(answer.status)})
    return IntentAnswer(intent_id=intent_id, status=answer.status, reason=answer.reason)


@router.post("/intents/{intent_id}/decline", response_model=IntentAnswer, responses=_ANSWERS)
async def decline_intent(
    intent_id: DbId, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> IntentAnswer:
    """No: the intent ends rejected, declined by you; nothing trades."""
    answer = await runtime.confirmations.decline(user, intent_id)
    await audit.record(user, Action.INTENT_DECLINED, ("intent", intent_id), {"status": str(answer.status)})
    return IntentAnswer(intent_id=intent_id, status=answer.status, reason=answer.reason)
