"""Stored values read back (as written by this or an older version) and text bounded for storing;
shared by the SQL stores. No queries of its own but `readable_rows`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, Table, select

from tradewire.adapters.store.tables import exchange_accounts, subscriptions
from tradewire.domain.partitions import Partitions
from tradewire.domain.risk import TradingState
from tradewire.domain.signals import MarketPosition, SignalAction, SignalIntent

log = logging.getLogger("tradewire.store")

# Attempts and reasons: bounded, and text every database stores (PostgreSQL refuses NUL).
MAX_REASON_CHARS = 1000


def bounded_reason(reason: str) -> str:
    text = reason.replace("\x00", "")
    return text if len(text) <= MAX_REASON_CHARS else f"{text[: MAX_REASON_CHARS - 3]}..."


def error_reason(exc: BaseException) -> str:
    return bounded_reason(f"{type(exc).__name__}: {exc}")


def decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def utc(value: Any) -> datetime:
    """A time as an aware UTC datetime (MAX() and friends bypass the column type on SQLite)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def trading_state(value: Any) -> TradingState:
    """A stored trading state; one this version cannot read allows no order (default-deny)."""
    try:
        return TradingState(value or TradingState.ACTIVE.value)
    except ValueError:
        return TradingState.HALTED


def signal_intent(action: str, details: Mapping[str, Any] | None) -> SignalIntent:
    """What a stored signal asks for, from its action and the alert's details as stored."""
    details = details or {}
    position = details.get("market_position")
    return SignalIntent(
        action=SignalAction(action),
        ticker=details.get("ticker", ""),
        market_position=MarketPosition(position) if position else None,
        market_position_size=decimal_or_none(details.get("market_position_size")),
        prev_market_position_size=decimal_or_none(details.get("prev_market_position_size")),
    )


def with_owner(table: Table, *subscription_columns: Any) -> Select[Any]:
    """Rows of `table` (orders, positions) with their account's exchange and these columns of their
    subscription (NULL for a row without one)."""
    return (
        select(table, exchange_accounts.c.exchange, *subscription_columns)
        .join(exchange_accounts, exchange_accounts.c.id == table.c.account_id)
        .outerjoin(subscriptions, subscriptions.c.id == table.c.subscription_id)
    )


def readable_rows(conn: Connection, query: Any, key: Any) -> list[tuple[int, Any]]:
    """(key, row) for each row of `query`, or (key, why) for a row whose columns cannot be read (a
    stored value an older version wrote that no longer converts): read one by one only then."""
    try:
        return [(row._mapping[key], row) for row in conn.execute(query).all()]
    except Exception:  # a column type could not convert a value: find the row, keep the rest
        log.exception("a stored row could not be read; reading the page row by row")
    ids = list(conn.execute(query.with_only_columns(key)).scalars())
    result: list[tuple[int, Any]] = []
    for row_id in ids:
        try:
            result.append((row_id, conn.execute(query.where(key == row_id)).one()))
        except Exception as exc:
            result.append((row_id, f"stored intent cannot be read: {error_reason(exc)}"))
    return result


def in_partitions(account_id: Any, partitions: Partitions) -> ColumnElement[bool]:
    """SQL for the rows whose account (`account_id`, a column) is in `partitions`."""
    owned: ColumnElement[bool] = (account_id % partitions.count).in_(sorted(partitions.owned))
    return owned
