"""Admins' bodies: users as admins see them, a role, the executions view and the platform's trading."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from tradewire.api.fields import OneLine
from tradewire.api.schemas.common import Strict
from tradewire.api.schemas.records import OrderOut
from tradewire.domain.members import Role
from tradewire.domain.platform import MAX_REASON_CHARS
from tradewire.domain.risk import TradingState


class AdminUserOut(BaseModel):
    id: int
    username: str
    role: Role
    disabled: bool
    disabled_at: datetime | None
    created_at: datetime


class RoleChange(Strict):
    role: Role = Field(
        description="admin (users and the platform's trading), provider (publishes strategies to the "
        "marketplace) or subscriber (trades, subscribes, runs personal bots; publishes nothing)"
    )


class ExecutionOut(OrderOut):
    """An order with whose it is: the user, the account and, when it came from a subscription, the
    strategy. API keys are never part of it."""

    user_id: int
    username: str
    account_name: str
    exchange: str
    strategy_id: int | None
    strategy_slug: str | None


class PlatformTradingIn(Strict):
    state: TradingState = Field(
        description="ACTIVE (trading as each subscription allows), REDUCING (exits only: no entry and "
        "no DCA tranche anywhere) or HALTED (no order at all, protective exits included)"
    )
    reason: Annotated[str, OneLine] = Field(default="", max_length=MAX_REASON_CHARS)


class PlatformTradingOut(BaseModel):
    state: TradingState
    reason: str | None
    changed_by: str | None = Field(description="the admin's username, or 'operator' (command line)")
    changed_at: datetime | None
