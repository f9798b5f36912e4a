"""`tradewire.ports.admin` in memory (no database), for Administration's unit tests: it keeps the
rules SqlAdmin keeps (an active admin always left; a subscriber has no public strategy; disabling
revokes the user's sessions) and the platform's trading state."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from tradewire.domain.admin import ExecutionFilter, UserChange, UserFilter, UserSummary
from tradewire.domain.members import Conflict, NotFound, Role
from tradewire.domain.platform import PlatformTrading
from tradewire.domain.records import Page
from tradewire.ports.reports import Row


@dataclass
class MemoryAdmin:
    users_: dict[int, UserSummary] = field(default_factory=dict)
    publishers: set[int] = field(default_factory=set)  # users with public strategies
    revoked: dict[int, str] = field(default_factory=dict)  # sessions revoked, by user: why
    orders: list[Row] = field(default_factory=list)

    def add(self, username: str, role: Role, at: datetime) -> int:
        user_id = len(self.users_) + 1
        self.users_[user_id] = UserSummary(user_id, username, role, False, None, at)
        return user_id

    def users(self, where: UserFilter, page: Page) -> list[UserSummary]:
        found = [
            u
            for u in sorted(self.users_.values(), key=lambda u: -u.id)
            if (where.role is None or u.role is where.role)
            and (where.disabled is None or u.disabled is where.disabled)
            and (page.before_id is None or u.id < page.before_id)
        ]
        return found[: page.limit]

    def user(self, user_id: int) -> UserSummary:
        if user_id not in self.users_:
            raise NotFound(f"no user {user_id}")
        return self.users_[user_id]

    def change_user(self, user_id: int, change: UserChange, now: datetime) -> UserSummary:
        before = self.user(user_id)
        after = before
        if change.role is not None:
            if change.role is Role.SUBSCRIBER and user_id in self.publishers:
                raise Conflict(f"user {before.username} has public strategies")
            after = replace(after, role=change.role)
        if change.disabled is not None and change.disabled is not before.disabled:
            after = replace(after, disabled=change.disabled, disabled_at=now if change.disabled else None)
        admins = {u.id for u in self.users_.values() if u.role is Role.ADMIN and not u.disabled}
        if user_id in admins and not (after.role is Role.ADMIN and not after.disabled) and len(admins) == 1:
            raise Conflict("the platform's last active admin cannot be disabled or demoted")
        self.users_[user_id] = after
        if after.disabled and not before.disabled:
            self.revoked[user_id] = "user disabled"
        return after

    def executions(self, where: ExecutionFilter, page: Page) -> list[Row]:
        rows = [o for o in self.orders if where.user_id is None or o["user_id"] == where.user_id]
        return sorted(rows, key=lambda o: -o["id"])[: page.limit]


@dataclass
class MemoryPlatform:
    trading: PlatformTrading = field(default_factory=PlatformTrading)

    def platform_trading(self) -> PlatformTrading:
        return self.trading

    def set_platform_trading(self, trading: PlatformTrading) -> None:
        self.trading = trading
