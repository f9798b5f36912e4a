"""What the platform keeps of positions, as exits and risk read them (adapters/store: positions, risk)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol

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

    def watched_positions(self, changed_since: datetime | None = None) -> list[WatchedPosition]: ...
    def watched_position(self, user_id: int, position_id: int) -> WatchedPosition | None:
        """One of the user's positions (open or closed) as the exit monitor sees it; None if not theirs."""

    def positions_exiting(self, position_ids: Iterable[int] | None = None) -> set[int]: ...
    def daily_loss_closers(self) -> list[DailyLossCloser]: ...
    def realized_on(self, account_ids: Sequence[int], day: str) -> dict[int, Decimal]: ...
    def open_positions_of(self, subscription_ids: Sequence[int]) -> list[WatchedPosition]: ...
    def save_auto_orders(self, exits: Sequence[AutoOrder], now: datetime) -> list[OrderRecord]: ...
    def save_best_prices(self, best: dict[int, Decimal]) -> None: ...


class RiskReads(Protocol):
    """What risk and sizing read before a page of entries is decided: open positions, the day's
    results, the strategy's record, and exits still in flight."""

    def risk_snapshot(self, keys: RiskKeys) -> RiskSnapshot: ...
    def strategy_stats(self, strategy_id: int, last: int = 500) -> TradeStats: ...
    def open_position_amounts(self, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], Decimal]: ...
    def exits_in_flight(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]: ...
    def outcomes_pending(self, keys: Iterable[tuple[int, str]]) -> set[tuple[int, str]]:
        """Pairs with an order whose effect on the position is not known yet (outcome_pending)."""
