"""Your audit trail: sign-ins and failures, sign-outs, password and two-factor changes, exchange
accounts (API keys), strategies, subscriptions (risk limits, exit rules), bots, manual closes, models
and exports, each with when, from which address and client."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import UtcTime
from tradewire.api.paging import Limit
from tradewire.api.schemas.audit import AuditEntryOut
from tradewire.api.schemas.exports import ErrorOut
from tradewire.domain.audit import INT_MAX, Action
from tradewire.services.audit import AuditFilter

router = APIRouter(prefix="/api/v1", tags=["audit"])

Seq = Annotated[int, Query(ge=1, le=INT_MAX, description="page: only entries numbered below this one")]


@router.get(
    "/audit",
    response_model=list[AuditEntryOut],
    responses={401: {"model": ErrorOut, "description": "not signed in"}},
)
async def my_audit_trail(
    runtime: RuntimeDep,
    user: CurrentUser,
    limit: Limit = 100,
    before_seq: Seq | None = None,
    action: Annotated[
        list[Action] | None, Query(max_length=len(Action), description="only these actions (repeatable)")
    ] = None,
    since: Annotated[UtcTime | None, Query(alias="from", description="from this time on (ISO 8601)")] = None,
    until: Annotated[UtcTime | None, Query(alias="to", description="before this time")] = None,
) -> list[AuditEntryOut]:
    """What was done with your user, newest first, including failed sign-ins under your name; page
    with `before_seq` (the last `seq` of a page). The entries are part of the platform's one hash
    chain, which `tradewire audit verify` checks."""
    if since is not None and until is not None and since >= until:
        raise RequestValidationError(
            [{"loc": ("query", "to"), "msg": "must be after 'from'", "type": "value_error"}]
        )
    which = AuditFilter(limit, before_seq, tuple(dict.fromkeys(action or ())), since, until)
    return [AuditEntryOut.of(entry) for entry in await runtime.audit.trail(user.id, which)]
