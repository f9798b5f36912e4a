"""What the marketplace's SQL stores share: the engine, one-row inserts, and rows read back as records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

from sqlalchemy import Column, ColumnElement, Connection, Select, Table, and_, select
from sqlalchemy.exc import IntegrityError

from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.domain.confirmation import ConfirmVia
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import (
    Account,
    AccountMode,
    Bot,
    Conflict,
    NotFound,
    Role,
    Strategy,
    Subscription,
    User,
)
from tradewire.domain.risk import TradingState
from tradewire.domain.sizing import SizingMode

T = TypeVar("T")


class MemberRows(SqlTables):
    """One-row inserts and rows read as records; every query that reads private data is scoped to its
    owner."""

    def _insert(self, table: Table, values: dict[str, Any], conflict: str) -> int:
        """Insert one row and return its id; a uniqueness violation becomes Conflict(conflict)."""
        try:
            with write_transaction(self.engine) as conn:
                key = conn.execute(table.insert().values(values)).inserted_primary_key
        except IntegrityError as exc:
            raise Conflict(conflict) from exc
        assert key is not None
        return int(key[0])

    def _records(self, query: Select[Any], record: Callable[[Any], T]) -> list[T]:
        """Each row of `query`, as `record` reads it."""
        with self.engine.connect() as conn:
            return [record(r._mapping) for r in conn.execute(query)]

    def _record(self, query: Select[Any], record: Callable[[Any], T], missing: str) -> T:
        """The first row of `query`, as `record` reads it; NotFound(missing) when there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(missing)
        return record(row._mapping)


def owned(table: Table, row_id: int, user_id: int) -> ColumnElement[bool]:
    """Row `row_id` of `table`, only if `user_id` owns it."""
    return and_(table.c.id == row_id, table.c.user_id == user_id)


def read_owned(conn: Connection, column: Column[Any], row_id: int, user_id: int, missing: str) -> Any:
    """`column` of row `row_id` of its table, if `user_id` owns the row; NotFound(missing) otherwise."""
    found = conn.execute(select(column).where(owned(column.table, row_id, user_id))).first()
    if found is None:
        raise NotFound(missing)
    return found[0]


def _same_named(record: Any, *converted: str) -> tuple[str, ...]:
    """The fields of `record` read as they are from the column of the same name (all but `converted`)."""
    return tuple(f.name for f in fields(record) if f.name not in converted)


_ACCOUNT_COLUMNS = _same_named(Account, "mode", "has_api_key")
_STRATEGY_COLUMNS = _same_named(Strategy, "is_owner")
_SUBSCRIPTION_COLUMNS = _same_named(
    Subscription, "mode", "status", "sizing_mode", "trading_state", "confirmation"
)
_BOT_COLUMNS = _same_named(Bot, "status", "mode")


def user_of(r: Any) -> User:
    """A users row as a User."""
    return User(r.id, r.username, r.password_hash, role_of(r.role), r.disabled_at is not None)


def role_of(stored: Any) -> Role:
    """A stored role; one this version cannot read is a subscriber's (the least allowed)."""
    try:
        return Role(stored)
    except ValueError:
        return Role.SUBSCRIBER


def account_of(r: Any) -> Account:
    return Account(
        **{name: r[name] for name in _ACCOUNT_COLUMNS},
        mode=AccountMode(r["mode"]),
        has_api_key=r["api_key_enc"] is not None,
    )


def strategy_of(r: Any, viewer_id: int | None) -> Strategy:
    """The row as `viewer_id` sees it (None: anyone but its owner)."""
    return Strategy(**{name: r[name] for name in _STRATEGY_COLUMNS}, is_owner=r["owner_id"] == viewer_id)


def subscription_of(r: Any) -> Subscription:
    return Subscription(
        **{name: r[name] for name in _SUBSCRIPTION_COLUMNS},
        mode=AccountMode(r["mode"]),
        status=SubscriptionStatus(r["status"]),
        sizing_mode=SizingMode(r["sizing_mode"]),
        trading_state=TradingState(r["trading_state"]),
        confirmation=ConfirmVia(r["confirmation"]),
    )


def bot_of(r: Any) -> Bot:
    return Bot(
        **{name: r[name] for name in _BOT_COLUMNS},
        status=SubscriptionStatus(r["status"]),
        mode=AccountMode(r["mode"]),
    )
