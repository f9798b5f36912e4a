"""Position accounting: average entry, realised and unrealised PnL, fees."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradewire.domain.money import ZERO
from tradewire.domain.orders import OrderSide


class PositionStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CloseReason(StrEnum):
    SIGNAL = "SIGNAL"
    SL = "SL"
    TP = "TP"
    TRAILING = "TRAILING"
    TIMEOUT = "TIMEOUT"
    RISK = "RISK"
    MANUAL = "MANUAL"
    OUTSIDE = "OUTSIDE"  # the account no longer holds it: sold (or moved) outside tradewire


@dataclass(frozen=True, slots=True)
class Position:
    """A long spot position in one symbol (quote-denominated PnL; fees kept apart from price PnL)."""

    symbol: str
    amount: Decimal = ZERO
    avg_entry: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    status: PositionStatus = PositionStatus.OPEN
    close_reason: CloseReason | None = None

    def apply_fill(
        self,
        side: OrderSide,
        amount: Decimal,
        price: Decimal,
        fee: Decimal,
        reason: CloseReason = CloseReason.SIGNAL,
    ) -> Position:
        """The position after one fill: buys raise the size and re-average, sells realise PnL."""
        if amount <= 0:
            raise ValueError("fill amount must be positive")
        if side is OrderSide.BUY:
            new_amount = self.amount + amount
            cost_basis = self.cost_basis + amount * price
            return Position(
                symbol=self.symbol,
                amount=new_amount,
                avg_entry=cost_basis / new_amount,
                cost_basis=cost_basis,
                realized_pnl=self.realized_pnl,
                fees=self.fees + fee,
            )
        if amount > self.amount:
            raise ValueError(f"cannot sell {amount} of a {self.amount} {self.symbol} position")
        remaining = self.amount - amount
        realized = self.realized_pnl + (price - self.avg_entry) * amount
        closed = remaining == 0
        return Position(
            symbol=self.symbol,
            amount=remaining,
            avg_entry=self.avg_entry,
            cost_basis=ZERO if closed else self.avg_entry * remaining,
            realized_pnl=realized,
            fees=self.fees + fee,
            status=PositionStatus.CLOSED if closed else PositionStatus.OPEN,
            close_reason=reason if closed else None,
        )

    def settle_dust(self, min_sellable: Decimal | None, reason: CloseReason) -> Position:
        """Close a position whose remainder can no longer be sold (below the market's minimum).

        Fees taken in the base asset and step rounding leave such remainders after a full exit; the
        dust stays recorded as the closed position's amount. `reason` is that of the sale that left
        the dust (a stop loss stays a stop loss), so it has no default.
        """
        if (
            min_sellable is None
            or self.status is not PositionStatus.OPEN
            or self.amount <= 0
            or self.amount >= min_sellable
        ):
            return self
        return dataclasses.replace(self, status=PositionStatus.CLOSED, close_reason=reason)

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """Price PnL of what is still held, at `mark`."""
        return (mark - self.avg_entry) * self.amount

    @property
    def net_realized_pnl(self) -> Decimal:
        """Realised price PnL less every fee paid on this position."""
        return self.realized_pnl - self.fees


def position_change(
    side: OrderSide, amount: Decimal, price: Decimal, fee: Decimal, fee_currency: str, symbol: str
) -> tuple[Decimal, Decimal]:
    """(base units the position changes by, fee in quote units) for one fill.

    Exchanges such as Bybit take a buy's fee in the asset bought: 0.002 BTC bought with a 0.1 % fee
    leaves 0.001998 BTC to hold. A fee in a third asset (BNB) is not converted here.
    """
    base, _, quote = symbol.partition("/")
    quote = quote.split(":")[0]
    if fee_currency == base:
        held = amount - fee if side is OrderSide.BUY else amount + fee
        return held, fee * price
    if fee_currency in (quote, ""):
        return amount, fee
    return amount, Decimal(0)
