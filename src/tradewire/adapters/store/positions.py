"""Positions in SQL as the exit monitor sees them, and the platform's own orders on them (exits and
DCA tranches), stored before they are sent (ports/positions.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, or_, select

from tradewire.adapters.store import bulk
from tradewire.adapters.store.attempts import attempts_made, lock_open_positions, positions_with_live_attempts
from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.events import transaction_with_events
from tradewire.adapters.store.order_rows import new_order_row, read_orders
from tradewire.adapters.store.platform import restrictions
from tradewire.adapters.store.tables import (
    account_daily_pnl,
    orders,
    positions,
    subscriptions,
)
from tradewire.adapters.store.values import trading_state, with_owner
from tradewire.domain.client_ids import position_client_order_id
from tradewire.domain.events import orders_placed
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.money import ZERO
from tradewire.domain.orders import OrderSide, OrderType
from tradewire.domain.platform import Restrictions
from tradewire.domain.positions import PositionStatus
from tradewire.domain.records import AutoOrder, DailyLossCloser, OrderRecord, WatchedPosition
from tradewire.domain.risk import RiskLimits, TradingState, allows
from tradewire.domain.tranches import DcaPlan, PositionPhase, Tranche

log = logging.getLogger("tradewire.store")
_UNRESTRICTED = Restrictions()

# Positions with what the exit monitor needs beside them: the exchange, the trading state, the risk
# limits (a position without a subscription reads as ACTIVE with default limits).
_WATCHED = with_owner(positions, subscriptions.c.trading_state, subscriptions.c.risk_limits)

# The positions columns a WatchedPosition holds under their own names.
_WATCHED_FIELDS = (
    "account_id",
    "subscription_id",
    "user_id",
    "mode",
    "exchange",
    "symbol",
    "amount",
    "avg_entry",
    "stop_loss",
    "take_profit",
    "trailing_pct",
    "trailing_activation_pct",
    "best_price",
    "deadline_at",
    "updated_at",
)


class SqlPositions(SqlTables):
    """Open positions with their exit levels and tranches, and the orders the platform places on them."""

    def watched_positions(self, changed_since: datetime | None = None) -> list[WatchedPosition]:
        query = _WATCHED
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
            limits = restrictions(conn)
            return watched_rows(conn.execute(query), limits)

    def watched_position(self, user_id: int, position_id: int) -> WatchedPosition | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                _WATCHED.where(positions.c.id == position_id, positions.c.user_id == user_id)
            ).first()
            limits = restrictions(conn)
        return watched(row._mapping, limits) if row else None

    def open_positions_of(self, subscription_ids: Sequence[int]) -> list[WatchedPosition]:
        result: list[WatchedPosition] = []
        with self.engine.connect() as conn:
            limits = restrictions(conn)
            for chunk in bulk.chunks(sorted(set(subscription_ids)), 900):
                rows = conn.execute(
                    _WATCHED.where(
                        positions.c.subscription_id.in_(chunk),
                        positions.c.status == PositionStatus.OPEN.value,
                    )
                )
                result.extend(watched_rows(rows, limits))
        return result

    def positions_exiting(self, position_ids: Iterable[int] | None = None) -> set[int]:
        with self.engine.connect() as conn:
            return positions_with_live_attempts(conn, position_ids)

    def daily_loss_closers(self) -> list[DailyLossCloser]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscriptions.c.id, subscriptions.c.account_id, subscriptions.c.risk_limits).where(
                    subscriptions.c.risk_limits.is_not(None),
                    subscriptions.c.status == SubscriptionStatus.ACTIVE.value,
                )
            )
            found = [
                DailyLossCloser(r.id, r.account_id, limits)
                for r in rows
                # Unreadable limits (stored by hand or an older version): no close on the daily loss.
                if (limits := _readable(f"subscription {r.id}: its risk limits", _risk(r.risk_limits), None))
                is not None
            ]
        return [f for f in found if f.limits.close_on_daily_loss]

    def realized_on(self, account_ids: Sequence[int], day: str) -> dict[int, Decimal]:
        result: dict[int, Decimal] = {}
        with self.engine.connect() as conn:
            for chunk in bulk.chunks(sorted(set(account_ids)), 900):
                result.update(daily_results(conn, chunk, day))
        return result

    def save_auto_orders(self, exits: Sequence[AutoOrder], now: datetime) -> list[OrderRecord]:
        if not exits:
            return []
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            position_ids = [e.position_id for e in exits]
            # Locked first: a settlement of these positions commits before this reads, or waits.
            open_amounts = lock_open_positions(conn, position_ids)
            busy = positions_with_live_attempts(conn, position_ids)
            selling = positions_with_live_attempts(conn, position_ids, sells_only=True) if busy else busy
            attempts = attempts_made(conn, position_ids)
            states = _trading_states(
                conn, {e.subscription_id for e in exits if e.subscription_id is not None}
            )
            # Read in this transaction: a trading state set moments ago wins over the monitor's copy.
            rows_out = auto_order_rows(
                exits, open_amounts, busy, selling, attempts, states, now, restrictions(conn)
            )
            inserted = bulk.insert_returning(
                conn, orders, rows_out, ["id"], ignore_conflicts_on=["client_order_id"]
            )
            ids = [r["client_order_id"] for r in rows_out]
            if not ids:
                return []
            records = read_orders(conn, orders.c.client_order_id.in_(ids))
            placed = {order_id for (order_id,) in inserted}
            outbox.add(orders_placed(r for r in records if r.order_id in placed))
            return records

    def save_best_prices(self, best: dict[int, Decimal]) -> None:
        if not best:
            return
        with write_transaction(self.engine) as conn:
            bulk.update_by(
                conn,
                positions,
                "id",
                [{"id": pid, "best_price": price} for pid, price in sorted(best.items())],
            )


def daily_results(conn: Connection, account_ids: Sequence[int], day: str) -> dict[int, Decimal]:
    """Net realised results of the UTC `day` for these accounts (one query: keep them few)."""
    rows = conn.execute(
        select(account_daily_pnl.c.account_id, account_daily_pnl.c.pnl).where(
            bulk.one_of(conn, account_daily_pnl.c.account_id, account_ids), account_daily_pnl.c.day == day
        )
    )
    return dict(rows.tuples().all())


def auto_order_rows(
    exits: Sequence[AutoOrder],
    open_amounts: Mapping[int, Decimal],
    busy: Set[int],
    selling: Set[int],
    attempts: Mapping[int, int],
    states: Mapping[int, TradingState],
    now: datetime,
    limits: Restrictions = _UNRESTRICTED,
) -> list[dict[str, Any]]:
    """The orders rows of the exits and tranches that may be placed now, given the positions' open
    amounts, those with an attempt that may still fill (`busy`; `selling`: a sale that may), the
    attempts made per position, the subscriptions' trading states and what restricts them beyond
    (`limits`: the platform's state, a disabled owner)."""
    rows = []
    for e in exits:
        if e.position_id in (selling if e.reason is not None else busy):
            # An earlier attempt is in flight, or may still fill late: never two sales at once, and
            # no DCA buy while anything may still fill. An exit does not wait for a buy (see
            # store/attempts.py): selling what is held now can never sell too much.
            continue
        held = open_amounts.get(e.position_id, ZERO)
        if held <= 0:
            log.info("position %s: no order, the position is closed", e.position_id)
            continue
        own = states.get(e.subscription_id) if e.subscription_id is not None else None
        state = limits.state(own or TradingState.ACTIVE, e.user_id)
        if not allows(state, entry=e.side is OrderSide.BUY):
            why = limits.why(own or TradingState.ACTIVE, e.user_id)
            log.info("position %s: no order, %s", e.position_id, why)
            continue
        # An exit sells what is left (an earlier attempt may have filled in part).
        amount = min(e.amount, held) if e.reason is not None else e.amount
        rows.append(_auto_order_row(e, amount, attempts.get(e.position_id, 0), now))
    return rows


def _auto_order_row(e: AutoOrder, amount: Decimal, attempt: int, now: datetime) -> dict[str, Any]:
    client_order_id = position_client_order_id(e.position_id, attempt, e.tranche)
    row = new_order_row(e, client_order_id, e.side, OrderType.MARKET, amount, None, e.note, now)
    row["intent_id"] = None
    row["exit_plan"] = None
    row["position_id"] = e.position_id
    row["close_reason"] = e.reason.value if e.reason else None
    row["tranche"] = e.tranche
    return row


def _trading_states(conn: Connection, subscription_ids: set[int]) -> dict[int, TradingState]:
    states: dict[int, TradingState] = {}
    for chunk in bulk.chunks(sorted(subscription_ids), 900):
        rows = conn.execute(
            select(subscriptions.c.id, subscriptions.c.trading_state).where(subscriptions.c.id.in_(chunk))
        )
        states.update({sid: trading_state(state) for sid, state in rows})
    return states


def watched(r: Any, limits: Restrictions = _UNRESTRICTED) -> WatchedPosition:
    """A position as the exit monitor watches it. A part an older version or a hand stored wrong
    does not blind the monitor: its stop, target and time limit are typed columns and stay watched;
    an unreadable trading state reads as HALTED (values.trading_state: no order), unreadable risk
    limits as the defaults (no close on the daily loss), an unreadable DCA book as none (no more
    buys)."""
    position_id = r["id"]
    own = trading_state(r["trading_state"])
    dca, first_fill, later, pending = _readable(
        f"position {position_id}: its DCA tranches", lambda: _tranches(r), _NO_DCA
    )
    return WatchedPosition(
        **{name: r[name] for name in _WATCHED_FIELDS},
        position_id=position_id,
        is_open=r["status"] == PositionStatus.OPEN.value,
        state=limits.state(own, r["user_id"]),
        state_source=limits.source(own, r["user_id"]),
        risk=_readable(f"position {position_id}: its risk limits", _risk(r["risk_limits"]), RiskLimits()),
        phase=_readable(
            f"position {position_id}: its phase", lambda: PositionPhase(r["phase"]), PositionPhase.OPEN
        ),
        dca=dca,
        first_fill=first_fill,
        pending=pending,
        budget=dca.budget(later, first_fill) if dca is not None and later and first_fill else None,
    )


_Tranches = tuple[DcaPlan | None, Decimal | None, list[Decimal], tuple[Tranche, ...]]
_NO_DCA: _Tranches = (None, None, [], ())


def _tranches(r: Any) -> _Tranches:
    tranches = r["tranches"] or {}
    dca = DcaPlan.from_json(tranches.get("plan", {}).get("dca"))
    first_fill = Decimal(tranches["first"]) if tranches else None
    later = [Decimal(a) for a in tranches.get("plan", {}).get("later") or ()]
    return dca, first_fill, later, tuple(Tranche.from_json(t) for t in tranches.get("pending", []))


T = TypeVar("T")
_reported: set[str] = set()  # unreadable parts already logged (once per process)


def _readable(what: str, read: Callable[[], T], default: T) -> T:
    """`read()`, or `default` (logged once) when what it reads was stored wrong."""
    try:
        return read()
    except Exception:
        if what not in _reported:
            _reported.add(what)
            log.exception("%s cannot be read; %r used instead", what, default)
        return default


def _risk(stored: Any) -> Callable[[], RiskLimits]:
    return lambda: RiskLimits.from_json(stored)


def watched_rows(rows: Iterable[Any], limits: Restrictions) -> list[WatchedPosition]:
    """The readable positions of `rows`: one that cannot be read at all is logged and left out, never
    failing the others' reload."""
    result = []
    for row in rows:
        r = row._mapping
        try:
            result.append(watched(r, limits))
        except Exception:
            if f"position {r['id']}" not in _reported:
                _reported.add(f"position {r['id']}")
                log.exception("position %s cannot be read; not watched", r["id"])
    return result
