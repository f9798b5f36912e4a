"""A strategy's own track record per pair, from its signals, and the losing-pair blacklist it drives.

The record follows the strategy's signals, not any subscriber's fills: one virtual long per pair,
opened at the entry signal's price and closed at the exit's (gross of fees). So a thousand
subscribers do not count one losing trade a thousand times, and a blacklisted pair keeps being
measured while nobody trades it, which is what the weekly review needs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)

CONSECUTIVE_LOSSES = 5
MIN_TRADES_FOR_ROI = 3
ROI_FLOOR_PCT = Decimal(-10)
REVIEW_EVERY = timedelta(days=7)
WHITELIST_FOR = timedelta(days=30)


class PairStatus(StrEnum):
    NORMAL = "NORMAL"
    BLACKLISTED = "BLACKLISTED"  # entries skipped for every subscriber of the strategy
    WHITELISTED = "WHITELISTED"  # re-enabled: not blacklisted again automatically until it expires


@dataclass(frozen=True, slots=True)
class PairRecord:
    """One strategy's results on one pair; the window counters restart at every status change."""

    symbol: str
    trades: int = 0
    wins: int = 0
    gross_return_pct: Decimal = ZERO  # compounded over every closed trade
    window_trades: int = 0
    window_return_pct: Decimal = ZERO  # compounded since the last status change
    consecutive_losses: int = 0
    open_entry: Decimal | None = None
    status: PairStatus = PairStatus.NORMAL
    status_reason: str | None = None
    status_until: datetime | None = None  # blacklist: next review; whitelist: expiry
    manual: bool = False  # set by a user: reviews leave it alone

    def after_entry(self, price: Decimal) -> PairRecord:
        """An entry signal opens the virtual long (a repeat entry while open changes nothing)."""
        if self.open_entry is not None or price <= 0:
            return self
        return replace(self, open_entry=price)

    def after_exit(self, price: Decimal, now: datetime) -> PairRecord:
        """An exit signal closes the virtual long and may blacklist the pair."""
        if self.open_entry is None or price <= 0:
            return self
        ret = (price / self.open_entry - ONE) * HUNDRED
        won = ret > 0
        record = replace(
            self,
            open_entry=None,
            trades=self.trades + 1,
            wins=self.wins + int(won),
            gross_return_pct=_compound(self.gross_return_pct, ret),
            window_trades=self.window_trades + 1,
            window_return_pct=_compound(self.window_return_pct, ret),
            # A flat trade (gross 0) is neither: it leaves the losing streak as it was.
            consecutive_losses=0 if won else self.consecutive_losses + int(ret < 0),
        )
        return record._judged(now)

    def reviewed(self, now: datetime) -> PairRecord:
        """The weekly review of an automatic blacklisting, and the end of an expired whitelist."""
        if self.manual or self.status_until is None or now < self.status_until:
            return self
        if self.status is PairStatus.WHITELISTED:
            return self._moved(PairStatus.NORMAL, None, None, manual=False)
        if self.window_trades > 0 and self.window_return_pct > 0:
            return self._moved(
                PairStatus.WHITELISTED,
                f"re-enabled at review: {self.window_trades} trades since blacklisting returned "
                f"{self.window_return_pct:.2f}%",
                now + WHITELIST_FOR,
            )
        return replace(self, status_until=now + REVIEW_EVERY)  # still losing or idle: next week

    def overridden(self, status: PairStatus, now: datetime, who: str) -> PairRecord:
        """A user's decision; a re-enabled pair is whitelisted for 30 days."""
        if status is PairStatus.WHITELISTED:
            return self._moved(status, f"re-enabled by {who}", now + WHITELIST_FOR, manual=True)
        if status is PairStatus.BLACKLISTED:
            return self._moved(status, f"blacklisted by {who}", None, manual=True)
        return self._moved(PairStatus.NORMAL, None, None, manual=False)

    def blocking(self, now: datetime) -> str | None:
        """Why entries on this pair are refused now, or None."""
        current = self.reviewed(now)
        if current.status is not PairStatus.BLACKLISTED:
            return None
        return f"pair blacklisted for the strategy: {current.status_reason}"

    @property
    def win_rate_pct(self) -> Decimal:
        return Decimal(self.wins) / Decimal(self.trades) * HUNDRED if self.trades else ZERO

    def _judged(self, now: datetime) -> PairRecord:
        if self.status is not PairStatus.NORMAL:
            return self
        if self.consecutive_losses >= CONSECUTIVE_LOSSES:
            why = f"{self.consecutive_losses} consecutive losing trades"
        elif self.window_trades >= MIN_TRADES_FOR_ROI and self.window_return_pct < ROI_FLOOR_PCT:
            why = (
                f"return {self.window_return_pct:.2f}% over {self.window_trades} trades "
                f"(floor {ROI_FLOOR_PCT}%)"
            )
        else:
            return self
        return self._moved(PairStatus.BLACKLISTED, why, now + REVIEW_EVERY)

    def _moved(
        self, status: PairStatus, reason: str | None, until: datetime | None, manual: bool = False
    ) -> PairRecord:
        return replace(
            self,
            status=status,
            status_reason=reason,
            status_until=until,
            manual=manual,
            window_trades=0,
            window_return_pct=ZERO,
            consecutive_losses=0,
        )


@dataclass(frozen=True, slots=True)
class StrategyCurve:
    """The strategy's compounded track record over all pairs, as if one stake went through every
    closed trade in turn; its drawdown pauses subscribers' entries."""

    index: Decimal = ONE
    peak: Decimal = ONE

    def after_trade(self, return_pct: Decimal) -> StrategyCurve:
        index = self.index * (ONE + return_pct / HUNDRED)
        return StrategyCurve(index, max(self.peak, index))

    @property
    def drawdown_pct(self) -> Decimal:
        return (self.peak - self.index) / self.peak * HUNDRED if self.peak > 0 else ZERO


def _compound(total_pct: Decimal, ret_pct: Decimal) -> Decimal:
    return ((ONE + total_pct / HUNDRED) * (ONE + ret_pct / HUNDRED) - ONE) * HUNDRED
