"""The twin's positions: what the risk rules and the exit monitor read, and the platform's own orders."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal

from tests.fakes.memory_store.tables import Row, Tables
from tradewire.adapters.store.positions import auto_order_rows, watched
from tradewire.adapters.store.track import pair_record
from tradewire.domain.events import Event, orders_placed
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.orders import OrderSide, OrderState
from tradewire.domain.positions import PositionStatus
from tradewire.domain.records import (
    AutoOrder,
    DailyLossCloser,
    OrderRecord,
    RiskKeys,
    RiskSnapshot,
    WatchedPosition,
)
from tradewire.domain.risk import RiskLimits, TradingState

OPEN = PositionStatus.OPEN.value
UNSETTLED = {s.value for s in OrderState if not s.is_terminal}
_LEVELS = ("stop_loss", "take_profit", "trailing_pct", "deadline_at", "tranches")


class PositionsTwin:
    """Open positions and their levels, realised results, and exits stored before they are sent."""

    tables: Tables

    def _orders_where(self, condition: Callable[[Row], bool]) -> list[OrderRecord]:
        raise NotImplementedError  # OrdersTwin's

    def _with_events(self, now: datetime) -> AbstractContextManager[list[Event]]:
        raise NotImplementedError  # EventsTwin's

    def risk_snapshot(self, keys: RiskKeys) -> RiskSnapshot:
        snap = RiskSnapshot()
        accounts = set(keys.account_ids)
        for p in self.tables.where("positions", status=OPEN):
            if p["account_id"] in accounts:
                snap.opening(p["account_id"], p["subscription_id"], p["symbol"])
        for o in self.tables.where("orders", side=OrderSide.BUY.value):  # entries that may still open one
            if o["account_id"] in accounts and o["subscription_id"] is not None and may_still_fill(o):
                snap.opening(o["account_id"], o["subscription_id"], o["symbol"])
        snap.realized_today.update(self.realized_on(keys.account_ids, keys.day))
        pair_keys = set(keys.pair_keys)
        for p in self.tables.where("positions"):
            key = (p["subscription_id"], p["symbol"])
            if key in pair_keys and (key not in snap.last_trade or p["updated_at"] > snap.last_trade[key]):
                snap.last_trade[key] = p["updated_at"]
        for key in set(keys.strategy_pairs_keys):
            if key in self.tables.strategy_pairs:
                snap.pairs[key] = pair_record(self.tables.strategy_pairs[key])
        return snap

    def realized_on(self, account_ids: Sequence[int], day: str) -> dict[int, Decimal]:
        daily = self.tables.account_daily_pnl
        return {a: daily[(a, day)] for a in sorted(set(account_ids)) if (a, day) in daily}

    def watched_positions(self, changed_since: datetime | None = None) -> list[WatchedPosition]:
        if changed_since is None:
            return self._watched(lambda p: p["status"] == OPEN)
        # Between full loads only positions with automation matter, as in the SQL store.
        return self._watched(
            lambda p: p["updated_at"] >= changed_since and any(p[c] is not None for c in _LEVELS)
        )

    def watched_position(self, user_id: int, position_id: int) -> WatchedPosition | None:
        found = self._watched(lambda p: p["id"] == position_id and p["user_id"] == user_id)
        return found[0] if found else None

    def _watched(self, condition: Callable[[Row], bool]) -> list[WatchedPosition]:
        """Positions with their account's exchange and their subscription's trading state and limits."""
        limits = self.tables.restrictions()
        return [
            watched(p, limits)
            for p in self.tables.with_owner("positions", condition, "trading_state", "risk_limits")
        ]

    def daily_loss_closers(self) -> list[DailyLossCloser]:
        subs = self.tables.where("subscriptions", status=SubscriptionStatus.ACTIVE.value)
        found = [
            DailyLossCloser(s["id"], s["account_id"], RiskLimits.from_json(s["risk_limits"]))
            for s in subs
            if s["risk_limits"]
        ]
        return [f for f in found if f.limits.close_on_daily_loss]

    def open_positions_of(self, subscription_ids: Sequence[int]) -> list[WatchedPosition]:
        wanted = set(subscription_ids)
        return self._watched(lambda p: p["status"] == OPEN and p["subscription_id"] in wanted)

    def positions_exiting(self, position_ids: Iterable[int] | None = None) -> set[int]:
        return self._live_attempts(position_ids)

    def _live_attempts(self, position_ids: Iterable[int] | None, sells_only: bool = False) -> set[int]:
        """As adapters/store/attempts.py: positions with an own order (with `sells_only`, an own sale)
        that may still fill, or an open one (any one, when `position_ids` are given) with a signal's
        sell that may."""
        wanted = None if position_ids is None else set(position_ids)
        live = [o for o in self.tables.where("orders") if may_still_fill(o)]
        found = {
            o["position_id"]
            for o in live
            if o["position_id"] is not None and (o["side"] == "sell" or not sells_only)
        }
        sells = {
            (o["subscription_id"], o["symbol"])
            for o in live
            if o["position_id"] is None and o["side"] == "sell"
        }
        for p in self.tables.where("positions"):
            if (p["subscription_id"], p["symbol"]) in sells and (
                p["status"] == OPEN if wanted is None else True
            ):
                found.add(p["id"])
        return found if wanted is None else found & wanted

    def save_auto_orders(self, exits: Sequence[AutoOrder], now: datetime) -> list[OrderRecord]:
        if not exits:
            return []
        with self._with_events(now) as made:
            wanted = {e.position_id for e in exits}
            positions = self.tables["positions"]
            open_amounts = {
                i: positions[i]["amount"] for i in wanted if i in positions and positions[i]["status"] == OPEN
            }
            busy = self._live_attempts(wanted)
            selling = self._live_attempts(wanted, sells_only=True)
            attempts: dict[int, int] = {}
            for o in self.tables.where("orders"):
                if o["position_id"] in wanted:
                    attempts[o["position_id"]] = attempts.get(o["position_id"], 0) + 1
            subscriptions = self.tables["subscriptions"]
            states = {
                s: TradingState(subscriptions[s]["trading_state"] or TradingState.ACTIVE.value)
                for s in {e.subscription_id for e in exits}
                if s in subscriptions
            }
            rows = auto_order_rows(
                exits, open_amounts, busy, selling, attempts, states, now, self.tables.restrictions()
            )
            placed = {
                self.tables.insert("orders", row, ignore_conflicts_on=("client_order_id",)) for row in rows
            }
            client_ids = {row["client_order_id"] for row in rows}
            if not client_ids:
                return []
            records = self._orders_where(lambda o: o["client_order_id"] in client_ids)
            made += orders_placed(r for r in records if r.order_id in placed)
            return records

    def save_best_prices(self, best: dict[int, Decimal]) -> None:
        for position_id, price in best.items():
            if position_id in self.tables["positions"]:
                self.tables["positions"][position_id]["best_price"] = price


def may_still_fill(order: Row) -> bool:
    """Not settled yet, or final but still in its window of late checks (adapters/store/attempts.py)."""
    return order["state"] in UNSETTLED or order["next_check_at"] is not None
