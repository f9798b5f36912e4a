"""Exports and the tax report: the rows of each export (JSON; CSV has the same columns), the report,
and the bounds of their query parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from tradewire.api.fields import UtcTime
from tradewire.api.schemas.common import Money
from tradewire.api.schemas.records import SignalFields
from tradewire.domain.tax import FIRST_YEAR, LAST_YEAR, LONG_TERM_DAYS

_EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
_LATEST = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError(f"must be between {FIRST_YEAR}-01-01 and {LAST_YEAR + 1}-01-01 (UTC)")
    return value


# A bound of an export's time range: ISO 8601 (UTC when no offset is given), within the years a
# report can cover.
ExportTime = Annotated[UtcTime, AfterValidator(_in_range)]


class ErrorOut(BaseModel):
    detail: str


class OrderRow(BaseModel):
    id: int
    account_id: int
    subscription_id: int | None
    strategy_id: int | None
    position_id: int | None
    mode: str
    client_order_id: str
    exchange_order_id: str | None
    symbol: str
    side: str
    type: str
    amount: Money
    price: Money | None
    state: str
    filled: Money
    average: Money | None
    fee: Money
    fee_currency: str | None
    reason: str | None
    close_reason: str | None
    tranche: int | None
    created_at: datetime
    updated_at: datetime


class FillRow(BaseModel):
    id: int
    order_id: int
    account_id: int
    strategy_id: int | None
    mode: str
    symbol: str
    side: str
    trade_id: str
    amount: Money
    price: Money
    fee: Money
    fee_currency: str
    executed_at: datetime


class PositionRow(BaseModel):
    id: int
    account_id: int
    subscription_id: int | None
    strategy_id: int | None
    mode: str
    symbol: str
    side: str
    status: str
    amount: Money
    avg_entry: Money
    cost_basis: Money
    realized_pnl: Money
    fees: Money
    close_reason: str | None
    opened_at: datetime
    closed_at: datetime | None
    updated_at: datetime


class SignalRow(SignalFields):
    received_at: datetime
    routed_at: datetime | None


class TaxLineOut(BaseModel):
    kind: str = Field(
        description="sale: part of a sale matched with part of a lot; fee: base currency paid as a fee "
        "(no proceeds); unmatched: sold beyond the open lots (no cost known)"
    )
    symbol: str
    currency: str = Field(description="the quote currency of proceeds, cost and gain")
    amount: Money
    acquired_at: datetime | None
    disposed_at: datetime
    holding_days: int | None
    long_term: bool | None = Field(description=f"held more than {LONG_TERM_DAYS} days")
    proceeds: Money
    cost: Money | None
    gain: Money | None
    acquisition_fill_id: int | None
    disposal_fill_id: int
    unvalued_fee: bool = Field(
        description="a fill of this line paid a fee in a third currency (unvalued_fees)"
    )


class TaxTotalsOut(BaseModel):
    currency: str
    proceeds: Money = Field(description="of matched lines")
    cost: Money
    gain: Money
    short_term_gain: Money
    long_term_gain: Money
    unmatched_proceeds: Money


class OpenLotOut(BaseModel):
    symbol: str
    currency: str
    amount: Money
    cost: Money
    acquired_at: datetime
    acquisition_fill_id: int
    unvalued_fee: bool


class UnvaluedFeeOut(BaseModel):
    fill_id: int
    symbol: str
    side: str
    executed_at: datetime
    amount: Money
    currency: str


class FeeTotalOut(BaseModel):
    currency: str
    amount: Money


class TaxReportOut(BaseModel):
    """A year's FIFO lots of one account: the lines, totals per quote currency, the lots still open at
    the year's end, and fees paid in third currencies (not valued, listed apart)."""

    account_id: int
    year: int
    method: str
    lines: list[TaxLineOut]
    totals: list[TaxTotalsOut]
    open_lots: list[OpenLotOut]
    unvalued_fees: list[UnvaluedFeeOut]
    unvalued_fee_totals: list[FeeTotalOut]
