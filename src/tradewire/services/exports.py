"""Exports of an owner's orders, fills, positions and signals as CSV or JSON, streamed a page at a
time, and the yearly tax report of an account (domain.tax) from its fills.

Every value is written exactly: decimals as plain text ("0.002", never "2E-3"), times in ISO 8601 UTC
("2024-01-31T12:00:00Z"), nothing as a float. CSV starts with a header row; JSON is one array.
Methods are synchronous and read through the port page by page: call them from a worker thread
(a streaming response iterates them in one).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewire.domain.members import Invalid, NotFound
from tradewire.domain.money import fmt
from tradewire.domain.tax import TaxFill, TaxReport, tax_report, year_bounds
from tradewire.ports.exports import COLUMNS, ExportKind, ExportReads, ExportScope, Row

PAGE_SIZE = 500  # rows read per query: what an export holds in memory at once
TAX_CSV_COLUMNS = (
    "kind",
    "symbol",
    "currency",
    "amount",
    "acquired_at",
    "disposed_at",
    "holding_days",
    "term",
    "proceeds",
    "cost",
    "gain",
    "acquisition_fill_id",
    "disposal_fill_id",
    "unvalued_fee",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such text,
# e.g. a ticker from a webhook alert, is written with a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


@dataclass(frozen=True, slots=True)
class Exports:
    """Exports and tax reports of the records `reads` holds, scoped to their owner."""

    reads: ExportReads
    page_size: int = PAGE_SIZE

    def check(self, scope: ExportScope) -> None:
        """NotFound for an account or strategy the user may not see, Invalid for an empty range."""
        if scope.account_id is not None and not self.reads.owns_account(scope.user_id, scope.account_id):
            raise NotFound(f"no exchange account {scope.account_id}")
        if scope.strategy_id is not None and not self.reads.sees_strategy(scope.user_id, scope.strategy_id):
            raise NotFound(f"no strategy {scope.strategy_id}")
        if scope.start is not None and scope.end is not None and scope.start >= scope.end:
            raise Invalid("'from' must be before 'to'")

    def rows(self, kind: ExportKind, scope: ExportScope) -> Iterator[list[Row]]:
        """The records in scope, a page at a time, in id order (check the scope first)."""
        after: int | None = None
        while True:
            page = self.reads.page(kind, scope, after, self.page_size)
            if page:
                yield page
            if len(page) < self.page_size:
                return
            after = page[-1]["id"]

    def stream(self, kind: ExportKind, scope: ExportScope, form: ExportFormat) -> Iterator[bytes]:
        """The export as UTF-8 chunks, one per page (check the scope first)."""
        pages = self.rows(kind, scope)
        if form is ExportFormat.CSV:
            return csv_chunks(COLUMNS[kind], pages)
        return json_chunks(pages)

    def tax_report(self, user_id: int, account_id: int, year: int) -> TaxReport:
        """The account's FIFO tax report of `year` (UTC), from every fill up to the year's end."""
        try:
            _start, end = year_bounds(year)
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        if not self.reads.owns_account(user_id, account_id):
            raise NotFound(f"no exchange account {account_id}")
        return tax_report(self._fills(account_id, end), year)

    def _fills(self, account_id: int, before: datetime) -> Iterator[TaxFill]:
        after: tuple[datetime, int] | None = None
        while True:
            page = self.reads.fills_in_time_order(account_id, before, after, self.page_size)
            yield from page
            if len(page) < self.page_size:
                return
            after = (page[-1].executed_at, page[-1].fill_id)


def csv_chunks(columns: tuple[str, ...], pages: Iterable[list[Row]]) -> Iterator[bytes]:
    """A header row, then a chunk of rows per page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for page in pages:
        writer.writerows([_csv_cell(row[name]) for name in columns] for row in page)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no rows: the header alone
        yield buffer.getvalue().encode()


def json_chunks(pages: Iterable[list[Row]]) -> Iterator[bytes]:
    """One JSON array of objects, a chunk per page."""
    opened = False
    for page in pages:
        body = json.dumps([{k: json_value(v) for k, v in row.items()} for row in page], separators=(",", ":"))
        # Each page's array without its brackets, joined into one array.
        yield (("," if opened else "[") + body[1:-1]).encode()
        opened = True
    yield b"]" if opened else b"[]"


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, like the rest of the API."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def json_value(value: Any) -> Any:
    """A stored value as JSON keeps it exactly: decimals and times as text."""
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, datetime):
        return iso(value)
    return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return json_value(value)


def tax_document(report: TaxReport, account_id: int) -> dict[str, Any]:
    """The report as JSON-ready values (decimals and times as text)."""
    return {
        "account_id": account_id,
        "year": report.year,
        "method": "FIFO",
        "lines": [
            {
                "kind": line.kind.value,
                "symbol": line.symbol,
                "currency": line.quote,
                "amount": fmt(line.amount),
                "acquired_at": None if line.acquired_at is None else iso(line.acquired_at),
                "disposed_at": iso(line.disposed_at),
                "holding_days": line.holding_days,
                "long_term": line.long_term,
                "proceeds": fmt(line.proceeds),
                "cost": fmt(line.cost),
                "gain": fmt(line.gain),
                "acquisition_fill_id": line.acquisition_fill_id,
                "disposal_fill_id": line.disposal_fill_id,
                "unvalued_fee": line.unvalued_fee,
            }
            for line in report.lines
        ],
        "totals": [
            {
                "currency": t.quote,
                "proceeds": fmt(t.proceeds),
                "cost": fmt(t.cost),
                "gain": fmt(t.gain),
                "short_term_gain": fmt(t.short_term_gain),
                "long_term_gain": fmt(t.long_term_gain),
                "unmatched_proceeds": fmt(t.unmatched_proceeds),
            }
            for t in report.totals
        ],
        "open_lots": [
            {
                "symbol": lot.symbol,
                "currency": lot.quote,
                "amount": fmt(lot.amount),
                "cost": fmt(lot.cost),
                "acquired_at": iso(lot.acquired_at),
                "acquisition_fill_id": lot.acquisition_fill_id,
                "unvalued_fee": lot.unvalued_fee,
            }
            for lot in report.open_lots
        ],
        "unvalued_fees": [
            {
                "fill_id": fee.fill_id,
                "symbol": fee.symbol,
                "side": fee.side.value,
                "executed_at": iso(fee.executed_at),
                "amount": fmt(fee.amount),
                "currency": fee.currency,
            }
            for fee in report.unvalued_fees
        ],
        "unvalued_fee_totals": [
            {"currency": currency, "amount": fmt(amount)}
            for currency, amount in report.unvalued_fee_totals.items()
        ],
    }


def tax_csv(report: TaxReport) -> Iterator[bytes]:
    """The report as CSV (TAX_CSV_COLUMNS): its lines ("sale", "fee", "unmatched"), the lots open at
    the year's end ("open_lot"), the fees paid in third currencies ("unvalued_fee": the fee's amount and
    currency, the fill that paid it as the disposal), then per currency the totals ("total": matched
    proceeds, cost and gain; "total_short_term", "total_long_term": gains; "total_unmatched":
    proceeds) and the third-currency fees' ("total_unvalued_fee")."""
    rows: list[dict[str, Any]] = []
    for line in report.lines:
        rows.append(
            {
                "kind": line.kind.value,
                "symbol": line.symbol,
                "currency": line.quote,
                "amount": line.amount,
                "acquired_at": line.acquired_at,
                "disposed_at": line.disposed_at,
                "holding_days": line.holding_days,
                "term": None if line.long_term is None else ("long" if line.long_term else "short"),
                "proceeds": line.proceeds,
                "cost": line.cost,
                "gain": line.gain,
                "acquisition_fill_id": line.acquisition_fill_id,
                "disposal_fill_id": line.disposal_fill_id,
                "unvalued_fee": line.unvalued_fee,
            }
        )
    for lot in report.open_lots:
        rows.append(
            {
                "kind": "open_lot",
                "symbol": lot.symbol,
                "currency": lot.quote,
                "amount": lot.amount,
                "acquired_at": lot.acquired_at,
                "cost": lot.cost,
                "acquisition_fill_id": lot.acquisition_fill_id,
                "unvalued_fee": lot.unvalued_fee,
            }
        )
    for fee in report.unvalued_fees:
        rows.append(
            {
                "kind": "unvalued_fee",
                "symbol": fee.symbol,
                "currency": fee.currency,
                "amount": fee.amount,
                "disposed_at": fee.executed_at,
                "disposal_fill_id": fee.fill_id,
                "unvalued_fee": True,
            }
        )
    for t in report.totals:
        rows.append(
            {"kind": "total", "currency": t.quote, "proceeds": t.proceeds, "cost": t.cost, "gain": t.gain}
        )
        rows.append({"kind": "total_short_term", "currency": t.quote, "gain": t.short_term_gain})
        rows.append({"kind": "total_long_term", "currency": t.quote, "gain": t.long_term_gain})
        rows.append({"kind": "total_unmatched", "currency": t.quote, "proceeds": t.unmatched_proceeds})
    for currency, amount in report.unvalued_fee_totals.items():
        rows.append({"kind": "total_unvalued_fee", "currency": currency, "amount": amount})
    full = [{name: row.get(name) for name in TAX_CSV_COLUMNS} for row in rows]
    return csv_chunks(TAX_CSV_COLUMNS, [full[i : i + PAGE_SIZE] for i in range(0, len(full), PAGE_SIZE)])
