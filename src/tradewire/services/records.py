"""What owners read of their trading (signals, intents, orders, positions, the execution log), open
positions marked at their venue's price, and closing a position by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from tradewire.domain.members import Conflict, NotFound, User
from tradewire.domain.orders import OrderState
from tradewire.domain.platform import SUBSCRIPTION
from tradewire.domain.portfolio import Summary, summarize
from tradewire.domain.positions import CloseReason
from tradewire.domain.records import Page, WatchedPosition
from tradewire.domain.risk import TradingState
from tradewire.ports import Reports
from tradewire.ports.reports import Row
from tradewire.services.valuation import Mark, MarkKey


class Marks(Protocol):
    """Current prices of open positions at their own venue (services.valuation.Valuations)."""

    async def marks(self, keys: Iterable[MarkKey]) -> dict[MarkKey, Mark]: ...


class Closer(Protocol):
    """Closes a position through the exit path (services.monitor.ExitMonitor); 0 when an exit of it
    is already in flight."""

    async def close(self, position: WatchedPosition, reason: CloseReason, note: str) -> int: ...


@dataclass(frozen=True, slots=True)
class MarkedPosition:
    """A position row with its mark (open positions) and what it is worth now."""

    row: Row
    mark: Mark | None

    @property
    def price(self) -> Decimal | None:
        return self.mark.price if self.mark else None

    @property
    def unrealized_pnl(self) -> Decimal | None:
        price = self.price
        return (price - self.row["avg_entry"]) * self.row["amount"] if price is not None else None

    @property
    def net_realized_pnl(self) -> Decimal:
        realized: Decimal = self.row["realized_pnl"] - self.row["fees"]
        return realized


PORTFOLIO_POSITIONS = 20_000  # the newest positions a portfolio summary counts (bounded work)


@dataclass(frozen=True, slots=True)
class Portfolio:
    """Summaries of a user's results, and whether older positions were left out of them."""

    summaries: list[Summary]
    positions_counted: int
    truncated: bool


@dataclass(slots=True, eq=False)
class Records:
    """Pages of each owner's own records, newest first."""

    reports: Reports
    position_of: Callable[[int, int], WatchedPosition | None]
    valuations: Marks
    monitor: Closer

    async def signals(self, user_id: int, strategy_id: int | None, page: Page) -> list[Row]:
        """Signals of the user's own strategies, with how many subscriptions each reached."""
        return await asyncio.to_thread(self.reports.signals_of_provider, user_id, strategy_id, page)

    async def intents(
        self, user_id: int, signal_id: int | None, page: Page, status: str | None = None
    ) -> list[Row]:
        return await asyncio.to_thread(self.reports.intents, user_id, signal_id, page, status)

    async def orders(self, user_id: int, state: OrderState | None, page: Page) -> list[Row]:
        return await asyncio.to_thread(self.reports.orders, user_id, state, page)

    async def execution_log(self, user_id: int, intent_id: int | None, page: Page) -> list[Row]:
        return await asyncio.to_thread(self.reports.execution_log, user_id, intent_id, page)

    async def positions(self, user_id: int, status: str | None, page: Page) -> list[MarkedPosition]:
        """Positions, the open ones marked at the current price of their own account's venue."""
        rows = await asyncio.to_thread(self.reports.positions, user_id, status, page)
        marks = await self.valuations.marks(_mark_key(row) for row in rows if row["status"] == "open")
        return [MarkedPosition(row, marks.get(_mark_key(row))) for row in rows]

    async def portfolio(self, user_id: int, account_id: int | None, today: date) -> Portfolio:
        """The user's results per mode and quote currency (of one account, or all), from their newest
        PORTFOLIO_POSITIONS positions."""
        rows = await asyncio.to_thread(
            self.reports.position_results, user_id, account_id, PORTFOLIO_POSITIONS + 1
        )
        counted = rows[:PORTFOLIO_POSITIONS]
        return Portfolio(summarize(counted, today), len(counted), len(rows) > PORTFOLIO_POSITIONS)

    async def close_position(self, user: User, position_id: int) -> None:
        """Close an open position now with a market order (close reason MANUAL)."""
        position = await asyncio.to_thread(self.position_of, user.id, position_id)
        if position is None:
            raise NotFound(f"no position {position_id}")
        if not position.is_open:
            raise Conflict(f"position {position_id} is already closed")
        if position.state is TradingState.HALTED:
            raise Conflict(
                "the subscription is HALTED: no orders at all; set it ACTIVE or REDUCING first"
                if position.state_source == SUBSCRIPTION
                else f"{position.state_source} is HALTED: no orders at all"
            )
        sent = await self.monitor.close(position, CloseReason.MANUAL, f"closed by {user.username}")
        if not sent:
            # No order: one is in flight, or the position was closed without one (the exchange account
            # no longer held it: closed outside tradewire, domain/held_exit.py).
            now = await asyncio.to_thread(self.position_of, user.id, position_id)
            if now is not None and not now.is_open:
                raise Conflict(
                    f"position {position_id} is closed now, without an order: see its close reason "
                    "(OUTSIDE: the exchange account no longer held it)"
                )
            raise Conflict(f"an exit of position {position_id} is already in flight")


def _mark_key(row: Row) -> MarkKey:
    """A position is marked by its own account's venue: the paper market, or its live exchange."""
    return (row["account_id"], row["exchange"], row["mode"], row["symbol"])
