"""Tax lots from fills: first in, first out, in exact decimals that add up to the fills to the last unit.

Lots are matched per market (BASE/QUOTE), so a lot's cost and what it was sold for are in the same
currency (the quote) and nothing has to be converted at a rate we do not have. Fees:

- in the quote currency: added to a buy's cost, taken from a sale's proceeds;
- in the base currency: a buy acquires that much less; a sale gives up that much more, as an extra
  disposal ("fee" line) with no proceeds, so its cost is a loss;
- in any other currency (BNB ...): cannot be valued from our data, so it is listed per fill and totalled
  per currency apart from the money columns, and every line whose fill paid one says so.

A sale (or a fee paid in the base currency) beyond the open lots, e.g. of a balance held before the
account traded here, is an "unmatched" line: its amount and proceeds, no cost and no gain.

A lot split between sales, or a sale split between lots, shares its cost (proceeds) by amount, each
share rounded to 18 decimal places except the last, which takes what is left: the shares of a fill add
up to the fill exactly.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
)
from enum import StrEnum

from tradewire.domain.orders import OrderSide

ZERO = Decimal(0)
LONG_TERM_DAYS = 365  # held longer than this: long term
SHARE_QUANTUM = Decimal("1e-18")  # a split share's rounding (the last share takes the remainder)
FIRST_YEAR = 1970
LAST_YEAR = 9998  # the year after it must still be a datetime

# Sums and products exactly, or an error: 120 digits hold any product of two stored values (38 digits
# each) and sums of millions of them; nothing is ever rounded silently.
_EXACT = Context(prec=120, traps=[Inexact, Rounded, InvalidOperation, Overflow, DivisionByZero])
# Shares are quotients: computed wide, then rounded to SHARE_QUANTUM once.
_WIDE = Context(prec=120, traps=[InvalidOperation, Overflow, DivisionByZero])


class LineKind(StrEnum):
    """What a report line is."""

    SALE = "sale"  # part of a sale matched with part of a lot
    FEE = "fee"  # base currency given up as a fee, matched with part of a lot (no proceeds)
    UNMATCHED = "unmatched"  # sold (or paid as a fee) beyond the open lots: no cost known


@dataclass(frozen=True, slots=True)
class TaxFill:
    """One fill of one account, as the tax report reads it."""

    fill_id: int
    symbol: str  # BASE/QUOTE, optionally :SETTLE
    side: OrderSide
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    executed_at: datetime

    @property
    def base(self) -> str:
        return self.symbol.partition("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.partition("/")[2].split(":")[0]

    @property
    def fee_in_quote(self) -> Decimal:
        # An empty fee currency is the quote's, as positions read it (domain.positions.position_change).
        return self.fee if self.fee_currency in (self.quote, "") else ZERO

    @property
    def fee_in_base(self) -> Decimal:
        return self.fee if self.fee_currency == self.base and self.base != self.quote else ZERO

    @property
    def fee_unvalued(self) -> bool:
        """A fee in a third currency: we hold no exact price for it."""
        return self.fee != 0 and self.fee_currency not in (self.base, self.quote, "")


@dataclass(frozen=True, slots=True)
class TaxLine:
    """Part of a disposal: `amount` of the base currency, what it brought and what it had cost."""

    kind: LineKind
    symbol: str
    quote: str
    amount: Decimal
    disposed_at: datetime
    disposal_fill_id: int
    proceeds: Decimal
    cost: Decimal | None  # None: unmatched
    acquired_at: datetime | None
    acquisition_fill_id: int | None
    unvalued_fee: bool  # the acquiring or the disposing fill paid a fee in a third currency

    @property
    def gain(self) -> Decimal | None:
        return None if self.cost is None else _EXACT.subtract(self.proceeds, self.cost)

    @property
    def holding_days(self) -> int | None:
        return None if self.acquired_at is None else (self.disposed_at - self.acquired_at).days

    @property
    def long_term(self) -> bool | None:
        days = self.holding_days
        return None if days is None else days > LONG_TERM_DAYS


@dataclass(frozen=True, slots=True)
class OpenLot:
    """What is left of an acquisition: its amount and the cost still attached to it."""

    symbol: str
    quote: str
    acquisition_fill_id: int
    acquired_at: datetime
    amount: Decimal
    cost: Decimal
    unvalued_fee: bool


@dataclass(frozen=True, slots=True)
class UnvaluedFee:
    """A fee paid in a currency that is neither the market's base nor its quote."""

    fill_id: int
    symbol: str
    side: OrderSide
    executed_at: datetime
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class TaxTotals:
    """A year's lines added up, in one quote currency."""

    quote: str
    proceeds: Decimal  # of matched lines (sales and fees)
    cost: Decimal
    gain: Decimal
    short_term_gain: Decimal
    long_term_gain: Decimal
    unmatched_proceeds: Decimal


@dataclass(frozen=True, slots=True)
class TaxReport:
    """One account's year: every disposal line, the lots open at the year's end, unvalued fees, totals."""

    year: int
    lines: tuple[TaxLine, ...]
    open_lots: tuple[OpenLot, ...]
    unvalued_fees: tuple[UnvaluedFee, ...]

    @property
    def totals(self) -> tuple[TaxTotals, ...]:
        """Per quote currency, in alphabetical order."""
        return tuple(_totals(quote, [x for x in self.lines if x.quote == quote]) for quote in self.quotes)

    @property
    def quotes(self) -> list[str]:
        return sorted({line.quote for line in self.lines})

    @property
    def unvalued_fee_totals(self) -> dict[str, Decimal]:
        """The year's fees in third currencies, per currency (alphabetical)."""
        sums: dict[str, Decimal] = {}
        for fee in self.unvalued_fees:
            sums[fee.currency] = _EXACT.add(sums.get(fee.currency, ZERO), fee.amount)
        return dict(sorted(sums.items()))


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """[start, end) of a calendar year in UTC; ValueError outside FIRST_YEAR..LAST_YEAR."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"the year must be between {FIRST_YEAR} and {LAST_YEAR}")
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def tax_report(fills: Iterable[TaxFill], year: int) -> TaxReport:
    """The report of `year` (UTC) from an account's fills in time order (executed_at, then id).

    Fills of earlier years build the lots; reading stops at the first fill after the year.
    """
    start, end = year_bounds(year)
    book = FifoBook()
    lines: list[TaxLine] = []
    fees: list[UnvaluedFee] = []
    for fill in fills:
        if fill.executed_at >= end:
            break
        made = book.apply(fill)
        if fill.executed_at >= start:
            lines.extend(made)
            if fill.fee_unvalued:
                fees.append(
                    UnvaluedFee(
                        fill.fill_id, fill.symbol, fill.side, fill.executed_at, fill.fee, fill.fee_currency
                    )
                )
    return TaxReport(year, tuple(lines), tuple(book.open_lots()), tuple(fees))


@dataclass(slots=True)
class _Lot:
    fill: TaxFill
    amount: Decimal
    cost: Decimal


@dataclass(slots=True)
class _Disposal:
    """What a disposing fill has still to match: its amount and the proceeds not yet shared out."""

    kind: LineKind
    fill: TaxFill
    amount: Decimal
    proceeds: Decimal


@dataclass
class FifoBook:
    """Open lots per market, oldest first; `apply` takes fills in time order and says what they sold."""

    _lots: dict[str, deque[_Lot]] = field(default_factory=dict)
    _last: tuple[datetime, int] | None = None

    def apply(self, fill: TaxFill) -> list[TaxLine]:
        """The lines `fill` disposes of (none for a buy, unless its fee in the base exceeds it)."""
        key = (fill.executed_at, fill.fill_id)
        if self._last is not None and key <= self._last:
            raise ValueError(f"fill {fill.fill_id} is out of time order")
        self._last = key
        gross = _EXACT.multiply(fill.amount, fill.price)
        base_fee = fill.fee_in_base
        if fill.side is OrderSide.BUY:
            return self._buy(
                fill, _EXACT.add(gross, fill.fee_in_quote), _EXACT.subtract(fill.amount, base_fee)
            )
        proceeds = _EXACT.subtract(gross, fill.fee_in_quote)
        lines = self._dispose(_Disposal(LineKind.SALE, fill, fill.amount, proceeds))
        if base_fee > 0:
            lines += self._dispose(_Disposal(LineKind.FEE, fill, base_fee, ZERO))
        elif base_fee < 0:  # a rebate paid in the base: acquired at no cost
            self._queue(fill.symbol).append(_Lot(fill, -base_fee, ZERO))
        return lines

    def open_lots(self) -> Iterator[OpenLot]:
        for symbol in sorted(self._lots):
            for lot in self._lots[symbol]:
                yield OpenLot(
                    symbol,
                    lot.fill.quote,
                    lot.fill.fill_id,
                    lot.fill.executed_at,
                    lot.amount,
                    lot.cost,
                    lot.fill.fee_unvalued,
                )

    def _buy(self, fill: TaxFill, cost: Decimal, acquired: Decimal) -> list[TaxLine]:
        if acquired > 0:
            self._queue(fill.symbol).append(_Lot(fill, acquired, cost))
            return []
        # Nothing left once the fee in the base is paid: the whole cost is spent at once, and a fee
        # beyond the amount bought is paid from the open lots.
        spent = _line(LineKind.FEE, fill, fill.amount, ZERO, _Lot(fill, fill.amount, cost), cost)
        if acquired == 0:
            return [spent]
        return [spent, *self._dispose(_Disposal(LineKind.FEE, fill, -acquired, ZERO))]

    def _dispose(self, disposal: _Disposal) -> list[TaxLine]:
        queue = self._queue(disposal.fill.symbol)
        lines: list[TaxLine] = []
        while disposal.amount > 0 and queue:
            lot = queue[0]
            taken = min(lot.amount, disposal.amount)
            cost = _share(lot.cost, taken, lot.amount)
            proceeds = _share(disposal.proceeds, taken, disposal.amount)
            lines.append(_line(disposal.kind, disposal.fill, taken, proceeds, lot, cost))
            lot.amount = _EXACT.subtract(lot.amount, taken)
            lot.cost = _EXACT.subtract(lot.cost, cost)
            disposal.amount = _EXACT.subtract(disposal.amount, taken)
            disposal.proceeds = _EXACT.subtract(disposal.proceeds, proceeds)
            if lot.amount == 0:
                queue.popleft()
        # Beyond the open lots; or proceeds without an amount (a fee on a fill of nothing): kept, unmatched.
        if disposal.amount > 0 or disposal.proceeds != 0:
            lines.append(
                _line(LineKind.UNMATCHED, disposal.fill, disposal.amount, disposal.proceeds, None, None)
            )
        return lines

    def _queue(self, symbol: str) -> deque[_Lot]:
        queue = self._lots.get(symbol)
        if queue is None:
            queue = self._lots[symbol] = deque()
        return queue


def _share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """`part`/`whole` of `total`, rounded to SHARE_QUANTUM; all of it when `part` is the whole."""
    if part == whole:
        return total
    exact = _WIDE.divide(_WIDE.multiply(total, part), whole)
    return exact.quantize(SHARE_QUANTUM, rounding=ROUND_HALF_EVEN, context=_WIDE)


def _line(
    kind: LineKind,
    fill: TaxFill,
    amount: Decimal,
    proceeds: Decimal,
    lot: _Lot | None,
    cost: Decimal | None,
) -> TaxLine:
    return TaxLine(
        kind=kind,
        symbol=fill.symbol,
        quote=fill.quote,
        amount=amount,
        disposed_at=fill.executed_at,
        disposal_fill_id=fill.fill_id,
        proceeds=proceeds,
        cost=cost,
        acquired_at=None if lot is None else lot.fill.executed_at,
        acquisition_fill_id=None if lot is None else lot.fill.fill_id,
        unvalued_fee=fill.fee_unvalued or (lot is not None and lot.fill.fee_unvalued),
    )


def _totals(quote: str, lines: list[TaxLine]) -> TaxTotals:
    proceeds = cost = short = long = unmatched = ZERO
    for line in lines:
        if line.cost is None:
            unmatched = _EXACT.add(unmatched, line.proceeds)
            continue
        proceeds = _EXACT.add(proceeds, line.proceeds)
        cost = _EXACT.add(cost, line.cost)
        gain = _EXACT.subtract(line.proceeds, line.cost)
        if line.long_term:
            long = _EXACT.add(long, gain)
        else:
            short = _EXACT.add(short, gain)
    return TaxTotals(quote, proceeds, cost, _EXACT.subtract(proceeds, cost), short, long, unmatched)
