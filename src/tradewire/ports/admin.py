"""What admins keep and read: users across the platform, every execution, the platform's trading
state (implemented by SqlAdmin and SqlPlatform, and in memory for tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tradewire.domain.admin import ExecutionFilter, UserChange, UserFilter, UserSummary
from tradewire.domain.platform import PlatformTrading
from tradewire.domain.records import Page
from tradewire.ports.reports import Row


class AdminStore(Protocol):
    def users(self, where: UserFilter, page: Page) -> list[UserSummary]:
        """Users, newest id first."""

    def user(self, user_id: int) -> UserSummary:
        """NotFound when there is no such user."""

    def change_user(self, user_id: int, change: UserChange, now: datetime) -> UserSummary:
        """Apply `change` in one transaction that keeps an active admin: Conflict when none would be
        left, or when a user with public strategies would become a subscriber; disabling revokes
        every session of the user in the same transaction. NotFound when there is no such user."""

    def executions(self, where: ExecutionFilter, page: Page) -> list[Row]:
        """Orders across users, newest first, with their user, account and strategy; never API keys."""


class PlatformStore(Protocol):
    def platform_trading(self) -> PlatformTrading: ...

    def set_platform_trading(self, trading: PlatformTrading) -> None: ...
