"""What exports and tax reports read (ports.exports.ExportReads): an owner's records, a page at a time,
by keyset (ids, or time and id for the tax report's fills), so no page costs more than its rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select

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
        query, id_column, time = _QUERIES[kind](scope)
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
                or_(fills.c.executed_at > at, and_(fills.c.executed_at == at, fills.c.id > fill_id))
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


def _orders(scope: ExportScope) -> _Query:
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


def _fills(scope: ExportScope) -> _Query:
    query = (
        select(fills, orders.c.mode, orders.c.symbol, orders.c.side, subscriptions.c.strategy_id)
        .join(orders, orders.c.id == fills.c.order_id)
        .outerjoin(subscriptions, subscriptions.c.id == orders.c.subscription_id)
        .where(orders.c.user_id == scope.user_id)
    )
    if scope.account_id is not None:
        query = query.where(fills.c.account_id == scope.account_id)
    if scope.strategy_id is not None:
        query = query.where(subscriptions.c.strategy_id == scope.strategy_id)
    return query, fills.c.id, fills.c.executed_at


def _positions(scope: ExportScope) -> _Query:
    query = (
        select(positions, subscriptions.c.strategy_id)
        .outerjoin(subscriptions, subscriptions.c.id == positions.c.subscription_id)
        .where(positions.c.user_id == scope.user_id)
    )
    if scope.account_id is not None:
        query = query.where(positions.c.account_id == scope.account_id)
    if scope.strategy_id is not None:
        query = query.where(subscriptions.c.strategy_id == scope.strategy_id)
    return query, positions.c.id, positions.c.opened_at


def _signals(scope: ExportScope) -> _Query:
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


_QUERIES = {
    ExportKind.ORDERS: _orders,
    ExportKind.FILLS: _fills,
    ExportKind.POSITIONS: _positions,
    ExportKind.SIGNALS: _signals,
}
