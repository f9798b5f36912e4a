"""Your audit trail: sign-ins and failures, sign-outs, password and two-factor changes, exchange
accounts (API keys), strategies, subscriptions (risk limits, exit rules), bots, manual closes, models
and exports, each with when, from which address and client; and every user's, for admins (who may
call it is in api/access.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId, UtcTime
from tradewire.api.paging import Limit
from tradewire.api.schemas.audit import AuditEntryOut
from tradewire.api.schemas.exports import ErrorOut
from tradewire.domain.audit import INT_MAX, Action
from tradewire.services.audit import AuditFilter

router = APIRouter(prefix="/api/v1", tags=["audit"])

Seq = Annotated[int, Query(ge=1, le=INT_MAX, description="page: only entries numbered below this one")]
ActionsQuery = Annotated[
    list[Action] | None, Query(max_length=len(Action), description="only these actions (repeatable)")
]
SinceQuery = Annotated[UtcTime | None, Query(alias="from", description="from this time on (ISO 8601)")]
UntilQuery = Annotated[UtcTime | None, Query(alias="to", description="before this time")]


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
    action: ActionsQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> list[AuditEntryOut]:
    """What was done with your user, newest first, including failed sign-ins under your name and what
    admins did to your user (their address and client left empty); page
    with `before_seq` (the last `seq` of a page). The entries are part of the platform's one hash
    chain, which `tradewire audit verify` checks."""
    which = _filter(limit, before_seq, action, since, until)
    return [AuditEntryOut.of(entry) for entry in await runtime.audit.trail(user.id, which)]


@router.get(
    "/admin/audit",
    response_model=list[AuditEntryOut],
    responses={401: {"model": ErrorOut, "description": "not signed in"}},
)
async def every_audit_trail(
    runtime: RuntimeDep,
    _admin: CurrentUser,
    limit: Limit = 100,
    before_seq: Seq | None = None,
    user_id: Annotated[DbId | None, Query(description="one user's trail only")] = None,
    action: ActionsQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> list[AuditEntryOut]:
    """Every user's entries, newest first, and those of no user (sign-in attempts under unknown
    names, commands run on the server); `user_id` narrows it to one user's trail (what they did and
    what was done to their user)."""
    which = _filter(limit, before_seq, action, since, until)
    return [AuditEntryOut.of(entry) for entry in await runtime.audit.everyone(which, user_id)]


def _filter(
    limit: int,
    before_seq: int | None,
    actions: list[Action] | None,
    since: datetime | None,
    until: datetime | None,
) -> AuditFilter:
    if since is not None and until is not None and since >= until:
        raise RequestValidationError(
            [{"loc": ("query", "to"), "msg": "must be after 'from'", "type": "value_error"}]
        )
    return AuditFilter(limit, before_seq, tuple(dict.fromkeys(actions or ())), since, until)
