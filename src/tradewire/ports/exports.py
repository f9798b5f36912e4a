"""What exports and tax reports read: an owner's records in pages, so a long history streams in
bounded memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from tradewire.domain.tax import TaxFill

Row = dict[str, Any]  # one exported record, its columns named by COLUMNS


class ExportKind(StrEnum):
    """The records an owner can export."""

    ORDERS = "orders"
    FILLS = "fills"
    POSITIONS = "positions"
    SIGNALS = "signals"


# Each kind's columns, in the order an export writes them; a row holds exactly these keys.
COLUMNS: dict[ExportKind, tuple[str, ...]] = {
    ExportKind.ORDERS: (
        "id",
        "account_id",
        "subscription_id",
        "strategy_id",
        "position_id",
        "mode",
        "client_order_id",
        "exchange_order_id",
        "symbol",
        "side",
        "type",
        "amount",
        "price",
        "state",
        "filled",
        "average",
        "fee",
        "fee_currency",
        "reason",
        "close_reason",
        "tranche",
        "created_at",
        "updated_at",
    ),
    ExportKind.FILLS: (
        "id",
        "order_id",
        "account_id",
        "strategy_id",
        "mode",
        "symbol",
        "side",
        "trade_id",
        "amount",
        "price",
        "fee",
        "fee_currency",
        "executed_at",
    ),
    ExportKind.POSITIONS: (
        "id",
        "account_id",
        "subscription_id",
        "strategy_id",
        "mode",
        "symbol",
        "side",
        "status",
        "amount",
        "avg_entry",
        "cost_basis",
        "realized_pnl",
        "fees",
        "close_reason",
        "opened_at",
        "closed_at",
        "updated_at",
    ),
    ExportKind.SIGNALS: (
        "id",
        "strategy_id",
        "strategy_slug",
        "status",
        "action",
        "ticker",
        "symbol",
        "contracts",
        "price",
        "signal_time",
        "received_at",
        "routed_at",
    ),
}


@dataclass(frozen=True, slots=True)
class ExportScope:
    """Whose records, narrowed to an account, a strategy and a time range [start, end): of orders'
    creation, fills' execution, positions' opening, signals' receipt."""

    user_id: int
    account_id: int | None = None
    strategy_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None


class ExportReads(Protocol):
    """An owner's records. Orders, fills and positions are the user's own; signals are those of the
    user's strategies and those that reached the user's subscriptions."""

    def owns_account(self, user_id: int, account_id: int) -> bool: ...

    def sees_strategy(self, user_id: int, strategy_id: int) -> bool:
        """The user's own strategy, or a public one."""

    def page(self, kind: ExportKind, scope: ExportScope, after_id: int | None, limit: int) -> list[Row]:
        """Up to `limit` rows in `scope` with ids above `after_id`, in id order: COLUMNS[kind] each.

        An account narrows signals to those that reached it; a strategy narrows orders, fills and
        positions to its subscriptions'.
        """

    def fills_in_time_order(
        self, account_id: int, before: datetime, after: tuple[datetime, int] | None, limit: int
    ) -> list[TaxFill]:
        """Up to `limit` of an account's fills executed before `before`, ordered by (executed_at, id),
        after the (executed_at, id) `after`."""
