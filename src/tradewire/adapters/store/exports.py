"""What exports and tax reports read (ports.exports.ExportReads): an owner's records, a page at a time,
by keyset: ids for exports, (executed_at, id) on ix_fills_account_time for the tax report's fills.

A page by id walks the primary key and stops after its rows. On SQLite (no statistics) the planner
would rather look the owner's rows up in an index and sort all of them for every page, so an export
would cost the square of its length; there, the owner's columns are compared as expressions (`+ 0`),
which no index serves. PostgreSQL chooses between the two from its statistics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, or_, select

from tradewire.adapters.store.db import SqlTables
from tradewire.adapters.store.tables import (
    exchange_accounts,
    execution_intents,
    fills,
    orders,
    positions,
    signals,
    strategies,
    subscriptions,
)
from tradewire.domain.orders import OrderSide
from tradewire.domain.tax import TaxFill
from tradewire.ports.exports import COLUMNS, ExportKind, ExportScope, Row

# A kind's query in scope (before the time range and the page), its id and its time column.
_Query = tuple[Select[Any], ColumnElement[Any], ColumnElement[Any]]


class SqlExports(SqlTables):
    """Every query is scoped to its user; each page is one short read transaction."""

    def owns_account(self, user_id: int, account_id: int) -> bool:
        query = select(exchange_accounts.c.id).where(
            exchange_accounts.c.id == account_id, exchange_accounts.c.user_id == user_id
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def sees_strategy(self, user_id: int, strategy_id: int) -> bool:
        query = select(strategies.c.id).where(
            strategies.c.id == strategy_id, (strategies.c.owner_id == user_id) | strategies.c.is_public
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def page(self, kind: ExportKind, scope: ExportScope, after_id: int | None, limit: int) -> list[Row]:
        query, id_column, time = _QUERIES[kind](scope, self.engine.dialect.name == "sqlite")
        if scope.start is not None:
            query = query.where(time >= scope.start)
        if scope.end is not None:
            query = query.where(time < scope.end)
        if after_id is not None:
            query = query.where(id_column > after_id)
        names = COLUMNS[kind]
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(id_column).limit(limit))
            return [{name: row._mapping[name] for name in names} for row in rows]

    def fills_in_time_order(
        self, account_id: int, before: datetime, after: tuple[datetime, int] | None, limit: int
    ) -> list[TaxFill]:
        query = (
            select(fills, orders.c.symbol, orders.c.side)
            .join(orders, orders.c.id == fills.c.order_id)
            .where(fills.c.account_id == account_id, fills.c.executed_at < before)
        )
        if after is not None:
            at, fill_id = after
            query = query.where(
                fills.c.executed_at >= at, or_(fills.c.executed_at > at, fills.c.id > fill_id)
            )
        query = query.order_by(fills.c.executed_at, fills.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [
                TaxFill(
                    fill_id=r.id,
                    symbol=r.symbol,
                    side=OrderSide(r.side),
                    amount=r.amount,
                    price=r.price,
                    fee=r.fee,
                    fee_currency=r.fee_currency,
                    executed_at=r.executed_at,
                )
                for r in conn.execute(query)
            ]


def _orders(scope: ExportScope, _sqlite: bool) -> _Query:
    # ix_orders_user (user_id, id) serves the page on both databases.
    query = (
        select(orders, subscriptions.c.strategy_id)
        .outerjoin(subscriptions, subscriptions.c.id == orders.c.subscription_id)
        .where(orders.c.user_id == scope.user_id)
    )
    if scope.account_id is not None:
        query = query.where(orders.c.account_id == scope.account_id)
    if scope.strategy_id is not None:
        query = query.where(subscriptions.c.strategy_id == scope.strategy_id)
    return query, orders.c.id, orders.c.created_at


def _fills(scope: ExportScope, sqlite: bool) -> _Query:
    account = _unindexed(fills.c.account_id, sqlite)
    owned = select(exchange_accounts.c.id).where(exchange_accounts.c.user_id == scope.user_id)
    query = (
        select(fills, orders.c.mode, orders.c.symbol, orders.c.side, subscriptions.c.strategy_id)
        .join(orders, orders.c.id == fills.c.order_id)
        .outerjoin(subscriptions, subscriptions.c.id == orders.c.subscription_id)
        .where(account.in_(owned.scalar_subquery()))
    )
    if scope.account_id is not None:
        query = query.where(account == scope.account_id)
    if scope.strategy_id is not None:
        query = query.where(subscriptions.c.strategy_id == scope.strategy_id)
    return query, fills.c.id, fills.c.executed_at


def _positions(scope: ExportScope, sqlite: bool) -> _Query:
    query = (
        select(positions, subscriptions.c.strategy_id)
        .outerjoin(subscriptions, subscriptions.c.id == positions.c.subscription_id)
        .where(_unindexed(positions.c.user_id, sqlite) == scope.user_id)
    )
    if scope.account_id is not None:
        query = query.where(_unindexed(positions.c.account_id, sqlite) == scope.account_id)
    if scope.strategy_id is not None:
        query = query.where(subscriptions.c.strategy_id == scope.strategy_id)
    return query, positions.c.id, positions.c.opened_at


def _signals(scope: ExportScope, _sqlite: bool) -> _Query:
    # The page walks signals' primary key on both databases; the scope is checked per row.
    def reached(*where: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(execution_intents.c.signal_id == signals.c.id, *where)

    query = (
        select(signals, strategies.c.slug.label("strategy_slug"))
        .join(strategies, strategies.c.id == signals.c.strategy_id)
        .where(
            (strategies.c.owner_id == scope.user_id) | reached(execution_intents.c.user_id == scope.user_id)
        )
    )
    if scope.account_id is not None:
        query = query.where(reached(execution_intents.c.account_id == scope.account_id))
    if scope.strategy_id is not None:
        query = query.where(signals.c.strategy_id == scope.strategy_id)
    return query, signals.c.id, signals.c.received_at


def _unindexed(column: ColumnElement[int], sqlite: bool) -> ColumnElement[int]:
    """`column` as an expression no SQLite index serves (see the module's docstring)."""
    return column + 0 if sqlite else column


_QUERIES = {
    ExportKind.ORDERS: _orders,
    ExportKind.FILLS: _fills,
    ExportKind.POSITIONS: _positions,
    ExportKind.SIGNALS: _signals,
}
