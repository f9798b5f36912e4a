"""The execution pipeline's persistence: batched, transactional, idempotent.

Every method is synchronous and runs one transaction; the services call them from a worker thread.
Unique keys make every write safe to repeat: (strategy, dedup key) for signals, (signal,
subscription) for intents, intent and client order id for orders, (order, trade id) for fills.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from tradewire.adapters.store import bulk
from tradewire.adapters.store.attempts import (
    attempts_made,
    lock_open_positions,
    may_still_fill,
    positions_with_live_attempts,
)
from tradewire.adapters.store.bulk import chunks as _chunks
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.settlement import log_row, settle, stored_rejection
from tradewire.adapters.store.tables import (
    account_daily_pnl,
    exchange_accounts,
    execution_intents,
    execution_log,
    orders,
    positions,
    signals,
    strategies,
    strategy_pairs,
    subscriptions,
)
from tradewire.domain.client_ids import position_client_order_id
from tradewire.domain.entry_order import EntryOrder
from tradewire.domain.execution import IntentStatus, LogStatus, SubscriptionStatus
from tradewire.domain.exit_plan import ExitPlan
from tradewire.domain.exits import ExitRules
from tradewire.domain.money import ZERO
from tradewire.domain.orders import (
    LATE_FILL_CHECKS_S,
    TERMINAL_STATES,
    OrderSide,
    OrderState,
    OrderType,
    RejectionKind,
    next_check_delay_s,
)
from tradewire.domain.positions import CloseReason, PositionStatus
from tradewire.domain.records import (
    AutoOrder,
    FailedAttempt,
    LiveVenue,
    NewOrder,
    NewSignal,
    OrderOutcome,
    OrderRecord,
    Rejection,
    RiskSnapshot,
    StrategyVenues,
    SubscriptionTarget,
    UnreadableWork,
    WatchedPosition,
    WorkItem,
)
from tradewire.domain.risk import RiskLimits, TradingState, allows
from tradewire.domain.signals import MarketPosition, SignalAction, SignalIntent
from tradewire.domain.sizing import Sizing, SizingMode, SizingParams, TradeStats
from tradewire.domain.track_record import PairRecord, PairStatus, StrategyCurve
from tradewire.domain.tranches import DcaPlan, PositionPhase, Tranche

log = logging.getLogger("tradewire.store")


_ACTIVE_SUBSCRIPTIONS = subscriptions.join(
    exchange_accounts, exchange_accounts.c.id == subscriptions.c.account_id
)
_OF_STRATEGY = and_(
    subscriptions.c.strategy_id == bindparam("strategy_id"),
    subscriptions.c.status == SubscriptionStatus.ACTIVE.value,
)
_PAPER_SUBSCRIBER = (
    select(subscriptions.c.id)
    .select_from(_ACTIVE_SUBSCRIPTIONS)
    .where(_OF_STRATEGY, exchange_accounts.c.mode == "paper")
    .limit(1)
)
_LIVE_SUBSCRIBERS = (
    select(
        exchange_accounts.c.id,
        exchange_accounts.c.exchange,
        exchange_accounts.c.sandbox,
        exchange_accounts.c.api_urls,
    )
    .select_from(_ACTIVE_SUBSCRIPTIONS)
    .where(_OF_STRATEGY, exchange_accounts.c.mode == "live")
    .order_by(exchange_accounts.c.id)
)


class SqlStore:
    """Signals, intents, orders, fills, positions and the execution log in one SQL database."""

    def __init__(self, engine: Engine, late_fill_checks_s: Sequence[float] = LATE_FILL_CHECKS_S) -> None:
        self.engine = engine
        # When an order seen canceled or expired is checked again for fills reported late.
        self._late_fill_checks = tuple(late_fill_checks_s)

    # -- ingest -----------------------------------------------------------------------------------

    def webhook_strategy(self, slug: str) -> tuple[int, str] | None:
        """(strategy id, passphrase hash) for a webhook slug."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(strategies.c.id, strategies.c.passphrase_hash).where(
                    strategies.c.slug == slug, strategies.c.source == "tradingview"
                )
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
        row = _signal_row(signal)
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

    def insert_signal_in_window(self, signal: NewSignal, content_key: str) -> tuple[int, bool]:
        """Store a signal unless one with the same content was stored at most the strategy's
        `dedup_window_s` seconds before it; returns (id, True) or (that earlier id, False).

        The window slides exactly from each stored signal (not from clock buckets). The strategy's row
        is locked for the check and the insert, so two deliveries of one alert at the same moment
        cannot both pass the check (SQLite serialises writers already).
        """
        with write_transaction(self.engine) as conn:
            window_s = conn.execute(
                select(strategies.c.dedup_window_s)
                .where(strategies.c.id == signal.strategy_id)
                .with_for_update()
            ).scalar_one()
            earlier = conn.execute(
                select(signals.c.id)
                .where(
                    signals.c.strategy_id == signal.strategy_id,
                    signals.c.content_key == content_key,
                    signals.c.received_at >= signal.received_at - timedelta(seconds=window_s),
                )
                .order_by(signals.c.received_at.desc())
                .limit(1)
            ).scalar()
            if earlier is not None:
                return int(earlier), False
            key = conn.execute(
                signals.insert().values({**_signal_row(signal), "content_key": content_key})
            ).inserted_primary_key
            assert key is not None
            return int(key[0]), True

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

    def strategy_venues(self, strategy_id: int) -> StrategyVenues:
        """Where the strategy's active subscribers trade: whether any is on paper (one row at most,
        however many), and each live account. Asked on every webhook: the statements are built once."""
        with self.engine.connect() as conn:
            paper = conn.execute(_PAPER_SUBSCRIBER, {"strategy_id": strategy_id}).first()
            live = conn.execute(_LIVE_SUBSCRIBERS, {"strategy_id": strategy_id}).all()
        return StrategyVenues(paper is not None, tuple(_live_venue(r) for r in live))

    def live_venues_in_use(self) -> list[LiveVenue]:
        """Every live account with an active subscription (their market lists are kept loaded)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    exchange_accounts.c.id,
                    exchange_accounts.c.exchange,
                    exchange_accounts.c.sandbox,
                    exchange_accounts.c.api_urls,
                )
                .where(
                    exchange_accounts.c.mode == "live",
                    exchange_accounts.c.id.in_(
                        select(subscriptions.c.account_id).where(
                            subscriptions.c.status == SubscriptionStatus.ACTIVE.value
                        )
                    ),
                )
                .order_by(exchange_accounts.c.id)
            ).all()
        return [_live_venue(r) for r in rows]

    def signal_ticker(self, signal_id: int) -> str | None:
        """The ticker a signal arrived with."""
        with self.engine.connect() as conn:
            found: str | None = conn.execute(
                select(signals.c.ticker).where(signals.c.id == signal_id)
            ).scalar()
        return found

    def resolve_signal(self, signal_id: int, symbol: str) -> None:
        """Give a signal stored before its ticker could be resolved the symbol it resolved to."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(signals)
                .where(signals.c.id == signal_id, signals.c.symbol == "", signals.c.status == "received")
                .values(symbol=symbol)
            )

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

    def create_intents(
        self,
        signal_id: int,
        targets: Sequence[SubscriptionTarget],
        now: datetime,
        market_price: Decimal | None = None,
        status: str = "routed",
    ) -> None:
        """One intent per target (repeats are ignored), the signal marked routed and counted in its
        strategy's track record (at its own price, else `market_price`), atomically and once.

        A signal whose ticker no venue resolved is marked `status` 'unresolved' and not counted."""
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
            routed = conn.execute(
                update(signals)
                .where(signals.c.id == signal_id, signals.c.status == "received")
                .values(status=status, routed_at=now)
            )
            if routed.rowcount == 1 and status == "routed":
                try:
                    # The strategy's statistics never hold up its subscribers' trades: a track-record
                    # update that fails (an old row's absurd price overflowing the column) is skipped.
                    with conn.begin_nested():
                        _track(conn, signal_id, market_price, now)
                except Exception:
                    log.exception("signal %s: not counted in the track record", signal_id)

    def strategy_definitions(self) -> list[tuple[int, dict[str, Any]]]:
        """(id, definition) of every strategy the platform runs itself (indicator strategies, bots)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(strategies.c.id, strategies.c.definition)
                .where(strategies.c.definition.is_not(None))
                .order_by(strategies.c.id)
            )
            return [(r.id, r.definition) for r in rows if r.definition]

    def last_signal_at(self, strategy_id: int, symbol: str) -> datetime | None:
        """When the strategy last signalled on the pair (its cooldown starts there)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(signals.c.received_at)
                .where(signals.c.strategy_id == strategy_id, signals.c.symbol == symbol)
                .order_by(signals.c.id.desc())
                .limit(1)
            ).scalar()
        return found

    def unrouted_signal_ids(self, received_before: datetime | None = None) -> list[int]:
        query = select(signals.c.id).where(signals.c.status == "received").order_by(signals.c.id)
        if received_before is not None:
            query = query.where(signals.c.received_at <= received_before)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def routing_failed(self, signal_id: int, reason: str, attempts_allowed: int, now: datetime) -> bool:
        """Count a failed routing attempt; at `attempts_allowed` the signal is marked failed with the
        reason and no longer swept. Returns True when it was marked failed."""
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                update(signals)
                .where(signals.c.id == signal_id, signals.c.status == "received")
                .values(attempts=signals.c.attempts + 1, reason=_bounded_reason(reason))
                .returning(signals.c.attempts)
            ).first()
            if row is None or row.attempts < attempts_allowed:
                return False
            conn.execute(
                update(signals)
                .where(signals.c.id == signal_id)
                .values(
                    status="failed",
                    reason=_bounded_reason(f"routing failed {row.attempts} times; last: {reason}"),
                )
            )
            return True

    # -- execution --------------------------------------------------------------------------------

    def pending_work(
        self, signal_id: int | None = None, created_before: datetime | None = None, limit: int = 5000
    ) -> list[WorkItem]:
        """Intents still in 'created', with their signal, subscription and account (readable ones)."""
        work, _unreadable = self._pending(signal_id, created_before, 0, limit)
        return work

    def pending_work_page(
        self, signal_id: int | None = None, after_id: int = 0, limit: int = 5000
    ) -> tuple[list[WorkItem], list[UnreadableWork]]:
        """Up to `limit` intents in 'created' with an id above `after_id`, in id order: the readable
        ones as WorkItems, and those whose rows cannot be read (so one bad row fails alone)."""
        return self._pending(signal_id, None, after_id, limit)

    def _pending(
        self, signal_id: int | None, created_before: datetime | None, after_id: int, limit: int
    ) -> tuple[list[WorkItem], list[UnreadableWork]]:
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
                signals.c.ticker,
                signals.c.action,
                signals.c.contracts,
                signals.c.price,
                signals.c.details,
                subscriptions.c.sizing_mode,
                subscriptions.c.sizing_value,
                subscriptions.c.sizing_params,
                subscriptions.c.strategy_id,
                subscriptions.c.risk_limits,
                subscriptions.c.exit_rules,
                subscriptions.c.dca,
                subscriptions.c.entry_order,
                subscriptions.c.trading_state,
                subscriptions.c.pnl_total,
                subscriptions.c.pnl_peak,
                strategies.c.track_index,
                strategies.c.track_peak,
                signals.c.signal_time,
                signals.c.received_at,
                execution_intents.c.attempts,
            )
            .join(signals, signals.c.id == execution_intents.c.signal_id)
            .join(subscriptions, subscriptions.c.id == execution_intents.c.subscription_id)
            .join(strategies, strategies.c.id == subscriptions.c.strategy_id)
            .join(exchange_accounts, exchange_accounts.c.id == execution_intents.c.account_id)
            .where(
                execution_intents.c.status == IntentStatus.CREATED.value,
                execution_intents.c.id > after_id,
            )
            .order_by(execution_intents.c.id)
            .limit(limit)
        )
        if signal_id is not None:
            query = query.where(execution_intents.c.signal_id == signal_id)
        if created_before is not None:
            query = query.where(execution_intents.c.created_at <= created_before)
        with self.engine.connect() as conn:
            rows = _readable_rows(conn, query, execution_intents.c.id)
        work: list[WorkItem] = []
        unreadable: list[UnreadableWork] = []
        for intent_id, row in rows:
            if isinstance(row, str):
                unreadable.append(UnreadableWork(intent_id, row))
                continue
            try:
                work.append(_work_item(row._mapping))
            except Exception as exc:  # a row an older version (or a hand) wrote: it fails alone
                unreadable.append(UnreadableWork(intent_id, f"stored intent cannot be read: {_error(exc)}"))
        return work, unreadable

    def risk_snapshot(
        self,
        account_ids: Sequence[int],
        day: str,
        pair_keys: Sequence[tuple[int, str]] = (),
        strategy_pairs_keys: Sequence[tuple[int, str]] = (),
    ) -> RiskSnapshot:
        """Open positions per subscription and account (and their symbols), net results of the UTC
        `day` per account, the last trade per (subscription, symbol) in `pair_keys`, and the
        strategies' pair records for `strategy_pairs_keys`."""
        snap = RiskSnapshot()
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(account_ids)), 900):
                rows = conn.execute(
                    select(positions.c.account_id, positions.c.subscription_id, positions.c.symbol).where(
                        positions.c.account_id.in_(chunk), positions.c.status == PositionStatus.OPEN.value
                    )
                )
                for account_id, subscription_id, symbol in rows:
                    snap.per_account[account_id] = snap.per_account.get(account_id, 0) + 1
                    snap.open_symbols.setdefault(account_id, []).append(symbol)
                    if subscription_id is not None:
                        snap.per_subscription[subscription_id] = (
                            snap.per_subscription.get(subscription_id, 0) + 1
                        )
                daily = conn.execute(
                    select(account_daily_pnl.c.account_id, account_daily_pnl.c.pnl).where(
                        account_daily_pnl.c.account_id.in_(chunk), account_daily_pnl.c.day == day
                    )
                )
                snap.realized_today.update({a: pnl for a, pnl in daily})
            for keys in _chunks(sorted(set(pair_keys)), 450):
                rows = conn.execute(
                    select(positions.c.subscription_id, positions.c.symbol, func.max(positions.c.updated_at))
                    .where(tuple_(positions.c.subscription_id, positions.c.symbol).in_(keys))
                    .group_by(positions.c.subscription_id, positions.c.symbol)
                )
                for subscription_id, symbol, last in rows:
                    if last is not None:  # MAX() bypasses the column type on SQLite
                        snap.last_trade[(subscription_id, symbol)] = _utc(last)
            for keys in _chunks(sorted(set(strategy_pairs_keys)), 450):
                rows = conn.execute(
                    select(strategy_pairs).where(
                        tuple_(strategy_pairs.c.strategy_id, strategy_pairs.c.symbol).in_(keys)
                    )
                )
                for r in rows:
                    snap.pairs[(r.strategy_id, r.symbol)] = pair_record(r._mapping)
        return snap

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

    def exits_in_flight(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        """(subscription, symbol) pairs whose position has an automated exit order that may still
        fill: unsettled, or canceled or concluded lost and still looked up for a late fill."""
        wanted = sorted(set(keys))
        found: set[tuple[int, str]] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(wanted, 450):
                rows = conn.execute(
                    select(orders.c.subscription_id, orders.c.symbol).where(
                        orders.c.position_id.is_not(None),
                        orders.c.side == OrderSide.SELL.value,
                        may_still_fill(),
                        tuple_(orders.c.subscription_id, orders.c.symbol).in_(chunk),
                    )
                )
                found.update((r.subscription_id, r.symbol) for r in rows)
        return found

    def save_decisions(
        self,
        rejections: Sequence[Rejection],
        new_orders: Sequence[NewOrder],
        now: datetime,
        failures: Sequence[FailedAttempt] = (),
    ) -> list[OrderRecord]:
        """Reject intents with their reasons, count failed attempts (a final one marks the intent
        failed and logs it), and store new orders (state NEW), in one transaction."""
        with write_transaction(self.engine) as conn:
            if failures:
                _record_failures(conn, failures, now)
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
                    [log_row(r.item, r.log_status, r.reason, None, r.details, now) for r in rejections],
                )
                pauses = {r.item.subscription_id: r.pause_reason for r in rejections if r.pause_reason}
                for subscription_id, why in pauses.items():
                    conn.execute(
                        update(subscriptions)
                        .where(
                            subscriptions.c.id == subscription_id,
                            subscriptions.c.trading_state == TradingState.ACTIVE.value,
                        )
                        .values(trading_state=TradingState.REDUCING.value, state_reason=why, updated_at=now)
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
        """Move NEW orders to SUBMITTED before they are sent; returns the ids this caller claimed.

        The subscription's trading state is read in the same transaction: an order stored before its
        subscription was set HALTED (or REDUCING, for an entry) is not sent but rejected with the
        reason, and its intent fails, however long it waited (a crash, a restart, a busy executor)."""
        if not order_ids:
            return set()
        claimed: set[int] = set()
        with write_transaction(self.engine) as conn:
            for chunk in _chunks(sorted(set(order_ids)), 900):
                # One statement claims every order its subscription allows now (all of them, but for a
                # paused subscription); only the rest are read, refused with the reason, or claimed.
                mine = self._claim(conn, chunk, now, _allowed_by_trading_state())
                claimed |= mine
                rest = [order_id for order_id in chunk if order_id not in mine]
                if rest:
                    refused = self._refused_by_trading_state(conn, rest, now)
                    claimed |= self._claim(conn, [i for i in rest if i not in refused], now)
        return claimed

    @staticmethod
    def _claim(
        conn: Connection, order_ids: Sequence[int], now: datetime, *conditions: ColumnElement[bool]
    ) -> set[int]:
        if not order_ids:
            return set()
        result = conn.execute(
            update(orders)
            .where(orders.c.id.in_(order_ids), orders.c.state == OrderState.NEW.value, *conditions)
            .values(
                state=OrderState.SUBMITTED.value,
                updated_at=now,
                next_check_at=now + timedelta(seconds=next_check_delay_s(0)),
            )
            .returning(orders.c.id)
        )
        return set(result.scalars())

    def _refused_by_trading_state(
        self, conn: Connection, order_ids: Sequence[int], now: datetime
    ) -> set[int]:
        """Reject the NEW orders among `order_ids` that their subscription's trading state forbids
        now (locked, so no other caller sends them meanwhile); returns their ids."""
        rows = conn.execute(
            select(orders.c.id, orders.c.side, subscriptions.c.trading_state)
            .select_from(orders.outerjoin(subscriptions, subscriptions.c.id == orders.c.subscription_id))
            .where(orders.c.id.in_(order_ids), orders.c.state == OrderState.NEW.value)
            .order_by(orders.c.id)
            .with_for_update(of=orders)
        ).all()
        why: dict[int, str] = {}
        for order_id, side, stored_state in rows:
            if stored_state is None:  # an order without a subscription: nothing to obey
                continue
            state = _trading_state(stored_state)
            if not allows(state, entry=side == OrderSide.BUY.value):
                rule = "no orders at all" if state is TradingState.HALTED else "exits only, no entries"
                why[order_id] = f"not sent: subscription {state.value} ({rule})"
        if not why:
            return set()
        records = self._orders_where(conn, orders.c.id.in_(list(why)))
        for record in records:
            log.info("order %s (%s): %s", record.order_id, record.client_order_id, why[record.order_id])
        refusals = [
            OrderOutcome(r, rejected_reason=why[r.order_id], rejection=RejectionKind.NOT_SENT)
            for r in records
        ]
        settle(conn, refusals, now, self._late_fill_checks)
        return set(why)

    def postpone_checks(self, records: Sequence[OrderRecord], reason: str, now: datetime) -> None:
        """Orders whose exchange report could not be recorded: checked again later, backing off as
        after any failed check, so they neither block the others nor are ever given up."""
        with write_transaction(self.engine) as conn:
            for order in records:
                attempts = order.check_attempts + 1
                conn.execute(
                    update(orders)
                    .where(orders.c.id == order.order_id, orders.c.next_check_at.is_not(None))
                    .values(
                        check_attempts=attempts,
                        next_check_at=now + timedelta(seconds=next_check_delay_s(attempts)),
                        reason=_bounded_reason(reason),
                        updated_at=now,
                    )
                )

    def orders_in_states(self, states: Sequence[OrderState]) -> list[OrderRecord]:
        with self.engine.connect() as conn:
            return self._orders_where(conn, orders.c.state.in_([s.value for s in states]))

    def unsettled_orders(self, account_id: int | None = None) -> list[OrderRecord]:
        """Every order not yet in a final state, and every final one still looked up a few times
        (canceled or expired: late fills; concluded lost: a late sighting), of one account or all."""
        unsettled = [OrderState.SUBMITTED, OrderState.OPEN, OrderState.PARTIALLY_FILLED]
        watched = and_(
            orders.c.state.in_([s.value for s in TERMINAL_STATES]), orders.c.next_check_at.is_not(None)
        )
        condition: ColumnElement[bool] = or_(orders.c.state.in_([s.value for s in unsettled]), watched)
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
            select(
                orders,
                exchange_accounts.c.exchange,
                execution_intents.c.signal_id,
                subscriptions.c.entry_order,
            )
            .join(exchange_accounts, exchange_accounts.c.id == orders.c.account_id)
            .outerjoin(execution_intents, execution_intents.c.id == orders.c.intent_id)
            .outerjoin(subscriptions, subscriptions.c.id == orders.c.subscription_id)
            .where(condition)
            .order_by(orders.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return [_order_record(r._mapping) for r in conn.execute(query)]

    # -- exit automation --------------------------------------------------------------------------

    def watched_positions(self, changed_since: datetime | None = None) -> list[WatchedPosition]:
        """Open positions (all, or every position changed since a time, open or not), with levels."""
        query = _watched_select()
        if changed_since is None:
            query = query.where(positions.c.status == PositionStatus.OPEN.value)
        else:
            # Between full loads only positions with automation matter: a fan-out's thousand plain
            # positions are not read back every second.
            automated = or_(
                positions.c.stop_loss.is_not(None),
                positions.c.take_profit.is_not(None),
                positions.c.trailing_pct.is_not(None),
                positions.c.deadline_at.is_not(None),
                positions.c.tranches.is_not(None),
            )
            query = query.where(positions.c.updated_at >= changed_since, automated)
        with self.engine.connect() as conn:
            return [_watched(r._mapping) for r in conn.execute(query)]

    def watched_position(self, user_id: int, position_id: int) -> WatchedPosition | None:
        """One of the user's positions as the exit monitor sees it."""
        with self.engine.connect() as conn:
            row = conn.execute(
                _watched_select().where(positions.c.id == position_id, positions.c.user_id == user_id)
            ).first()
        return _watched(row._mapping) if row else None

    def daily_loss_closers(self) -> list[tuple[int, int, RiskLimits]]:
        """(subscription, account, limits) of active subscriptions that close their positions once
        the account's daily loss limit is breached."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscriptions.c.id, subscriptions.c.account_id, subscriptions.c.risk_limits).where(
                    subscriptions.c.risk_limits.is_not(None),
                    subscriptions.c.status == SubscriptionStatus.ACTIVE.value,
                )
            )
            found = [(r.id, r.account_id, RiskLimits.from_json(r.risk_limits)) for r in rows]
        return [f for f in found if f[2].close_on_daily_loss]

    def open_positions_of(self, subscription_ids: Sequence[int]) -> list[WatchedPosition]:
        """The open positions of these subscriptions, as the exit monitor sees them."""
        result: list[WatchedPosition] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(subscription_ids)), 900):
                rows = conn.execute(
                    _watched_select().where(
                        positions.c.subscription_id.in_(chunk),
                        positions.c.status == PositionStatus.OPEN.value,
                    )
                )
                result.extend(_watched(r._mapping) for r in rows)
        return result

    def positions_exiting(self, position_ids: Iterable[int] | None = None) -> set[int]:
        """Positions (all, or among `position_ids`) with an order that may still fill (see
        store/attempts.py): in flight, or canceled or concluded lost and still looked up."""
        with self.engine.connect() as conn:
            return positions_with_live_attempts(conn, position_ids)

    def save_auto_orders(self, exits: Sequence[AutoOrder], now: datetime) -> list[OrderRecord]:
        """Store the platform's own orders (exits and DCA tranches, state NEW) before they are sent:
        one per position at a time, each under a client order id derived from the position, the
        tranche and the attempt number, so neither a retry nor a restart can place it twice."""
        if not exits:
            return []
        with write_transaction(self.engine) as conn:
            position_ids = [e.position_id for e in exits]
            # Locked first: a settlement of these positions commits before this reads, or waits.
            open_amounts = lock_open_positions(conn, position_ids)
            busy = positions_with_live_attempts(conn, position_ids)
            attempts = attempts_made(conn, position_ids)
            states = _trading_states(
                conn, {e.subscription_id for e in exits if e.subscription_id is not None}
            )
            rows_out = []
            for e in exits:
                if e.position_id in busy:
                    # An earlier attempt is in flight, or may still fill late: never two at once.
                    continue
                held = open_amounts.get(e.position_id, ZERO)
                if held <= 0:
                    log.info("position %s: no order, the position is closed", e.position_id)
                    continue
                # An exit sells what is left (an earlier attempt may have filled in part).
                amount = min(e.amount, held) if e.reason is not None else e.amount
                state = states.get(e.subscription_id) if e.subscription_id is not None else None
                if state is not None and not allows(state, entry=e.side is OrderSide.BUY):
                    # Read in this transaction: a state set moments ago wins over the monitor's copy.
                    log.info("position %s: no order, the subscription is %s", e.position_id, state.value)
                    continue
                rows_out.append(
                    {
                        "intent_id": None,
                        "account_id": e.account_id,
                        "subscription_id": e.subscription_id,
                        "user_id": e.user_id,
                        "mode": e.mode,
                        "client_order_id": position_client_order_id(
                            e.position_id, attempts.get(e.position_id, 0), e.tranche
                        ),
                        "exchange_order_id": None,
                        "symbol": e.symbol,
                        "side": e.side.value,
                        "type": OrderType.MARKET.value,
                        "amount": amount,
                        "price": None,
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
                        "sizing_note": e.note,
                        "exit_plan": None,
                        "position_id": e.position_id,
                        "close_reason": e.reason.value if e.reason else None,
                        "tranche": e.tranche,
                    }
                )
            bulk.insert(conn, orders, rows_out, ignore_conflicts_on=["client_order_id"])
            ids = [r["client_order_id"] for r in rows_out]
            if not ids:
                return []
            return self._orders_where(conn, orders.c.client_order_id.in_(ids))

    def save_best_prices(self, best: dict[int, Decimal]) -> None:
        """Persist trailing stops' best prices (so a restart keeps the stop where it had climbed)."""
        if not best:
            return
        with write_transaction(self.engine) as conn:
            bulk.update_by(
                conn,
                positions,
                "id",
                [{"id": pid, "best_price": price} for pid, price in sorted(best.items())],
            )

    def realized_on(self, account_ids: Sequence[int], day: str) -> dict[int, Decimal]:
        """Net realised results of the UTC `day` per account."""
        result: dict[int, Decimal] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(account_ids)), 900):
                rows = conn.execute(
                    select(account_daily_pnl.c.account_id, account_daily_pnl.c.pnl).where(
                        account_daily_pnl.c.account_id.in_(chunk), account_daily_pnl.c.day == day
                    )
                )
                result.update({a: pnl for a, pnl in rows})
        return result

    def record_outcomes(self, outcomes: Sequence[OrderOutcome], now: datetime) -> None:
        """Apply what exchanges said: order states, new fills, positions, log and intents, atomically."""
        if not outcomes:
            return
        with write_transaction(self.engine) as conn:
            settle(conn, outcomes, now, self._late_fill_checks)


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
        ticker=r["ticker"],
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
        exit_rules=ExitRules.from_json(r["exit_rules"]),
        state=TradingState(r["trading_state"]),
        pnl_total=r["pnl_total"],
        pnl_peak=r["pnl_peak"],
        strategy_drawdown_pct=StrategyCurve(r["track_index"], r["track_peak"]).drawdown_pct,
        stop_loss=_decimal(details.get("stop_loss")),
        take_profit=_decimal(details.get("take_profit")),
        dca=DcaPlan.from_json(r["dca"]),
        attempts=r.get("attempts") or 0,
        order_type=_order_type(details.get("order_type")),
        entry=EntryOrder.from_json(r["entry_order"]),
    )


def _order_type(value: Any) -> OrderType | None:
    return OrderType(value) if value in (OrderType.MARKET.value, OrderType.LIMIT.value) else None


def _live_venue(r: Any) -> LiveVenue:
    urls = r.api_urls if isinstance(r.api_urls, dict) else {}
    return LiveVenue(
        r.id, r.exchange, bool(r.sandbox), tuple(sorted((str(k), str(v)) for k, v in urls.items()))
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
        "sizing_equity": order.sizing_equity,
        "exit_plan": order.exit_plan.as_json() if order.exit_plan else None,
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
        exit_plan=order.exit_plan,
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
        exit_plan=ExitPlan.from_json(r["exit_plan"]),
        position_id=r["position_id"],
        close_reason=CloseReason(r["close_reason"]) if r["close_reason"] else None,
        tranche=r["tranche"],
        filled=r["filled"],
        limit_timeout_s=_limit_timeout(r["entry_order"]) if r["type"] == OrderType.LIMIT.value else None,
        rejection=stored_rejection(r["rejection"]),
    )


def _limit_timeout(entry_order: Any) -> int | None:
    """The subscription's own limit order timeout (None: the platform's default)."""
    try:
        return EntryOrder.from_json(entry_order).limit_order_timeout_s
    except (ValueError, TypeError):
        log.error("unreadable entry order settings %r: the default limit order timeout applies", entry_order)
        return None


def _track(conn: Connection, signal_id: int, market_price: Decimal | None, now: datetime) -> None:
    """Move the strategy's virtual position on the signal's pair, and its curve when a trade closes."""
    signal = conn.execute(
        select(
            signals.c.strategy_id, signals.c.symbol, signals.c.action, signals.c.price, signals.c.details
        ).where(signals.c.id == signal_id)
    ).one()
    price = signal.price or market_price
    if price is None:
        log.info("signal %s has no price and none is known: not counted in the track record", signal_id)
        return
    key = (signal.strategy_id, signal.symbol)
    found = conn.execute(
        select(strategy_pairs)
        .where(strategy_pairs.c.strategy_id == key[0], strategy_pairs.c.symbol == key[1])
        .with_for_update()
    ).first()
    before = pair_record(found._mapping) if found else PairRecord(signal.symbol)
    record = before.reviewed(now)
    action = SignalAction(signal.action)
    details = signal.details or {}
    if action is SignalAction.BUY and details.get("market_position") not in ("short", "flat"):
        record = record.after_entry(price)
    elif action is not SignalAction.BUY and not _partial_exit(details, action):
        record = record.after_exit(price, now)
    if record == before:
        return
    bulk.insert(
        conn, strategy_pairs, [pair_row(key[0], record, now)], update_conflicts_on=["strategy_id", "symbol"]
    )
    if record.trades > before.trades:
        ret = _trade_return(before, price)
        row = conn.execute(
            select(strategies.c.track_index, strategies.c.track_peak)
            .where(strategies.c.id == key[0])
            .with_for_update()
        ).one()
        curve = StrategyCurve(row.track_index, row.track_peak).after_trade(ret)
        conn.execute(
            update(strategies)
            .where(strategies.c.id == key[0])
            .values(track_index=curve.index, track_peak=curve.peak)
        )


def _trade_return(before: PairRecord, exit_price: Decimal) -> Decimal:
    assert before.open_entry is not None
    return (exit_price / before.open_entry - 1) * 100


def _partial_exit(details: dict[str, Any], action: SignalAction) -> bool:
    intent = SignalIntent(
        action=action,
        ticker="",
        market_position=_market_position(details.get("market_position")),
        market_position_size=_decimal(details.get("market_position_size")),
        prev_market_position_size=_decimal(details.get("prev_market_position_size")),
    )
    sold, before = intent.exit_ratio
    return sold < before


def _watched_select() -> Any:
    """Positions with what the exit monitor needs beside them: the exchange, the trading state, the
    risk limits (a position without a subscription reads as ACTIVE with default limits)."""
    return (
        select(
            positions,
            exchange_accounts.c.exchange,
            subscriptions.c.trading_state,
            subscriptions.c.risk_limits,
        )
        .join(exchange_accounts, exchange_accounts.c.id == positions.c.account_id)
        .outerjoin(subscriptions, subscriptions.c.id == positions.c.subscription_id)
    )


def _watched(r: Any) -> WatchedPosition:
    return WatchedPosition(
        position_id=r["id"],
        account_id=r["account_id"],
        subscription_id=r["subscription_id"],
        user_id=r["user_id"],
        mode=r["mode"],
        exchange=r["exchange"],
        symbol=r["symbol"],
        is_open=r["status"] == PositionStatus.OPEN.value,
        amount=r["amount"],
        avg_entry=r["avg_entry"],
        stop_loss=r["stop_loss"],
        take_profit=r["take_profit"],
        trailing_pct=r["trailing_pct"],
        trailing_activation_pct=r["trailing_activation_pct"],
        best_price=r["best_price"],
        deadline_at=r["deadline_at"],
        state=TradingState(r["trading_state"] or TradingState.ACTIVE.value),
        risk=RiskLimits.from_json(r["risk_limits"]),
        updated_at=r["updated_at"],
        phase=PositionPhase(r["phase"]),
        dca=DcaPlan.from_json((r["tranches"] or {}).get("plan", {}).get("dca")),
        first_fill=Decimal(r["tranches"]["first"]) if r["tranches"] else None,
        pending=tuple(Tranche.from_json(t) for t in (r["tranches"] or {}).get("pending", [])),
    )


def _utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def pair_record(r: Any) -> PairRecord:
    return PairRecord(
        symbol=r["symbol"],
        trades=r["trades"],
        wins=r["wins"],
        gross_return_pct=r["gross_return_pct"],
        window_trades=r["window_trades"],
        window_return_pct=r["window_return_pct"],
        consecutive_losses=r["consecutive_losses"],
        open_entry=r["open_entry"],
        status=PairStatus(r["status"]),
        status_reason=r["status_reason"],
        status_until=r["status_until"],
        manual=r["manual"],
    )


def pair_row(strategy_id: int, p: PairRecord, now: datetime) -> dict[str, Any]:
    """A strategy_pairs row for one PairRecord."""
    return {
        "strategy_id": strategy_id,
        "symbol": p.symbol,
        "trades": p.trades,
        "wins": p.wins,
        "gross_return_pct": p.gross_return_pct,
        "window_trades": p.window_trades,
        "window_return_pct": p.window_return_pct,
        "consecutive_losses": p.consecutive_losses,
        "open_entry": p.open_entry,
        "status": p.status.value,
        "status_reason": p.status_reason,
        "status_until": p.status_until,
        "manual": p.manual,
        "updated_at": now,
    }


# Attempts and reasons: bounded, and text every database stores (PostgreSQL refuses NUL).
MAX_REASON_CHARS = 1000


def _bounded_reason(reason: str) -> str:
    text = reason.replace("\x00", "")
    return text if len(text) <= MAX_REASON_CHARS else f"{text[: MAX_REASON_CHARS - 3]}..."


def _error(exc: BaseException) -> str:
    return _bounded_reason(f"{type(exc).__name__}: {exc}")


def _record_failures(conn: Connection, failures: Sequence[FailedAttempt], now: datetime) -> None:
    """Count each failed attempt; a final one marks the intent failed and writes it to the log."""
    for failure in failures:
        values: dict[str, Any] = {
            "attempts": execution_intents.c.attempts + 1,
            "reason": _bounded_reason(failure.reason),
            "updated_at": now,
        }
        if failure.final:
            values["status"] = IntentStatus.FAILED.value
        row = conn.execute(
            update(execution_intents)
            .where(
                execution_intents.c.id == failure.intent_id,
                execution_intents.c.status == IntentStatus.CREATED.value,
            )
            .values(values)
            .returning(
                execution_intents.c.signal_id,
                execution_intents.c.subscription_id,
                execution_intents.c.account_id,
                execution_intents.c.user_id,
            )
        ).first()
        if row is None or not failure.final:
            continue
        conn.execute(
            execution_log.insert().values(
                intent_id=failure.intent_id,
                signal_id=row.signal_id,
                subscription_id=row.subscription_id,
                account_id=row.account_id,
                user_id=row.user_id,
                status=LogStatus.FAILED.value,
                reason=_bounded_reason(failure.reason),
                created_at=now,
            )
        )


def _readable_rows(conn: Connection, query: Any, key: Any) -> list[tuple[int, Any]]:
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
            result.append((row_id, f"stored intent cannot be read: {_error(exc)}"))
    return result


def _allowed_by_trading_state() -> ColumnElement[bool]:
    """SQL for `allows` on an order row: no subscription, or one ACTIVE (or unset), or REDUCING for a
    sale. A state this version cannot read allows nothing, as `_trading_state` reads it."""
    forbidding = select(subscriptions.c.id).where(
        subscriptions.c.id == orders.c.subscription_id,
        ~or_(
            func.coalesce(subscriptions.c.trading_state, "").in_(["", TradingState.ACTIVE.value]),
            and_(
                subscriptions.c.trading_state == TradingState.REDUCING.value,
                orders.c.side != OrderSide.BUY.value,
            ),
        ),
    )
    return ~forbidding.exists()


def _trading_state(value: Any) -> TradingState:
    """A stored trading state; one this version cannot read allows no order (default-deny)."""
    try:
        return TradingState(value or TradingState.ACTIVE.value)
    except ValueError:
        return TradingState.HALTED


def _trading_states(conn: Connection, subscription_ids: set[int]) -> dict[int, TradingState]:
    states: dict[int, TradingState] = {}
    for chunk in _chunks(sorted(subscription_ids), 900):
        rows = conn.execute(
            select(subscriptions.c.id, subscriptions.c.trading_state).where(subscriptions.c.id.in_(chunk))
        )
        states.update({sid: TradingState(state or TradingState.ACTIVE.value) for sid, state in rows})
    return states


def _signal_row(signal: NewSignal) -> dict[str, Any]:
    return {
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
