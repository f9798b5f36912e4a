"""Admins' use cases: users (list, role, disable, enable), every execution across users, and the
platform's trading state.

Each action is one method here, the one place that changes it (the API and the CLI both call it), so
that an audit entry can be written where the change is made. `by` is the admin acting, or None for
the server's operator at the command line.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from tradewire.domain.admin import ExecutionFilter, UserChange, UserFilter, UserSummary
from tradewire.domain.members import Conflict, Invalid, Role, User
from tradewire.domain.platform import MAX_REASON_CHARS, PlatformTrading
from tradewire.domain.records import Page
from tradewire.domain.risk import TradingState
from tradewire.ports import Clock
from tradewire.ports.admin import AdminStore, PlatformStore
from tradewire.ports.reports import Row

log = logging.getLogger("tradewire.admin")

OPERATOR = "operator"  # who acts at the command line (`tradewire user role`)


@dataclass(slots=True, eq=False)
class Administration:
    """What admins do across users; the API allows it to admins only (api/access.py)."""

    store: AdminStore
    platform: PlatformStore
    clock: Clock

    async def users(self, where: UserFilter, page: Page) -> list[UserSummary]:
        return await asyncio.to_thread(self.store.users, where, page)

    async def user(self, user_id: int) -> UserSummary:
        return await asyncio.to_thread(self.store.user, user_id)

    async def set_role(self, by: User | None, user_id: int, role: Role) -> UserSummary:
        """Give a user a role. Conflict for the last active admin's own demotion, or a subscriber's
        role for a user with public strategies."""
        changed = await self._change(user_id, UserChange(role=role))
        log.info("user %s (%s) is now %s, set by %s", user_id, changed.username, role.value, _who(by))
        return changed

    async def disable(self, by: User | None, user_id: int) -> UserSummary:
        """Disable a user: their sessions end at once (their tokens are refused from the next request),
        they cannot sign in, their subscriptions take no new entries (exits, protective ones included,
        still run) and their strategies' alerts are refused. Conflict for oneself or the last admin."""
        if by is not None and by.id == user_id:
            raise Conflict("admins cannot disable themselves")
        changed = await self._change(user_id, UserChange(disabled=True))
        log.warning("user %s (%s) disabled by %s", user_id, changed.username, _who(by))
        return changed

    async def enable(self, by: User | None, user_id: int) -> UserSummary:
        changed = await self._change(user_id, UserChange(disabled=False))
        log.warning("user %s (%s) enabled by %s", user_id, changed.username, _who(by))
        return changed

    async def _change(self, user_id: int, change: UserChange) -> UserSummary:
        return await asyncio.to_thread(self.store.change_user, user_id, change, self.clock.now())

    async def executions(self, where: ExecutionFilter, page: Page) -> list[Row]:
        """Every user's orders, newest first, with the user, account and strategy of each."""
        if where.since is not None and where.until is not None and where.since >= where.until:
            raise Invalid("since must be before until")
        return await asyncio.to_thread(self.store.executions, where, page)

    async def platform_trading(self) -> PlatformTrading:
        return await asyncio.to_thread(self.platform.platform_trading)

    async def set_platform_trading(
        self, by: User | None, state: TradingState, reason: str
    ) -> PlatformTrading:
        """Set what the whole platform may trade: ACTIVE, REDUCING (exits only) or HALTED (no order at
        all, protective exits included). Each subscription trades under the most restrictive of its
        own state and this one; orders already stored are checked again when they are about to be
        sent. It is kept in the database: a restart keeps it."""
        if len(reason) > MAX_REASON_CHARS:
            raise Invalid(f"reason: at most {MAX_REASON_CHARS} characters")
        trading = PlatformTrading(state, reason or None, _who(by), self.clock.now())
        await asyncio.to_thread(self.platform.set_platform_trading, trading)
        log.warning("platform trading set to %s by %s: %s", state.value, trading.changed_by, reason or "-")
        return trading


def _who(by: User | None) -> str:
    return by.username if by is not None else OPERATOR
