"""Read models for the API: signals, intents, orders, positions and the execution log, per owner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import SqlTables
from tradewire.adapters.store.tables import (
    exchange_accounts,
    execution_intents,
    execution_log,
    orders,
    positions,
    signals,
    strategies,
)
from tradewire.domain.portfolio import PositionResult
from tradewire.domain.positions import PositionStatus
from tradewire.domain.records import OpenPosition, Page
from tradewire.ports.reports import Row


class SqlReports(SqlTables):
    """Every query is scoped: providers see their strategies' signals, users their own trading."""

    def signals_of_provider(self, owner_id: int, strategy_id: int | None, page: Page) -> list[Row]:
        counts = (
            select(func.count())
            .select_from(execution_intents)
            .where(execution_intents.c.signal_id == signals.c.id)
            .scalar_subquery()
        )
        query = (
            select(signals, strategies.c.slug.label("strategy_slug"), counts.label("intent_count"))
            .join(strategies, strategies.c.id == signals.c.strategy_id)
            .where(strategies.c.owner_id == owner_id)
        )
        query = _only(query, signals.c.strategy_id, strategy_id)
        return self._page(query, signals.c.id, page, _signal)

    def intents(
        self, user_id: int, signal_id: int | None, page: Page, status: str | None = None
    ) -> list[Row]:
        query = (
            select(
                execution_intents,
                signals.c.action,
                signals.c.symbol,
                signals.c.received_at,
                strategies.c.slug.label("strategy_slug"),
                orders.c.id.label("order_id"),
                orders.c.sizing_equity,
            )
            .join(signals, signals.c.id == execution_intents.c.signal_id)
            .join(strategies, strategies.c.id == signals.c.strategy_id)
            .outerjoin(orders, orders.c.intent_id == execution_intents.c.id)
            .where(execution_intents.c.user_id == user_id)
        )
        query = _only(query, execution_intents.c.signal_id, signal_id)
        query = _only(query, execution_intents.c.status, status)
        return self._page(query, execution_intents.c.id, page, dict)

    def orders(self, user_id: int, state: str | None, page: Page) -> list[Row]:
        query = _only(select(orders).where(orders.c.user_id == user_id), orders.c.state, state)
        return self._page(query, orders.c.id, page, order_row)

    def positions(self, user_id: int, status: str | None, page: Page) -> list[Row]:
        query = (
            select(positions, exchange_accounts.c.exchange)
            .join(exchange_accounts, exchange_accounts.c.id == positions.c.account_id)
            .where(positions.c.user_id == user_id)
        )
        query = _only(query, positions.c.status, status)
        return self._page(query, positions.c.id, page, dict)

    def open_positions_of_users(self, user_ids: Sequence[int], limit: int) -> list[OpenPosition]:
        """Open positions of these users with their account's exchange, newest first, at most `limit`
        (the live marks' round: services/live_marks.py)."""
        p = positions.c
        found: list[OpenPosition] = []
        with self.engine.connect() as conn:
            for chunk in bulk.chunks(sorted(set(user_ids)), 900):
                rows = conn.execute(
                    select(p.id, p.user_id, p.account_id, exchange_accounts.c.exchange, p.mode, p.symbol)
                    .add_columns(p.amount, p.avg_entry)
                    .join(exchange_accounts, exchange_accounts.c.id == p.account_id)
                    .where(p.user_id.in_(chunk), p.status == PositionStatus.OPEN.value)
                    .order_by(p.id.desc())
                    .limit(limit - len(found))
                )
                found.extend(OpenPosition(*row) for row in rows)
                if len(found) >= limit:
                    break
        return found

    def execution_log(self, user_id: int, intent_id: int | None, page: Page) -> list[Row]:
        query = select(execution_log).where(execution_log.c.user_id == user_id)
        query = _only(query, execution_log.c.intent_id, intent_id)
        return self._page(query, execution_log.c.id, page, dict)

    def position_results(self, user_id: int, account_id: int | None, limit: int) -> list[PositionResult]:
        p = positions.c
        query = select(p.mode, p.symbol, p.status, p.realized_pnl, p.fees, p.closed_at).where(
            p.user_id == user_id
        )
        query = _only(query, p.account_id, account_id).order_by(p.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [PositionResult(*row) for row in conn.execute(query)]

    def _page(self, query: Select[Any], id_column: Any, page: Page, shape: Any) -> list[Row]:
        if page.before_id is not None:
            query = query.where(id_column < page.before_id)
        query = query.order_by(id_column.desc()).limit(page.limit)
        with self.engine.connect() as conn:
            return [shape(dict(r._mapping)) for r in conn.execute(query)]


def _only(query: Select[Any], column: Any, value: Any) -> Select[Any]:
    """`query`, narrowed to rows whose `column` equals `value` unless that is None (no filter)."""
    return query if value is None else query.where(column == value)


def _signal(r: Row) -> Row:
    r.pop("dedup_key", None)
    return r


def order_row(r: Row) -> Row:
    """An orders row as owners and admins read it (without the reconciler's bookkeeping)."""
    r.pop("next_check_at", None)
    r.pop("check_attempts", None)
    return r
