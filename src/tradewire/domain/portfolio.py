"""A user's results at a glance (the dashboard's Portfolio): realised PnL today, over 7 days and in
total, the win rate and the cumulative realised PnL by day. Pure.

Results are those of closed positions, net of fees, counted on the UTC day the position closed. They
are never added across modes (paper and live) or quote currencies (a USDT result and a BTC result
are different money): there is one summary per mode and quote.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from tradewire.domain.money import ZERO

WEEK_DAYS = 7


class PositionResult(NamedTuple):
    """A position as the summary counts it: open ones by number, closed ones by their result."""

    mode: str
    symbol: str
    status: str  # open or closed
    realized_pnl: Decimal
    fees: Decimal
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class CurvePoint:
    day: date
    pnl: Decimal  # that day's closed positions, net
    cumulative: Decimal


@dataclass(frozen=True, slots=True)
class Summary:
    """One mode's results in one quote currency."""

    mode: str
    quote: str
    pnl_today: Decimal
    pnl_7d: Decimal
    pnl_total: Decimal
    closed_positions: int
    winning_positions: int
    open_positions: int
    curve: tuple[CurvePoint, ...]

    @property
    def win_rate_pct(self) -> Decimal | None:
        """Closed positions with a positive net result, in percent (None before the first close)."""
        if not self.closed_positions:
            return None
        return (Decimal(100) * self.winning_positions / self.closed_positions).quantize(Decimal("0.01"))


def quote_of(symbol: str) -> str:
    """The currency results of `symbol` are in: BTC/USDT -> USDT, BTC/USDT:USDT -> USDT."""
    _, _, quote = symbol.partition("/")
    return quote.partition(":")[0] or symbol


def summarize(positions: Iterable[PositionResult], today: date) -> list[Summary]:
    """One summary per (mode, quote) that has a position, paper first, then by quote."""
    daily: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    closed: dict[tuple[str, str], int] = defaultdict(int)
    wins: dict[tuple[str, str], int] = defaultdict(int)
    still_open: dict[tuple[str, str], int] = defaultdict(int)
    for p in positions:
        key = (p.mode, quote_of(p.symbol))
        if p.status != "closed" or p.closed_at is None:
            still_open[key] += 1
            continue
        net = p.realized_pnl - p.fees
        daily[key][p.closed_at.date()] += net
        closed[key] += 1
        wins[key] += net > 0
    week_start = today - timedelta(days=WEEK_DAYS - 1)
    summaries = []
    for key in sorted({*daily, *still_open}, key=lambda k: (k[0] != "paper", k)):
        days = daily.get(key, {})
        summaries.append(
            Summary(
                mode=key[0],
                quote=key[1],
                pnl_today=days.get(today, ZERO),
                pnl_7d=sum((pnl for day, pnl in days.items() if week_start <= day <= today), ZERO),
                pnl_total=sum(days.values(), ZERO),
                closed_positions=closed[key],
                winning_positions=wins[key],
                open_positions=still_open[key],
                curve=_curve(days),
            )
        )
    return summaries


def _curve(days: dict[date, Decimal]) -> tuple[CurvePoint, ...]:
    points = []
    total = ZERO
    for day in sorted(days):
        total += days[day]
        points.append(CurvePoint(day, days[day], total))
    return tuple(points)
