"""What the platform keeps of positions, as exits and risk read them (adapters/store: positions, risk)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from tradewire.domain.held_exit import HeldExit
from tradewire.domain.records import (
    AutoOrder,
    DailyLossCloser,
    OrderRecord,
    RiskKeys,
    RiskSnapshot,
    WatchedPosition,
)
from tradewire.domain.sizing import TradeStats


class PositionStore(Protocol):
    """Open positions with their exit levels and DCA tranches, and the platform's own orders on them
    (exits and tranches), stored before they are sent."""

    def watched_positions(self, changed_since: datetime | None = None) -> list[WatchedPosition]:
        """Open positions (all, or every position changed since a time, open or not), with levels."""

    def watched_position(self, user_id: int, position_id: int) -> WatchedPosition | None:
        """One of the user's positions (open or closed) as the exit monitor sees it; None if not theirs."""

    def positions_exiting(self, position_ids: Iterable[int] | None = None) -> set[int]:
        """Positions (all, or among `position_ids`) with an order that may still fill (see
        adapters/store/attempts.py): in flight, or canceled or concluded lost and still looked up."""

    def daily_loss_closers(self) -> list[DailyLossCloser]:
        """Active subscriptions that close their positions once the account's daily loss limit is
        breached, with their limits."""

    def realized_on(self, account_ids: Sequence[int], day: str) -> dict[int, Decimal]:
        """Net realised results of the UTC `day` per account."""

    def open_positions_of(self, subscription_ids: Sequence[int]) -> list[WatchedPosition]:
        """The open positions of these subscriptions, as the exit monitor sees them."""

    def save_auto_orders(self, exits: Sequence[AutoOrder], now: datetime) -> list[OrderRecord]:
        """Store the platform's own orders (exits and DCA tranches, state NEW) before they are sent:
        one per position at a time, each under a client order id derived from the position, the
        tranche and the attempt number, so neither a retry nor a restart can place it twice."""

    def save_best_prices(self, best: dict[int, Decimal]) -> None:
        """Persist trailing stops' best prices (so a restart keeps the stop where it had climbed)."""

    def exits_refused_for_funds(self, position_ids: Sequence[int]) -> set[int]:
        """The positions among these whose latest own order is a sale the exchange refused for
        insufficient funds (domain/held_exit.py)."""

    def settle_held_exit(self, position_id: int, decision: HeldExit, now: datetime) -> bool:
        """Save a decision about a refused exit: the write-off (and the close outside tradewire), an
        execution log line and the user's event. False, and nothing saved, when the position's open
        amount is no longer the one decided on, or a sale of it may still fill."""


class RiskReads(Protocol):
    """What risk and sizing read before a page of entries is decided: open positions, the day's
    results, the strategy's record, and exits still in flight."""

    def risk_snapshot(self, keys: RiskKeys) -> RiskSnapshot:
        """Open positions per subscription and account (and their symbols), net results of the UTC
        `day` per account, the last trade per (subscription, symbol) in `pair_keys`, and the
        strategies' pair records for `strategy_pairs_keys`."""

    def strategy_stats(self, strategy_id: int, last: int = 500) -> TradeStats:
        """Wins, losses and average net results of the strategy's last closed positions."""

    def open_position_amounts(self, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Decimal]:
        """Open position size per (subscription id, symbol)."""

    def exits_in_flight(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        """(subscription, symbol) pairs whose position has an automated exit order that may still
        fill: unsettled, or canceled or concluded lost and still looked up for a late fill."""

    def outcomes_pending(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        """(subscription, symbol) pairs with an order whose effect on the position is not known yet
        (domain.orders.outcome_pending): a decision for them now would be sized on a stale position."""
