"""The paper venue's own books: its orders and per-asset wallets, in memory and in the paper_* tables."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select

from tradewire.adapters.store import bulk
from tradewire.adapters.store.events import transaction_with_events
from tradewire.adapters.store.tables import exchange_accounts, paper_balances, paper_orders
from tradewire.adapters.store.values import in_partitions
from tradewire.domain.events import Event, balances_changed
from tradewire.domain.money import ZERO
from tradewire.domain.orders import ExchangeOrder, OrderSide, OrderType, Trade
from tradewire.domain.partitions import Partitions
from tradewire.ports.events import EventNotifier

OrderKey = tuple[int, str]  # (account id, client order id)


@dataclass(slots=True)
class PaperOrder:
    """An order as the paper venue keeps it (a row of paper_orders)."""

    account_id: int
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    amount: Decimal
    price: Decimal | None
    status: str  # open | closed | canceled | rejected
    filled: Decimal
    average: Decimal | None
    fee: Decimal
    fee_currency: str
    reason: str | None
    created_ms: int
    updated_ms: int
    id: int | None = None

    @property
    def key(self) -> OrderKey:
        return (self.account_id, self.client_order_id)

    def view(self) -> ExchangeOrder:
        """The order as an exchange reports it: one trade for the whole fill."""
        trades: tuple[Trade, ...] = ()
        if self.filled > 0 and self.average is not None:
            trades = (
                Trade(
                    trade_id=f"{self.client_order_id}-1",
                    amount=self.filled,
                    price=self.average,
                    fee=self.fee,
                    fee_currency=self.fee_currency,
                    timestamp_ms=self.updated_ms,
                ),
            )
        return ExchangeOrder(
            exchange_order_id=f"paper-{self.account_id}-{self.client_order_id}",
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            status=self.status,
            amount=self.amount,
            filled=self.filled,
            average=self.average,
            price=self.price,
            trades=trades,
            reason=self.reason,
        )

    def row(self) -> dict[str, Any]:
        """The paper_orders columns to save (the id is the table's)."""
        values = {name: getattr(self, name) for name in _SAVED}
        values["side"], values["type"] = self.side.value, self.type.value
        return values

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> PaperOrder:
        values = {name: row[name] for name in _SAVED}
        values["side"], values["type"] = OrderSide(row["side"]), OrderType(row["type"])
        return cls(**values, id=row["id"])


_SAVED = tuple(field.name for field in fields(PaperOrder) if field.name != "id")


@dataclass(slots=True)
class Wallet:
    """One asset of one paper account: free, and reserved by open orders."""

    free: Decimal = ZERO
    used: Decimal = ZERO


def now_ms() -> int:
    return int(time.time() * 1000)


class Fence(Protocol):
    """Several active workers: what guards a worker's paper books in the database (adapters/store/
    partitions.PartitionLeases)."""

    def before_write(self, conn: Connection, account_ids: Iterable[int]) -> None: ...
    def before_load(self, conn: Connection, partitions: Partitions) -> None: ...


def load(
    engine: Engine, partitions: Partitions | None = None, fence: Fence | None = None
) -> tuple[dict[int, dict[str, Wallet]], dict[OrderKey, PaperOrder]]:
    """Every account's wallets and every open order (one query each), or those of the accounts in
    `partitions` (after their last owner's writes under way, with a `fence`)."""
    wallets: dict[int, dict[str, Wallet]] = defaultdict(dict)
    open_orders: dict[OrderKey, PaperOrder] = {}
    balances = select(paper_balances)
    resting = select(paper_orders).where(paper_orders.c.status == "open")
    if partitions is not None:
        balances = balances.where(in_partitions(paper_balances.c.account_id, partitions))
        resting = resting.where(in_partitions(paper_orders.c.account_id, partitions))
    with engine.connect() as conn:
        if fence is not None and partitions is not None:
            fence.before_load(conn, partitions)
        for row in conn.execute(balances):
            wallets[row.account_id][row.asset] = Wallet(row.free, row.used)
        for row in conn.execute(resting):
            order = PaperOrder.from_row(row._mapping)
            open_orders[order.key] = order
    return dict(wallets), open_orders


def load_wallet(engine: Engine, account_id: int) -> dict[str, Wallet]:
    """One account's wallets as stored (empty: the account has not traded yet)."""
    with engine.connect() as conn:
        rows = conn.execute(select(paper_balances).where(paper_balances.c.account_id == account_id))
        return {row.asset: Wallet(row.free, row.used) for row in rows}


def load_orders(engine: Engine, keys: list[OrderKey]) -> dict[OrderKey, PaperOrder]:
    """Orders the venue already has for these (account, client order id) keys."""
    found: dict[OrderKey, PaperOrder] = {}
    if not keys:
        return found
    with engine.connect() as conn:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = conn.execute(
                select(paper_orders).where(
                    bulk.keys_in(conn, [paper_orders.c.account_id, paper_orders.c.client_order_id], chunk)
                )
            )
            for row in rows:
                order = PaperOrder.from_row(row._mapping)
                found[order.key] = order
    return found


def load_order(engine: Engine, account_id: int, client_order_id: str) -> PaperOrder | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(paper_orders).where(
                paper_orders.c.account_id == account_id,
                paper_orders.c.client_order_id == client_order_id,
            )
        ).first()
    return PaperOrder.from_row(row._mapping) if row else None


def write(
    engine: Engine,
    wallets: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    notifier: EventNotifier | None = None,
    fence: Fence | None = None,
) -> None:
    """Save changed wallets and orders in one transaction, with a `balances` event for each account's
    owner saying what its changed assets hold now (only while this worker holds their partitions, with
    a `fence`)."""
    with transaction_with_events(engine, notifier, datetime.now(UTC)) as (conn, outbox):
        if fence is not None:
            fence.before_write(
                conn, {int(w["account_id"]) for w in wallets} | {int(o["account_id"]) for o in orders}
            )
        bulk.insert(conn, paper_balances, wallets, update_conflicts_on=["account_id", "asset"])
        bulk.insert(conn, paper_orders, orders, update_conflicts_on=["account_id", "client_order_id"])
        outbox.add(_balance_events(conn, wallets))


def _balance_events(conn: Connection, wallets: list[dict[str, Any]]) -> list[Event]:
    changed: dict[int, dict[str, tuple[Decimal, Decimal]]] = {}
    for w in wallets:
        changed.setdefault(int(w["account_id"]), {})[str(w["asset"])] = (w["free"], w["used"])
    if not changed:
        return []
    owners: dict[int, int] = {}
    for chunk in bulk.chunks(sorted(changed), 900):
        query = select(exchange_accounts.c.id, exchange_accounts.c.user_id).where(
            bulk.one_of(conn, exchange_accounts.c.id, chunk)
        )
        owners.update({int(a): int(u) for a, u in conn.execute(query).all()})
    return [
        balances_changed(owners[account_id], account_id, assets)
        for account_id, assets in sorted(changed.items())
        if account_id in owners
    ]
