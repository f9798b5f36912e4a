"""What admins read and change (no I/O): users as an admin lists them, a change to one, and the filter
of the executions view across users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tradewire.domain.members import Role


@dataclass(frozen=True, slots=True)
class UserSummary:
    """A user as an admin sees them: never a password hash."""

    id: int
    username: str
    role: Role
    disabled: bool
    disabled_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UserFilter:
    role: Role | None = None
    disabled: bool | None = None


@dataclass(frozen=True, slots=True)
class UserChange:
    """A new role, or disabled/enabled (None leaves it as it is)."""

    role: Role | None = None
    disabled: bool | None = None


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """Which orders the executions view lists (None: any)."""

    user_id: int | None = None
    account_id: int | None = None
    strategy_id: int | None = None
    state: str | None = None
    symbol: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
