"""Reading one's records and closing a position by hand, without a database or an exchange."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from tradewire.domain.members import Conflict, NotFound, User
from tradewire.domain.portfolio import PositionResult
from tradewire.domain.positions import CloseReason
from tradewire.domain.records import Page, WatchedPosition
from tradewire.domain.risk import RiskLimits, TradingState
from tradewire.ports.reports import Row
from tradewire.services.records import Records
from tradewire.services.valuation import Mark, MarkKey

ALICE = User(1, "alice", "hashed")
POSITION = WatchedPosition(
    position_id=7,
    account_id=3,
    subscription_id=5,
    user_id=1,
    mode="paper",
    exchange="paper",
    symbol="BTC/USDT",
    is_open=True,
    amount=Decimal("0.5"),
    avg_entry=Decimal(100),
    stop_loss=None,
    take_profit=None,
    trailing_pct=None,
    trailing_activation_pct=None,
    best_price=None,
    deadline_at=None,
    state=TradingState.ACTIVE,
    risk=RiskLimits(),
    updated_at=datetime(2026, 1, 5, tzinfo=UTC),
)


class Closer:
    def __init__(self, placed: int = 1) -> None:
        self.placed = placed
        self.closed: list[tuple[int, CloseReason, str]] = []

    async def close(self, position: WatchedPosition, reason: CloseReason, note: str) -> int:
        self.closed.append((position.position_id, reason, note))
        return self.placed


class Marks:
    def __init__(self, prices: dict[str, Decimal | None]) -> None:
        self.prices = prices
        self.asked: list[MarkKey] = []

    async def marks(self, keys: Iterable[MarkKey]) -> dict[MarkKey, Mark]:
        self.asked = list(keys)
        return {
            k: Mark(self.prices[k[3]], k[1], None if self.prices[k[3]] else "no price") for k in self.asked
        }


class Reports:
    def __init__(self, positions: list[Row]) -> None:
        self.rows = positions

    def positions(self, user_id: int, status: str | None, page: Page) -> list[Row]:
        return [r for r in self.rows if status is None or r["status"] == status][: page.limit]

    def __getattr__(self, name: str) -> Any:
        return lambda *args: [{"query": name, "args": args}]


def records(position: WatchedPosition | None = POSITION, closer: Closer | None = None) -> Records:
    """Alice's position 7 (or none), and `closer` to close it with."""
    return Records(
        Reports([]),
        lambda user_id, position_id: position if user_id == ALICE.id else None,
        Marks({}),
        closer or Closer(),
    )


async def test_a_manual_close_goes_through_the_exit_path_with_who_closed_it() -> None:
    closer = Closer()

    await records(closer=closer).close_position(ALICE, 7)

    assert closer.closed == [(7, CloseReason.MANUAL, "closed by alice")]


async def test_another_users_or_a_missing_position_is_not_found() -> None:
    closer = Closer()

    with pytest.raises(NotFound, match="no position 7"):
        await records(closer=closer).close_position(User(2, "bob", "x"), 7)
    with pytest.raises(NotFound, match="no position 7"):
        await records(None, closer).close_position(ALICE, 7)

    assert closer.closed == []


@pytest.mark.parametrize(
    ("position", "placed", "message"),
    [
        (replace(POSITION, is_open=False), 1, "position 7 is already closed"),
        (replace(POSITION, state=TradingState.HALTED), 1, "the subscription is HALTED: no orders at all"),
        (POSITION, 0, "an exit of position 7 is already in flight"),
    ],
)
async def test_a_close_that_cannot_be_sent_is_a_conflict(
    position: WatchedPosition, placed: int, message: str
) -> None:
    closer = Closer(placed)

    with pytest.raises(Conflict, match=message):
        await records(position, closer).close_position(ALICE, 7)

    assert len(closer.closed) == (1 if placed == 0 else 0)


async def test_a_close_that_finds_the_position_closed_outside_tradewire_says_so() -> None:
    # The monitor closed it without an order: the exchange account no longer held its coin.
    reads = iter([POSITION, replace(POSITION, is_open=False)])
    closer = Closer(placed=0)
    service = Records(Reports([]), lambda user_id, position_id: next(reads), Marks({}), closer)

    with pytest.raises(Conflict, match="position 7 is closed now, without an order: see its close reason"):
        await service.close_position(ALICE, 7)


async def test_open_positions_are_marked_at_their_venue_and_closed_ones_are_not() -> None:
    base = {
        "account_id": 3,
        "exchange": "paper",
        "mode": "paper",
        "amount": Decimal(2),
        "avg_entry": Decimal(100),
        "realized_pnl": Decimal(5),
        "fees": Decimal(1),
    }
    rows = [
        {**base, "id": 1, "symbol": "BTC/USDT", "status": "open"},
        {**base, "id": 2, "symbol": "ETH/USDT", "status": "open"},
        {**base, "id": 3, "symbol": "SOL/USDT", "status": "closed"},
    ]
    marks = Marks({"BTC/USDT": Decimal(110), "ETH/USDT": None, "SOL/USDT": Decimal(30)})
    book = Records(Reports(rows), lambda user_id, position_id: None, marks, Closer())

    marked = await book.positions(1, None, Page(100))

    assert [(p.price, p.unrealized_pnl, p.net_realized_pnl) for p in marked] == [
        (Decimal(110), Decimal(20), Decimal(4)),
        (None, None, Decimal(4)),
        (None, None, Decimal(4)),  # closed: not marked
    ]
    assert [key[3] for key in marks.asked] == ["BTC/USDT", "ETH/USDT"]
    assert marked[1].mark is not None and marked[1].mark.error == "no price"


async def test_the_portfolio_counts_the_newest_positions_and_says_when_older_ones_were_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = PositionResult(
        "paper", "BTC/USDT", "closed", Decimal(5), Decimal(1), datetime(2026, 1, 5, tzinfo=UTC)
    )
    asked: list[tuple[int, int | None, int]] = []

    class Results(Reports):
        def position_results(self, user_id: int, account_id: int | None, limit: int) -> list[PositionResult]:
            asked.append((user_id, account_id, limit))
            return [closed] * min(limit, 4)

    service = replace(records(), reports=Results([]))
    monkeypatch.setattr("tradewire.services.records.PORTFOLIO_POSITIONS", 3)

    found = await service.portfolio(1, 7, date(2026, 1, 5))

    assert asked == [(1, 7, 4)]  # one more than it counts: to know whether any was left out
    assert (found.positions_counted, found.truncated) == (3, True)
    [paper] = found.summaries
    assert (paper.pnl_today, paper.closed_positions) == (Decimal(12), 3)
