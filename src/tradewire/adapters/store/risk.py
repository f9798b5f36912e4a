"""What risk and sizing read before a page of entries is decided, in SQL (ports/positions.py: RiskReads)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import Connection, and_, func, or_, select, text

from tradewire.adapters.store import bulk
from tradewire.adapters.store.attempts import may_still_fill
from tradewire.adapters.store.db import SqlTables
from tradewire.adapters.store.positions import daily_results
from tradewire.adapters.store.tables import (
    UNSETTLED_ORDERS,
    orders,
    positions,
    strategy_pairs,
    subscriptions,
)
from tradewire.adapters.store.track import pair_record
from tradewire.adapters.store.values import utc
from tradewire.domain.orders import (
    OUTCOME_PENDING_STATES,
    OrderSide,
    OrderType,
)
from tradewire.domain.positions import CloseReason, PositionStatus
from tradewire.domain.records import RiskKeys, RiskSnapshot
from tradewire.domain.sizing import TradeStats


class SqlRiskReads(SqlTables):
    """Open positions, the day's results, strategies' records and exits in flight, read in bulk."""

    def risk_snapshot(self, keys: RiskKeys) -> RiskSnapshot:
        snap = RiskSnapshot()
        with self.engine.connect() as conn:
            for chunk in bulk.chunks(sorted(set(keys.account_ids)), 900):
                rows = conn.execute(
                    select(positions.c.account_id, positions.c.subscription_id, positions.c.symbol).where(
                        bulk.one_of(conn, positions.c.account_id, chunk),
                        positions.c.status == PositionStatus.OPEN.value,
                    )
                )
                for account_id, subscription_id, symbol in rows:
                    snap.opening(account_id, subscription_id, symbol)
                for account_id, subscription_id, symbol in _entries_that_may_fill(conn, chunk):
                    snap.opening(account_id, subscription_id, symbol)
                snap.realized_today.update(daily_results(conn, chunk, keys.day))
            for chunk_keys in bulk.chunks(sorted(set(keys.pair_keys)), 450):
                rows = conn.execute(
                    select(positions.c.subscription_id, positions.c.symbol, func.max(positions.c.updated_at))
                    .where(bulk.keys_in(conn, [positions.c.subscription_id, positions.c.symbol], chunk_keys))
                    .group_by(positions.c.subscription_id, positions.c.symbol)
                )
                for subscription_id, symbol, last in rows:
                    if last is not None:  # MAX() bypasses the column type on SQLite
                        snap.last_trade[(subscription_id, symbol)] = utc(last)
            for chunk_keys in bulk.chunks(sorted(set(keys.strategy_pairs_keys)), 450):
                rows = conn.execute(
                    select(strategy_pairs).where(
                        bulk.keys_in(
                            conn, [strategy_pairs.c.strategy_id, strategy_pairs.c.symbol], chunk_keys
                        )
                    )
                )
                for r in rows:
                    snap.pairs[(r.strategy_id, r.symbol)] = pair_record(r._mapping)
        return snap

    def strategy_stats(self, strategy_id: int, last: int = 500) -> TradeStats:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(positions.c.realized_pnl, positions.c.fees)
                .join(subscriptions, subscriptions.c.id == positions.c.subscription_id)
                .where(
                    subscriptions.c.strategy_id == strategy_id,
                    positions.c.status == PositionStatus.CLOSED.value,
                    # Closed outside tradewire: its result is not known here, so not a trade of record.
                    or_(
                        positions.c.close_reason.is_(None),
                        positions.c.close_reason != CloseReason.OUTSIDE.value,
                    ),
                )
                .order_by(positions.c.id.desc())
                .limit(last)
            ).all()
        return TradeStats.of([r.realized_pnl - r.fees for r in rows])

    def open_position_amounts(self, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Decimal]:
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        result: dict[tuple[int, str], Decimal] = {}
        with self.engine.connect() as conn:
            for chunk in bulk.chunks(wanted, 500):
                rows = conn.execute(
                    select(positions.c.subscription_id, positions.c.symbol, positions.c.amount).where(
                        positions.c.status == PositionStatus.OPEN.value,
                        bulk.keys_in(conn, [positions.c.subscription_id, positions.c.symbol], chunk),
                    )
                )
                result.update({(subscription_id, symbol): amount for subscription_id, symbol, amount in rows})
        return result

    def exits_in_flight(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        wanted = sorted(set(keys))
        found: set[tuple[int, str]] = set()
        with self.engine.connect() as conn:
            for chunk in bulk.chunks(wanted, 450):
                rows = conn.execute(
                    select(orders.c.subscription_id, orders.c.symbol).where(
                        orders.c.position_id.is_not(None),
                        orders.c.side == OrderSide.SELL.value,
                        may_still_fill(),
                        bulk.keys_in(conn, [orders.c.subscription_id, orders.c.symbol], chunk),
                    )
                )
                found.update(rows.tuples().all())
        return found

    def outcomes_pending(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        wanted = sorted(set(keys))
        found: set[tuple[int, str]] = set()
        pending = and_(
            text(UNSETTLED_ORDERS),  # = MARKET_PENDING_STATES, as ix_orders_unsettled says it
            or_(
                orders.c.type == OrderType.MARKET.value,
                orders.c.state.in_([s.value for s in OUTCOME_PENDING_STATES]),
            ),
        )
        with self.engine.connect() as conn:
            for chunk in bulk.chunks(wanted, 450):
                rows = conn.execute(
                    select(orders.c.subscription_id, orders.c.symbol)
                    .where(pending, bulk.keys_in(conn, [orders.c.subscription_id, orders.c.symbol], chunk))
                    .distinct()
                )
                found.update(rows.tuples().all())
        return found


def _entries_that_may_fill(conn: Connection, account_ids: Sequence[int]) -> list[tuple[int, int, str]]:
    """The accounts' entry orders that may still open a position (attempts.may_still_fill: unsettled,
    or in their window of late checks), in id order: two reads, each on its partial index."""
    found: dict[int, tuple[int, int, str]] = {}
    for may_fill in (text(UNSETTLED_ORDERS), orders.c.next_check_at.is_not(None)):
        rows = conn.execute(
            select(orders.c.id, orders.c.account_id, orders.c.subscription_id, orders.c.symbol).where(
                may_fill,
                bulk.one_of(conn, orders.c.account_id, account_ids),
                orders.c.side == OrderSide.BUY.value,
                orders.c.subscription_id.is_not(None),
            )
        )
        found.update((order_id, (a, s, symbol)) for order_id, a, s, symbol in rows)
    return [found[order_id] for order_id in sorted(found)]
