"""Trading history written straight into the tables (signals, intents, orders, fills, positions), for
tests of what reads it back: exports and tax reports. Bulk writes, so 20,000 fills take a moment."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.tables import execution_intents, fills, orders, positions, signals

_client_ids = itertools.count(1)


def _paper_owner(user_id: int, account_id: int, subscription_id: int | None) -> dict[str, Any]:
    """The columns that put an order or a position on a user's paper account (and subscription)."""
    return {"account_id": account_id, "subscription_id": subscription_id, "user_id": user_id, "mode": "paper"}


def add_signal(engine: Engine, strategy_id: int, received_at: datetime, ticker: str = "BTCUSDT") -> int:
    row = {
        "strategy_id": strategy_id,
        "dedup_key": f"k{next(_client_ids)}",
        "status": "routed",
        "action": "buy",
        "ticker": ticker,
        "symbol": "BTC/USDT",
        "contracts": Decimal("0.5"),
        "price": None,
        "signal_time": None,
        "details": {},
        "received_at": received_at,
        "routed_at": received_at,
    }
    with write_transaction(engine) as conn:
        return int(conn.execute(signals.insert().values(row)).inserted_primary_key[0])


def add_intent(engine: Engine, signal_id: int, subscription_id: int, account_id: int, user_id: int) -> int:
    row = {
        "signal_id": signal_id,
        "subscription_id": subscription_id,
        "account_id": account_id,
        "user_id": user_id,
        "status": "done",
        "created_at": datetime.now(UTC),
        "updated_at": datetime.now(UTC),
    }
    with write_transaction(engine) as conn:
        return int(conn.execute(execution_intents.insert().values(row)).inserted_primary_key[0])


def add_order(
    engine: Engine,
    user_id: int,
    account_id: int,
    subscription_id: int | None,
    created_at: datetime,
    side: str = "buy",
    symbol: str = "BTC/USDT",
    amount: str = "1",
) -> int:
    row = {
        **_paper_owner(user_id, account_id, subscription_id),
        "client_order_id": f"tw-export-{next(_client_ids)}",
        "symbol": symbol,
        "side": side,
        "type": "market",
        "amount": Decimal(amount),
        "state": "filled",
        "filled": Decimal(amount),
        "fee": Decimal(0),
        "created_at": created_at,
        "updated_at": created_at,
        "check_attempts": 0,
    }
    with write_transaction(engine) as conn:
        return int(conn.execute(orders.insert().values(row)).inserted_primary_key[0])


def add_fills(engine: Engine, order_id: int, account_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Fills of one order: each row gives amount, price, executed_at, and may give fee, fee_currency."""
    full = [
        {
            "order_id": order_id,
            "account_id": account_id,
            "trade_id": f"t{next(_client_ids)}",
            "amount": Decimal(str(row["amount"])),
            "price": Decimal(str(row["price"])),
            "fee": Decimal(str(row.get("fee", "0"))),
            "fee_currency": row.get("fee_currency", "USDT"),
            "executed_at": row["executed_at"],
        }
        for row in rows
    ]
    with write_transaction(engine) as conn:
        bulk.insert(conn, fills, full)


def add_position(
    engine: Engine, user_id: int, account_id: int, subscription_id: int | None, opened_at: datetime
) -> int:
    row = {
        **_paper_owner(user_id, account_id, subscription_id),
        "symbol": "BTC/USDT",
        "side": "long",
        "status": "closed",
        "amount": Decimal(0),
        "avg_entry": Decimal("60000.1"),
        "cost_basis": Decimal(0),
        "realized_pnl": Decimal("12.5"),
        "fees": Decimal("0.06"),
        "close_reason": "signal",
        "opened_at": opened_at,
        "closed_at": opened_at,
        "updated_at": opened_at,
    }
    with write_transaction(engine) as conn:
        return int(conn.execute(positions.insert().values(row)).inserted_primary_key[0])
