"""An exit refused for insufficient funds: what the account still holds of the position's asset
decides what happens next. The user may have sold part or all of it by hand on the exchange, a fee
may have been taken in it, or an order placed by hand may hold it.

- Holds it free: the refusal was about something else; the exit is tried again as before.
- Holds all of it, but not free (locked in an order placed by hand): nothing is written off; the
  exit is tried again and the user is told once.
- Holds less: the missing amount is written off at the average entry (no invented profit or loss)
  and the next exit sells what is free, floored to the market's step (freqtrade's
  `_safe_exit_amount` does the same for small shortfalls).
- Holds less than the smallest sellable amount: the position was closed outside tradewire.
- The balance cannot be read: nothing is written off (default-deny); tried again as before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradewire.domain.balances import AssetBalance
from tradewire.domain.events import Event, Topic, position_fields
from tradewire.domain.markets import Market
from tradewire.domain.money import ZERO, fmt
from tradewire.domain.positions import CloseReason, Position, PositionStatus

# The start of the reason an order refused for insufficient funds is stored with (ErrorKind's value).
FUNDS_REFUSAL = "insufficient_funds"


def refused_for_funds(reason: str | None) -> bool:
    """Whether an order's stored rejection reason is the exchange's "insufficient funds"."""
    return reason is not None and reason.startswith(f"{FUNDS_REFUSAL}:")


class Held(StrEnum):
    """What the account holds of a position's asset, against the position's amount."""

    UNKNOWN = "unknown"  # the balance (or the market) could not be read
    HELD = "held"  # all of it, free
    LOCKED = "locked"  # all of it, but not all free
    SHORT = "short"  # less than the position: the missing amount is written off
    GONE = "gone"  # less than the market's smallest sellable amount: closed outside tradewire


@dataclass(frozen=True, slots=True)
class HeldExit:
    """The decision about one refused exit: `write_off` leaves the position at what the account
    holds; `sell` (when set) is the next exit's amount."""

    held: Held
    amount: Decimal  # the position's amount the decision was taken against
    asset: str = ""
    free: Decimal | None = None
    total: Decimal | None = None
    write_off: Decimal = ZERO
    sell: Decimal | None = None

    @property
    def closes(self) -> bool:
        return self.held is Held.GONE

    @property
    def changes_position(self) -> bool:
        return self.write_off > 0 or self.closes

    def note(self) -> str:
        """What happened, with the numbers, for the execution log and the user."""
        a = self.asset
        holds = f"the account holds {fmt(self.total or ZERO)} {a} ({fmt(self.free or ZERO)} free)"
        of = f"of the position's {fmt(self.amount)} {a}"
        if self.held is Held.GONE:
            return (
                f"exit refused for insufficient funds: {holds} {of}, less than the smallest sellable "
                f"amount; closed outside tradewire, {fmt(self.write_off)} {a} written off at the "
                "average entry"
            )
        if self.held is Held.LOCKED:
            return (
                f"exit refused for insufficient funds: {holds} {of}; the rest is locked in an order "
                "not placed by tradewire. Nothing written off; the exit is tried again"
            )
        if self.held is Held.SHORT:
            then = (
                f"the exit now sells {fmt(self.sell)} {a}"
                if self.sell is not None
                else "the rest is locked in an order not placed by tradewire; the exit is tried again"
            )
            return (
                f"exit refused for insufficient funds: {holds} {of}; {fmt(self.write_off)} {a} "
                f"written off at the average entry, {then}"
            )
        if self.held is Held.HELD:
            return f"exit refused for insufficient funds, yet {holds}; the exit is tried again"
        return "exit refused for insufficient funds; the balance could not be read, nothing written off"


def decide(amount: Decimal, balance: AssetBalance | None, market: Market | None) -> HeldExit:
    """What to do about a position of `amount` whose exit was refused for insufficient funds, given
    the account's balance of its base asset (None: unreadable) and its market (None: unknown)."""
    if balance is None or market is None or amount <= 0:
        return HeldExit(Held.UNKNOWN, amount, market.base if market else "")
    free, total = max(balance.free, ZERO), max(balance.total, ZERO)
    known = HeldExit(Held.HELD, amount, market.base, free, total)
    smallest = market.min_sellable
    if total < smallest:
        return dataclasses.replace(known, held=Held.GONE, write_off=amount - min(total, amount))
    if total >= amount:
        return known if free >= amount else dataclasses.replace(known, held=Held.LOCKED)
    sellable = market.amount_to_precision(min(free, total))
    return dataclasses.replace(
        known,
        held=Held.SHORT,
        write_off=amount - total,
        sell=sellable if sellable >= smallest else None,
    )


def written_off(position: Position, decision: HeldExit) -> Position:
    """The position after the decision's write-off: the missing amount leaves at the average entry
    (realised PnL unchanged, cost basis reduced); a position closed outside tradewire is closed."""
    if not decision.changes_position or position.status is not PositionStatus.OPEN:
        return position
    remaining = max(position.amount - decision.write_off, ZERO)
    closed = decision.closes or remaining == 0
    return dataclasses.replace(
        position,
        amount=remaining,
        cost_basis=ZERO if closed else position.avg_entry * remaining,
        status=PositionStatus.CLOSED if closed else PositionStatus.OPEN,
        close_reason=CloseReason.OUTSIDE if closed else None,
    )


@dataclass(frozen=True, slots=True)
class PositionOwner:
    """Whose a position is: what its execution log line and event carry."""

    position_id: int
    user_id: int
    account_id: int
    subscription_id: int | None
    mode: str
    symbol: str


def held_exit_event(owner: PositionOwner, after: Position, decision: HeldExit) -> Event:
    """The user's event: `closed` (a position closed outside tradewire), else `exit_refused` with
    what was written off or found locked; both say why, with the numbers."""
    kind = "closed" if after.status is PositionStatus.CLOSED else "exit_refused"
    data = position_fields(
        owner.position_id,
        owner.account_id,
        owner.subscription_id,
        owner.mode,
        after,
        held=decision.held,
        position_amount=decision.amount,
        free=decision.free,
        total=decision.total,
        written_off=decision.write_off,
        note=decision.note(),
    )
    return Event(owner.user_id, Topic.POSITIONS, kind, data)
