"""Admins' endpoints: users (list, read, role, disable, enable), every execution across users, and the
platform's trading state. Who may call them is in api/access.py (admins only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tradewire.api.audited import AuditDep
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId, UtcTime
from tradewire.api.paging import PageQuery
from tradewire.api.schemas.admin import (
    AdminUserOut,
    ExecutionOut,
    PlatformTradingIn,
    PlatformTradingOut,
    RoleChange,
)
from tradewire.api.schemas.common import SYMBOL
from tradewire.domain.admin import ExecutionFilter, UserFilter
from tradewire.domain.audit import DETAIL_TEXT_MAX, USER_TARGET, Action
from tradewire.domain.members import Role
from tradewire.domain.orders import OrderState

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])

Answers = dict[int | str, dict[str, Any]]
_NO_USER: Answers = {404: {"description": "no user by that id"}}
_KEEP_AN_ADMIN: Answers = {409: {"description": "would leave no active admin, or disable yourself"}}


@router.get("/users", response_model=list[AdminUserOut])
async def list_users(
    runtime: RuntimeDep,
    page: PageQuery,
    role: Role | None = None,
    disabled: bool | None = None,
) -> list[AdminUserOut]:
    """Every user, newest first (`before_id` pages), optionally of one role or disabled state."""
    found = await runtime.admin.users(UserFilter(role, disabled), page)
    return [AdminUserOut(**asdict(u)) for u in found]


@router.get("/users/{user_id}", response_model=AdminUserOut, responses=_NO_USER)
async def get_user(user_id: DbId, runtime: RuntimeDep) -> AdminUserOut:
    return AdminUserOut(**asdict(await runtime.admin.user(user_id)))


@router.put(
    "/users/{user_id}/role",
    response_model=AdminUserOut,
    responses={**_NO_USER, 409: {"description": "the last active admin, or public strategies"}},
)
async def set_role(
    user_id: DbId, body: RoleChange, runtime: RuntimeDep, admin: CurrentUser, audit: AuditDep
) -> AdminUserOut:
    """Give a user a role; it applies to their next request. The last active admin keeps theirs
    (409); a user with public strategies becomes a subscriber only once they are private (409)."""
    changed = await runtime.admin.set_role(admin, user_id, body.role)
    await audit.record(admin, Action.ROLE_SET, (USER_TARGET, user_id), {"role": changed.role.value})
    return AdminUserOut(**asdict(changed))


@router.post(
    "/users/{user_id}/disable", response_model=AdminUserOut, responses={**_NO_USER, **_KEEP_AN_ADMIN}
)
async def disable_user(
    user_id: DbId, runtime: RuntimeDep, admin: CurrentUser, audit: AuditDep
) -> AdminUserOut:
    """Disable a user: their sessions end at once (tokens are refused from the next request) and they
    cannot sign in; their subscriptions take no new entries and their strategies' alerts are refused
    (403), while exits of open positions, protective ones included, keep running. Not yourself, not
    the last active admin (409)."""
    disabled = await runtime.admin.disable(admin, user_id)
    await audit.record(admin, Action.USER_DISABLED, (USER_TARGET, user_id), {"username": disabled.username})
    return AdminUserOut(**asdict(disabled))


@router.post("/users/{user_id}/enable", response_model=AdminUserOut, responses=_NO_USER)
async def enable_user(
    user_id: DbId, runtime: RuntimeDep, admin: CurrentUser, audit: AuditDep
) -> AdminUserOut:
    """Enable a disabled user: they sign in again (their old sessions stay ended) and trade as before."""
    enabled = await runtime.admin.enable(admin, user_id)
    await audit.record(admin, Action.USER_ENABLED, (USER_TARGET, user_id), {"username": enabled.username})
    return AdminUserOut(**asdict(enabled))


@router.get("/executions", response_model=list[ExecutionOut], responses={422: {}})
async def list_executions(
    runtime: RuntimeDep,
    page: PageQuery,
    user_id: DbId | None = None,
    account_id: DbId | None = None,
    strategy_id: DbId | None = None,
    state: OrderState | None = None,
    symbol: Annotated[str | None, Query(pattern=SYMBOL.pattern, description="e.g. BTC/USDT")] = None,
    since: Annotated[UtcTime | None, Query(description="created at or after (ISO 8601, UTC)")] = None,
    until: Annotated[UtcTime | None, Query(description="created before (ISO 8601, UTC)")] = None,
) -> list[ExecutionOut]:
    """Every user's orders, newest first (`before_id` pages), with the user, account and strategy of
    each; filters narrow it. API keys are never part of it."""
    where = ExecutionFilter(
        user_id, account_id, strategy_id, state.value if state else None, symbol, since, until
    )
    return [ExecutionOut(**row) for row in await runtime.admin.executions(where, page)]


@router.get("/trading", response_model=PlatformTradingOut)
async def get_trading(runtime: RuntimeDep) -> PlatformTradingOut:
    """The platform's trading state, who set it, when and why."""
    return PlatformTradingOut(**asdict(await runtime.admin.platform_trading()))


@router.put("/trading", response_model=PlatformTradingOut)
async def set_trading(
    body: PlatformTradingIn, runtime: RuntimeDep, admin: CurrentUser, audit: AuditDep
) -> PlatformTradingOut:
    """Set what the whole platform may trade: ACTIVE, REDUCING (exits only) or HALTED (no order at
    all). Every subscription trades under the most restrictive of its own state and this one, from
    the next decision; orders already stored are checked again just before they are sent (rejected
    `not_sent` when forbidden), and an answer means no order is being claimed under the old state.
    It is kept in the database and survives a restart."""
    trading = await runtime.admin.set_platform_trading(admin, body.state, body.reason)
    reason = body.reason[:DETAIL_TEXT_MAX]
    await audit.record(
        admin, Action.PLATFORM_TRADING_SET, detail={"state": str(body.state), "reason": reason}
    )
    return PlatformTradingOut(**asdict(trading))
