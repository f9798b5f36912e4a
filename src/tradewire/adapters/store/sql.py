"""The execution pipeline's persistence: batched, transactional, idempotent.

Every method is synchronous and runs one transaction; the services call them from a worker thread.
Unique keys make every write safe to repeat: (strategy, dedup key) for signals, (signal,
subscription) for intents, intent and client order id for orders, (order, trade id) for fills.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, bindparam, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.tables import (
    exchange_accounts,
    execution_intents,
    execution_log,
    fills,
    orders,
    positions,
    signals,
    strategies,
    subscriptions,
)
from tradewire.domain.execution import IntentStatus, LogStatus, SubscriptionStatus
from tradewire.domain.money import ZERO, fmt
from tradewire.domain.orders import (
    ExchangeOrder,
    IllegalTransition,
    OrderSide,
    OrderState,
    OrderType,
    Trade,
    next_check_delay_s,
    transition,
)
from tradewire.domain.positions import Position, PositionStatus, position_change
from tradewire.domain.records import (
    NewOrder,
    NewSignal,
    OrderOutcome,
    OrderRecord,
    Rejection,
    SubscriptionTarget,
    WorkItem,
)
from tradewire.domain.risk import RiskLimits
from tradewire.domain.signals import MarketPosition, SignalAction, SignalIntent
from tradewire.domain.sizing import Sizing, SizingMode, SizingParams, TradeStats

log = logging.getLogger("tradewire.store")

OPEN_CHECK_S = 2.0


class SqlStore:
    """Signals, intents, orders, fills, positions and the execution log in one SQL database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- ingest -----------------------------------------------------------------------------------

    def webhook_strategy(self, slug: str) -> tuple[int, str] | None:
        """(strategy id, passphrase hash) for a webhook slug."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(strategies.c.id, strategies.c.passphrase_hash).where(strategies.c.slug == slug)
            ).first()
        return (row.id, row.passphrase_hash) if row else None

    def find_signal(self, strategy_id: int, dedup_keys: Sequence[str]) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(signals.c.id).where(
                    signals.c.strategy_id == strategy_id, signals.c.dedup_key.in_(list(dedup_keys))
                )
            ).scalar()

    def insert_signal(self, signal: NewSignal) -> tuple[int, bool]:
        """Store a signal; returns (id, True), or (first id, False) if the same signal came before."""
        row = {
            "strategy_id": signal.strategy_id,
            "dedup_key": signal.dedup_key,
            "status": "received",
            "action": signal.action.value,
            "ticker": signal.ticker,
            "symbol": signal.symbol,
            "contracts": signal.contracts,
            "price": signal.price,
            "signal_time": signal.signal_time,
            "details": signal.details,
            "received_at": signal.received_at,
        }
        try:
            with write_transaction(self.engine) as conn:
                signal_id = conn.execute(signals.insert().values(row)).inserted_primary_key
                assert signal_id is not None
                return int(signal_id[0]), True
        except IntegrityError:
            existing = self.find_signal(signal.strategy_id, [signal.dedup_key])
            if existing is None:
                raise
            return existing, False

    # -- routing ----------------------------------------------------------------------------------

    def signal_route_info(self, signal_id: int) -> tuple[int, str, str] | None:
        """(strategy id, symbol, status) of a signal."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(signals.c.strategy_id, signals.c.symbol, signals.c.status).where(
                    signals.c.id == signal_id
                )
            ).first()
        return (row.strategy_id, row.symbol, row.status) if row else None

    def active_targets(self, strategy_id: int) -> list[SubscriptionTarget]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    subscriptions.c.id,
                    subscriptions.c.user_id,
                    subscriptions.c.account_id,
                    subscriptions.c.pairs,
                ).where(
                    subscriptions.c.strategy_id == strategy_id,
                    subscriptions.c.status == SubscriptionStatus.ACTIVE.value,
                )
            ).all()
        return [SubscriptionTarget(r.id, r.user_id, r.account_id, r.pairs) for r in rows]

    def create_intents(self, signal_id: int, targets: Sequence[SubscriptionTarget], now: datetime) -> None:
        """One intent per target (repeats are ignored), and the signal marked routed, atomically."""
        rows = [
            {
                "signal_id": signal_id,
                "subscription_id": t.subscription_id,
                "account_id": t.account_id,
                "user_id": t.user_id,
                "status": IntentStatus.CREATED.value,
                "reason": None,
                "created_at": now,
                "updated_at": now,
            }
            for t in targets
        ]
        with write_transaction(self.engine) as conn:
            bulk.insert(conn, execution_intents, rows, ignore_conflicts_on=["signal_id", "subscription_id"])
            conn.execute(
                update(signals)
                .where(signals.c.id == signal_id, signals.c.status == "received")
                .values(status="routed", routed_at=now)
            )

    def unrouted_signal_ids(self, received_before: datetime | None = None) -> list[int]:
        query = select(signals.c.id).where(signals.c.status == "received").order_by(signals.c.id)
        if received_before is not None:
            query = query.where(signals.c.received_at <= received_before)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    # -- execution --------------------------------------------------------------------------------

    def pending_work(
        self, signal_id: int | None = None, created_before: datetime | None = None, limit: int = 5000
    ) -> list[WorkItem]:
        """Intents still in 'created', with their signal, subscription and account."""
        query = (
            select(
                execution_intents.c.id,
                execution_intents.c.signal_id,
                execution_intents.c.subscription_id,
                execution_intents.c.account_id,
                execution_intents.c.user_id,
                exchange_accounts.c.mode,
                exchange_accounts.c.exchange,
                signals.c.symbol,
                signals.c.action,
                signals.c.contracts,
                signals.c.price,
                signals.c.details,
                subscriptions.c.sizing_mode,
                subscriptions.c.sizing_value,
                subscriptions.c.sizing_params,
                subscriptions.c.strategy_id,
                subscriptions.c.risk_limits,
                signals.c.signal_time,
                signals.c.received_at,
            )
            .join(signals, signals.c.id == execution_intents.c.signal_id)
            .join(subscriptions, subscriptions.c.id == execution_intents.c.subscription_id)
            .join(exchange_accounts, exchange_accounts.c.id == execution_intents.c.account_id)
            .where(execution_intents.c.status == IntentStatus.CREATED.value)
            .order_by(execution_intents.c.id)
            .limit(limit)
        )
        if signal_id is not None:
            query = query.where(execution_intents.c.signal_id == signal_id)
        if created_before is not None:
            query = query.where(execution_intents.c.created_at <= created_before)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_work_item(r._mapping) for r in rows]

    def risk_snapshot(
        self, account_ids: Sequence[int], since: datetime
    ) -> tuple[dict[int, int], dict[int, int], dict[int, Decimal]]:
        """(open positions per subscription, open positions per account, net PnL realised since
        `since` per account) for the given accounts."""
        per_subscription: dict[int, int] = {}
        per_account: dict[int, int] = {}
        realized: dict[int, Decimal] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(account_ids)), 900):
                rows = conn.execute(
                    select(positions.c.account_id, positions.c.subscription_id, func.count())
                    .where(positions.c.account_id.in_(chunk), positions.c.status == PositionStatus.OPEN.value)
                    .group_by(positions.c.account_id, positions.c.subscription_id)
                )
                for account_id, subscription_id, count in rows:
                    per_account[account_id] = per_account.get(account_id, 0) + count
                    if subscription_id is not None:
                        per_subscription[subscription_id] = count
                closed = conn.execute(
                    select(positions.c.account_id, positions.c.realized_pnl, positions.c.fees).where(
                        positions.c.account_id.in_(chunk),
                        positions.c.status == PositionStatus.CLOSED.value,
                        positions.c.closed_at >= since,
                    )
                )
                for account_id, pnl, fees in closed:
                    realized[account_id] = realized.get(account_id, ZERO) + pnl - fees
        return per_subscription, per_account, realized

    def strategy_stats(self, strategy_id: int, last: int = 500) -> TradeStats:
        """Wins, losses and average net results of the strategy's last closed positions."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(positions.c.realized_pnl, positions.c.fees)
                .join(subscriptions, subscriptions.c.id == positions.c.subscription_id)
                .where(
                    subscriptions.c.strategy_id == strategy_id,
                    positions.c.status == PositionStatus.CLOSED.value,
                )
                .order_by(positions.c.id.desc())
                .limit(last)
            ).all()
        results = [r.realized_pnl - r.fees for r in rows]
        wins = [x for x in results if x > 0]
        losses = [-x for x in results if x <= 0]
        return TradeStats(
            wins=len(wins),
            losses=len(losses),
            average_win=sum(wins, ZERO) / len(wins) if wins else ZERO,
            average_loss=sum(losses, ZERO) / len(losses) if losses else ZERO,
        )

    def open_position_amounts(self, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Decimal]:
        """Open position size per (subscription id, symbol)."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        result: dict[tuple[int, str], Decimal] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted, 500):
                rows = conn.execute(
                    select(positions.c.subscription_id, positions.c.symbol, positions.c.amount).where(
                        positions.c.status == PositionStatus.OPEN.value,
                        tuple_(positions.c.subscription_id, positions.c.symbol).in_(chunk),
                    )
                )
                result.update({(r.subscription_id, r.symbol): r.amount for r in rows})
        return result

    def save_decisions(
        self, rejections: Sequence[Rejection], new_orders: Sequence[NewOrder], now: datetime
    ) -> list[OrderRecord]:
        """Reject intents with their reasons and store new orders (state NEW), in one transaction."""
        with write_transaction(self.engine) as conn:
            if rejections:
                conn.execute(
                    update(execution_intents)
                    .where(
                        execution_intents.c.id == bindparam("iid"),
                        execution_intents.c.status == IntentStatus.CREATED.value,
                    )
                    .values(status=IntentStatus.REJECTED.value, reason=bindparam("why"), updated_at=now),
                    [{"iid": r.item.intent_id, "why": r.reason} for r in rejections],
                )
                bulk.insert(
                    conn,
                    execution_log,
                    [_log_row(r.item, r.log_status, r.reason, None, r.details, now) for r in rejections],
                )
            if not new_orders:
                return []
            rows = [_order_row(o, now) for o in new_orders]
            bulk.insert(conn, orders, rows, ignore_conflicts_on=["intent_id"])
            for chunk in _chunks([o.item.intent_id for o in new_orders], 900):
                conn.execute(
                    update(execution_intents)
                    .where(
                        execution_intents.c.id.in_(chunk),
                        execution_intents.c.status == IntentStatus.CREATED.value,
                    )
                    .values(status=IntentStatus.ORDERED.value, updated_at=now)
                )
            return self._stored_new_orders(conn, new_orders, now)

    def _stored_new_orders(
        self, conn: Connection, new_orders: Sequence[NewOrder], now: datetime
    ) -> list[OrderRecord]:
        """The records of orders just inserted, built from what we inserted plus their ids; an order
        that already existed for its intent (a repeat after a crash) is read back whole."""
        wanted = {o.item.intent_id: o for o in new_orders}
        ids: dict[int, int] = {}
        existing: list[int] = []
        for chunk in _chunks(list(wanted), 900):
            rows = conn.execute(
                select(orders.c.id, orders.c.intent_id, orders.c.client_order_id, orders.c.state).where(
                    orders.c.intent_id.in_(chunk)
                )
            )
            for order_id, intent_id, client_order_id, state in rows:
                mine = wanted[intent_id]
                if client_order_id == mine.client_order_id and state == OrderState.NEW.value:
                    ids[intent_id] = order_id
                else:
                    existing.append(order_id)
        records = [
            _new_order_record(ids[intent_id], order, now)
            for intent_id, order in wanted.items()
            if intent_id in ids
        ]
        if existing:
            records += self._orders_where(conn, orders.c.id.in_(existing))
        return sorted(records, key=lambda r: r.order_id)

    def claim_for_submission(self, order_ids: Sequence[int], now: datetime) -> set[int]:
        """Move NEW orders to SUBMITTED before they are sent; returns the ids this caller claimed."""
        if not order_ids:
            return set()
        claimed: set[int] = set()
        with write_transaction(self.engine) as conn:
            for chunk in _chunks(list(order_ids), 900):
                result = conn.execute(
                    update(orders)
                    .where(orders.c.id.in_(chunk), orders.c.state == OrderState.NEW.value)
                    .values(
                        state=OrderState.SUBMITTED.value,
                        updated_at=now,
                        next_check_at=now + timedelta(seconds=next_check_delay_s(0)),
                    )
                    .returning(orders.c.id)
                )
                claimed.update(result.scalars())
        return claimed

    def orders_in_states(self, states: Sequence[OrderState]) -> list[OrderRecord]:
        with self.engine.connect() as conn:
            return self._orders_where(conn, orders.c.state.in_([s.value for s in states]))

    def unsettled_orders(self, account_id: int | None = None) -> list[OrderRecord]:
        """Every order not yet in a final state (of one account, or all)."""
        unsettled = [OrderState.SUBMITTED, OrderState.OPEN, OrderState.PARTIALLY_FILLED]
        condition: ColumnElement[bool] = orders.c.state.in_([s.value for s in unsettled])
        if account_id is not None:
            condition = and_(condition, orders.c.account_id == account_id)
        with self.engine.connect() as conn:
            return self._orders_where(conn, condition)

    def orders_by_client_ids(self, account_id: int, client_order_ids: Sequence[str]) -> list[OrderRecord]:
        """The account's orders with these client order ids."""
        if not client_order_ids:
            return []
        with self.engine.connect() as conn:
            return self._orders_where(
                conn,
                and_(orders.c.account_id == account_id, orders.c.client_order_id.in_(list(client_order_ids))),
            )

    def due_orders(self, now: datetime, limit: int = 1000) -> list[OrderRecord]:
        """Non-terminal orders whose next status check is due."""
        with self.engine.connect() as conn:
            return self._orders_where(
                conn,
                orders.c.next_check_at.is_not(None) & (orders.c.next_check_at <= now),
                limit=limit,
            )

    def _orders_where(self, conn: Connection, condition: Any, limit: int | None = None) -> list[OrderRecord]:
        query = (
            select(orders, exchange_accounts.c.exchange, execution_intents.c.signal_id)
            .join(exchange_accounts, exchange_accounts.c.id == orders.c.account_id)
            .outerjoin(execution_intents, execution_intents.c.id == orders.c.intent_id)
            .where(condition)
            .order_by(orders.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return [_order_record(r._mapping) for r in conn.execute(query)]

    def record_outcomes(self, outcomes: Sequence[OrderOutcome], now: datetime) -> None:
        """Apply what exchanges said: order states, new fills, positions, log and intents, atomically."""
        if not outcomes:
            return
        with write_transaction(self.engine) as conn:
            _Recorder(conn, now).apply(outcomes)


@dataclass
class _StoredOrder:
    """An order's recorded state and fill totals, kept current while one batch is applied."""

    state: OrderState
    filled: Decimal
    cost: Decimal  # Σ amount × price of the recorded fills
    fee: Decimal
    fee_currency: str | None

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.filled if self.filled else None

    def add(self, trade: Trade) -> None:
        self.filled += trade.amount
        self.cost += trade.amount * trade.price
        self.fee += trade.fee
        self.fee_currency = self.fee_currency or trade.fee_currency or None


def _new_fills(
    order_id: int, stored: _StoredOrder, view: ExchangeOrder, seen: set[tuple[int, str]]
) -> list[Trade]:
    """The fills of `view` not yet recorded, never more in total than the exchange says is filled.

    Exchanges that list an order's trades give them with their ids; where they only report the
    cumulative fill (ccxt's `filled` / `average` / `fee`), the increment since the last record becomes
    one fill whose id is the cumulative amount, so seeing the same state twice records nothing.
    """
    fresh: list[Trade] = []
    total = stored.filled
    for trade in view.trades:
        if (order_id, trade.trade_id) in seen or total + trade.amount > view.filled:
            continue
        seen.add((order_id, trade.trade_id))
        fresh.append(trade)
        total += trade.amount
    missing = view.filled - total
    if missing > 0 and view.average is not None:
        cost_so_far = stored.cost + sum((t.amount * t.price for t in fresh), ZERO)
        fee_so_far = stored.fee + sum((t.fee for t in fresh), ZERO)
        trade_id = f"cum:{fmt(view.filled)}"
        if (order_id, trade_id) not in seen:
            seen.add((order_id, trade_id))
            fresh.append(
                Trade(
                    trade_id=trade_id,
                    amount=missing,
                    price=(view.average * view.filled - cost_so_far) / missing,
                    fee=max(ZERO, (view.fee or ZERO) - fee_so_far),
                    fee_currency=view.fee_currency or "",
                    timestamp_ms=0,
                )
            )
    return fresh


class _Recorder:
    """One transaction's worth of order outcomes."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.order_updates: list[dict[str, Any]] = []
        self.fill_rows: list[dict[str, Any]] = []
        self.log_rows: list[dict[str, Any]] = []
        self.intent_updates: list[dict[str, Any]] = []
        self.position_fills: list[tuple[OrderRecord, Trade, Decimal | None]] = []

    def apply(self, outcomes: Sequence[OrderOutcome]) -> None:
        order_ids = [o.order.order_id for o in outcomes]
        stored = self._stored_orders(order_ids)
        seen_trades = self._stored_trades(order_ids)
        for outcome in outcomes:
            current = stored.get(outcome.order.order_id)
            if current is not None:
                self._one(outcome.order, current, outcome, seen_trades)
        self._write()

    def _one(
        self, order: OrderRecord, stored: _StoredOrder, outcome: OrderOutcome, seen: set[tuple[int, str]]
    ) -> None:
        """Apply one outcome to the order as the database has it now (the record may be older)."""
        state = stored.state
        if outcome.unknown_reason is not None:
            attempts = order.check_attempts + 1
            self.order_updates.append(
                _order_update(order.order_id, state, attempts, self.now, outcome.unknown_reason)
            )
            if order.check_attempts == 0:
                self._log(order, LogStatus.PENDING, outcome.unknown_reason, outcome.response)
            return
        view = outcome.exchange_order
        if outcome.rejected_reason is not None or view is None:
            reason = outcome.rejected_reason or "rejected by the exchange"
            if not _allowed(order, state, OrderState.REJECTED):
                return
            self.order_updates.append(
                _order_update(order.order_id, OrderState.REJECTED, order.check_attempts, self.now, reason)
            )
            stored.state = OrderState.REJECTED
            self._log(order, LogStatus.FAILED, reason, outcome.response)
            self._intent(order, IntentStatus.FAILED, reason)
            return
        target = view.state
        if not _allowed(order, state, target):
            return
        for trade in _new_fills(order.order_id, stored, view, seen):
            self.fill_rows.append(
                {
                    "order_id": order.order_id,
                    "account_id": order.account_id,
                    "trade_id": trade.trade_id,
                    "amount": trade.amount,
                    "price": trade.price,
                    "fee": trade.fee,
                    "fee_currency": trade.fee_currency,
                    "executed_at": datetime.fromtimestamp(trade.timestamp_ms / 1000, tz=UTC)
                    if trade.timestamp_ms
                    else self.now,
                }
            )
            self.position_fills.append((order, trade, outcome.min_sellable))
            stored.add(trade)
        row = _order_update(order.order_id, target, order.check_attempts + 1, self.now, view.reason)
        row.update(
            exchange_order_id=view.exchange_order_id,
            filled=stored.filled,
            average=stored.average,
            fee=stored.fee,
            fee_currency=stored.fee_currency,
        )
        self.order_updates.append(row)
        stored.state = target
        if target != state:
            status, text = _log_verdict(target, view)
            if order.sizing_note and state in (OrderState.NEW, OrderState.SUBMITTED):
                text = f"{text}; sized: {order.sizing_note}"
            self._log(order, status, text, outcome.response)
            if target.is_terminal:
                self._intent(order, IntentStatus.FAILED if view.filled == 0 else IntentStatus.DONE, text)

    def _log(self, order: OrderRecord, status: LogStatus, reason: str, response: dict[str, Any]) -> None:
        self.log_rows.append(
            {
                "intent_id": order.intent_id,
                "signal_id": order.signal_id,
                "subscription_id": order.subscription_id,
                "account_id": order.account_id,
                "user_id": order.user_id,
                "order_id": order.order_id,
                "status": status.value,
                "reason": reason,
                "exchange_response": response or None,
                "created_at": self.now,
            }
        )

    def _intent(self, order: OrderRecord, status: IntentStatus, reason: str) -> None:
        if order.intent_id is not None:
            self.intent_updates.append({"iid": order.intent_id, "st": status.value, "why": reason})

    def _stored_orders(self, order_ids: list[int]) -> dict[int, _StoredOrder]:
        result: dict[int, _StoredOrder] = {}
        columns = (
            orders.c.id,
            orders.c.state,
            orders.c.filled,
            orders.c.average,
            orders.c.fee,
            orders.c.fee_currency,
        )
        for chunk in _chunks(order_ids, 900):
            for r in self.conn.execute(select(*columns).where(orders.c.id.in_(chunk))):
                result[r.id] = _StoredOrder(
                    OrderState(r.state), r.filled, (r.average or ZERO) * r.filled, r.fee, r.fee_currency
                )
        return result

    def _stored_trades(self, order_ids: list[int]) -> set[tuple[int, str]]:
        seen: set[tuple[int, str]] = set()
        for chunk in _chunks(order_ids, 900):
            rows = self.conn.execute(
                select(fills.c.order_id, fills.c.trade_id).where(fills.c.order_id.in_(chunk))
            )
            seen.update((r.order_id, r.trade_id) for r in rows)
        return seen

    def _write(self) -> None:
        conn = self.conn
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in self.order_updates:
            groups.setdefault(tuple(row), []).append(row)
        for rows in groups.values():
            bulk.update_by(conn, orders, "id", rows)
        bulk.insert(conn, fills, self.fill_rows)
        self._apply_positions()
        bulk.insert(conn, execution_log, self.log_rows)
        done = [u["iid"] for u in self.intent_updates if u["st"] == IntentStatus.DONE.value]
        failed = [u for u in self.intent_updates if u["st"] != IntentStatus.DONE.value]
        for chunk in _chunks(done, 900):
            # The fill is in the execution log; the intent only records that it is done.
            conn.execute(
                update(execution_intents)
                .where(execution_intents.c.id.in_(chunk))
                .values(status=IntentStatus.DONE.value, updated_at=self.now)
            )
        if failed:
            conn.execute(
                update(execution_intents)
                .where(execution_intents.c.id == bindparam("iid"))
                .values(status=bindparam("st"), reason=bindparam("why"), updated_at=self.now),
                failed,
            )

    def _apply_positions(self) -> None:
        if not self.position_fills:
            return
        keys = {(o.subscription_id, o.symbol) for o, *_ in self.position_fills}
        existing: dict[tuple[int | None, str], tuple[int, Position]] = {}
        for chunk in _chunks(sorted(keys, key=lambda k: (k[0] or 0, k[1])), 500):
            rows = self.conn.execute(
                select(positions).where(
                    positions.c.status == PositionStatus.OPEN.value,
                    tuple_(positions.c.subscription_id, positions.c.symbol).in_(chunk),
                )
            )
            for r in rows:
                existing[(r.subscription_id, r.symbol)] = (r.id, _position(r._mapping))
        touched: dict[tuple[int | None, str], tuple[int | None, Position, OrderRecord]] = {}
        for order, trade, min_sellable in self.position_fills:
            key = (order.subscription_id, order.symbol)
            amount, fee = position_change(
                order.side, trade.amount, trade.price, trade.fee, trade.fee_currency, order.symbol
            )
            position_id, position, _ = touched.get(key) or (
                *existing.get(key, (None, Position(order.symbol))),
                order,
            )
            if order.side is OrderSide.SELL and amount > position.amount:
                log.error(
                    "order %s sold %s %s but position holds %s; position left unchanged",
                    order.client_order_id,
                    amount,
                    order.symbol,
                    position.amount,
                )
                continue
            changed = position.apply_fill(order.side, amount, trade.price, fee)
            if order.side is OrderSide.SELL:
                changed = changed.settle_dust(min_sellable)
            touched[key] = (position_id, changed, order)
        inserts, updates = [], []
        for (_, _symbol), (position_id, position, order) in touched.items():
            row = _position_row(position, self.now)
            if position_id is None:
                row.update(
                    account_id=order.account_id,
                    subscription_id=order.subscription_id,
                    user_id=order.user_id,
                    mode=order.mode,
                    symbol=position.symbol,
                    side="long",
                    opened_at=self.now,
                )
                inserts.append(row)
            else:
                row["id"] = position_id
                updates.append(row)
        bulk.insert(self.conn, positions, inserts)
        bulk.update_by(self.conn, positions, "id", updates)


def _allowed(order: OrderRecord, state: OrderState, target: OrderState) -> bool:
    try:
        transition(state, target)
    except IllegalTransition as exc:
        log.warning(
            "order %s (client %s): %s; keeping %s", order.order_id, order.client_order_id, exc, state.value
        )
        return False
    return True


def _log_verdict(state: OrderState, view: Any) -> tuple[LogStatus, str]:
    filled = fmt(view.filled)
    average = fmt(view.average) if view.average is not None else "-"
    if state is OrderState.FILLED:
        return LogStatus.SUCCESS, f"filled {filled} {view.symbol} at {average}"
    if state is OrderState.PARTIALLY_FILLED:
        return (
            LogStatus.PARTIAL,
            f"partially filled {filled} of {fmt(view.amount)} {view.symbol} at {average}",
        )
    if state is OrderState.OPEN:
        return LogStatus.SUCCESS, f"order open on the exchange for {fmt(view.amount)} {view.symbol}"
    if view.filled > 0:
        return LogStatus.PARTIAL, f"{state.value} after filling {filled} of {fmt(view.amount)} {view.symbol}"
    return LogStatus.FAILED, f"{state.value}: {view.reason or 'no fill'}"


def _order_update(
    order_id: int, state: OrderState, attempts: int, now: datetime, reason: str | None
) -> dict[str, Any]:
    next_check = None
    if not state.is_terminal:
        resting = state in (OrderState.OPEN, OrderState.PARTIALLY_FILLED)
        next_check = now + timedelta(seconds=OPEN_CHECK_S if resting else next_check_delay_s(attempts))
    return {
        "id": order_id,
        "state": state.value,
        "check_attempts": attempts,
        "next_check_at": next_check,
        "updated_at": now,
        "reason": reason,
    }


def _work_item(r: Any) -> WorkItem:
    details = r["details"] or {}
    intent = SignalIntent(
        action=SignalAction(r["action"]),
        ticker=details.get("ticker", ""),
        market_position=_market_position(details.get("market_position")),
        market_position_size=_decimal(details.get("market_position_size")),
        prev_market_position_size=_decimal(details.get("prev_market_position_size")),
    )
    return WorkItem(
        intent_id=r["id"],
        signal_id=r["signal_id"],
        subscription_id=r["subscription_id"],
        account_id=r["account_id"],
        user_id=r["user_id"],
        mode=r["mode"],
        exchange=r["exchange"],
        symbol=r["symbol"],
        action=intent.action,
        contracts=r["contracts"],
        signal_price=r["price"],
        market_position=intent.market_position,
        exit_ratio=intent.exit_ratio,
        sizing=Sizing(
            SizingMode(r["sizing_mode"]), r["sizing_value"], SizingParams.from_json(r["sizing_params"])
        ),
        strategy_id=r["strategy_id"],
        risk=RiskLimits.from_json(r["risk_limits"]),
        signal_at=r["signal_time"] or r["received_at"],
    )


def _market_position(value: Any) -> MarketPosition | None:
    return MarketPosition(value) if value else None


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _order_row(order: NewOrder, now: datetime) -> dict[str, Any]:
    item = order.item
    return {
        "intent_id": item.intent_id,
        "account_id": item.account_id,
        "subscription_id": item.subscription_id,
        "user_id": item.user_id,
        "mode": item.mode,
        "client_order_id": order.client_order_id,
        "exchange_order_id": None,
        "symbol": item.symbol,
        "side": order.side.value,
        "type": order.type.value,
        "amount": order.amount,
        "price": order.price,
        "state": OrderState.NEW.value,
        "filled": ZERO,
        "average": None,
        "fee": ZERO,
        "fee_currency": None,
        "reason": None,
        "created_at": now,
        "updated_at": now,
        "next_check_at": now,
        "check_attempts": 0,
        "sizing_note": order.sizing_note,
    }


def _new_order_record(order_id: int, order: NewOrder, now: datetime) -> OrderRecord:
    item = order.item
    return OrderRecord(
        order_id=order_id,
        intent_id=item.intent_id,
        account_id=item.account_id,
        subscription_id=item.subscription_id,
        user_id=item.user_id,
        mode=item.mode,
        exchange=item.exchange,
        client_order_id=order.client_order_id,
        symbol=item.symbol,
        side=order.side,
        type=order.type,
        amount=order.amount,
        price=order.price,
        state=OrderState.NEW,
        check_attempts=0,
        signal_id=item.signal_id,
        created_at=now,
        sizing_note=order.sizing_note,
    )


def _order_record(r: Any) -> OrderRecord:
    return OrderRecord(
        order_id=r["id"],
        intent_id=r["intent_id"],
        account_id=r["account_id"],
        subscription_id=r["subscription_id"],
        user_id=r["user_id"],
        mode=r["mode"],
        exchange=r["exchange"],
        client_order_id=r["client_order_id"],
        symbol=r["symbol"],
        side=OrderSide(r["side"]),
        type=OrderType(r["type"]),
        amount=r["amount"],
        price=r["price"],
        state=OrderState(r["state"]),
        check_attempts=r["check_attempts"],
        signal_id=r["signal_id"],
        created_at=r["created_at"],
        sizing_note=r["sizing_note"],
    )


def _log_row(
    item: WorkItem, status: LogStatus, reason: str, order_id: int | None, response: Any, now: datetime
) -> dict[str, Any]:
    return {
        "intent_id": item.intent_id,
        "signal_id": item.signal_id,
        "subscription_id": item.subscription_id,
        "account_id": item.account_id,
        "user_id": item.user_id,
        "order_id": order_id,
        "status": status.value,
        "reason": reason,
        "exchange_response": response,
        "created_at": now,
    }


def _position(r: Any) -> Position:
    return Position(
        symbol=r["symbol"],
        amount=r["amount"],
        avg_entry=r["avg_entry"],
        cost_basis=r["cost_basis"],
        realized_pnl=r["realized_pnl"],
        fees=r["fees"],
        status=PositionStatus(r["status"]),
    )


def _position_row(p: Position, now: datetime) -> dict[str, Any]:
    return {
        "status": p.status.value,
        "amount": p.amount,
        "avg_entry": p.avg_entry,
        "cost_basis": p.cost_basis,
        "realized_pnl": p.realized_pnl,
        "fees": p.fees,
        "close_reason": p.close_reason.value if p.close_reason else None,
        "closed_at": now if p.status is PositionStatus.CLOSED else None,
        "updated_at": now,
    }


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
