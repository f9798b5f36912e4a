"""Admins' reads and changes across users: the users, a change of role or of disabled, and every
execution (orders with their user, account and strategy). Nothing here is scoped to an owner: the API
lets only admins reach it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select, update

from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.member_rows import role_of
from tradewire.adapters.store.reports import order_row
from tradewire.adapters.store.signin import revoke_all
from tradewire.adapters.store.tables import exchange_accounts, orders, strategies, subscriptions, users
from tradewire.domain.admin import ExecutionFilter, UserChange, UserFilter, UserSummary
from tradewire.domain.members import Conflict, NotFound, Role
from tradewire.domain.records import Page
from tradewire.ports.reports import Row

_SUMMARY = select(users.c.id, users.c.username, users.c.role, users.c.disabled_at, users.c.created_at)


class SqlAdmin(SqlTables):
    """Users and executions across the platform, for admins."""

    def users(self, where: UserFilter, page: Page) -> list[UserSummary]:
        query = _SUMMARY
        if where.role is not None:
            query = query.where(users.c.role == where.role.value)
        if where.disabled is not None:
            disabled = users.c.disabled_at.is_not(None) if where.disabled else users.c.disabled_at.is_(None)
            query = query.where(disabled)
        if page.before_id is not None:
            query = query.where(users.c.id < page.before_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(users.c.id.desc()).limit(page.limit))
            return [_summary(r) for r in rows]

    def user(self, user_id: int) -> UserSummary:
        with self.engine.connect() as conn:
            return _one(conn, user_id)

    def change_user(self, user_id: int, change: UserChange, now: datetime) -> UserSummary:
        with write_transaction(self.engine) as conn:
            # The active admins locked first, in id order: two admins disabling each other at once are
            # applied one after the other, and the second finds no other admin left.
            admins = set(
                conn.execute(
                    select(users.c.id)
                    .where(users.c.role == Role.ADMIN.value, users.c.disabled_at.is_(None))
                    .order_by(users.c.id)
                    .with_for_update()
                ).scalars()
            )
            before = _one(conn, user_id, lock=True)
            values: dict[str, Any] = {}
            if change.role is not None:
                if change.role is Role.SUBSCRIBER and _public_strategies(conn, user_id):
                    raise Conflict(
                        f"user {before.username} has public strategies: make them private before "
                        "making the user a subscriber (subscribers do not publish)"
                    )
                values["role"] = change.role.value
            if change.disabled is not None and change.disabled is not before.disabled:
                values["disabled_at"] = now if change.disabled else None
            stays_admin = (change.role or before.role) is Role.ADMIN and not (
                change.disabled if change.disabled is not None else before.disabled
            )
            if user_id in admins and not stays_admin and len(admins) == 1:
                raise Conflict("the platform's last active admin cannot be disabled or demoted")
            if values:
                conn.execute(update(users).where(users.c.id == user_id).values(values))
            if values.get("disabled_at") is not None:
                revoke_all(conn, user_id, now, "user disabled")
            return _one(conn, user_id)

    def executions(self, where: ExecutionFilter, page: Page) -> list[Row]:
        query = _executions(where)
        if page.before_id is not None:
            query = query.where(orders.c.id < page.before_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(orders.c.id.desc()).limit(page.limit))
            return [order_row(dict(r._mapping)) for r in rows]


def _executions(where: ExecutionFilter) -> Select[Any]:
    query = (
        select(
            orders,
            users.c.username,
            exchange_accounts.c.name.label("account_name"),
            exchange_accounts.c.exchange,
            subscriptions.c.strategy_id,
            strategies.c.slug.label("strategy_slug"),
        )
        .join(users, users.c.id == orders.c.user_id)
        .join(exchange_accounts, exchange_accounts.c.id == orders.c.account_id)
        .outerjoin(subscriptions, subscriptions.c.id == orders.c.subscription_id)
        .outerjoin(strategies, strategies.c.id == subscriptions.c.strategy_id)
    )
    for column, value in (
        (orders.c.user_id, where.user_id),
        (orders.c.account_id, where.account_id),
        (subscriptions.c.strategy_id, where.strategy_id),
        (orders.c.state, where.state),
        (orders.c.symbol, where.symbol),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.since is not None:
        query = query.where(orders.c.created_at >= where.since)
    if where.until is not None:
        query = query.where(orders.c.created_at < where.until)
    return query


def _one(conn: Connection, user_id: int, lock: bool = False) -> UserSummary:
    query = _SUMMARY.where(users.c.id == user_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    return _summary(row)


def _public_strategies(conn: Connection, user_id: int) -> int:
    count = select(func.count()).where(strategies.c.owner_id == user_id, strategies.c.is_public.is_(True))
    return int(conn.execute(count).scalar_one())


def _summary(r: Any) -> UserSummary:
    return UserSummary(
        r.id, r.username, role_of(r.role), r.disabled_at is not None, r.disabled_at, r.created_at
    )
