"""Exports and tax reports (services.exports) on the in-memory twin: scope checks, paging, and how
values are written in CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.fakes.memory_exports import MemoryExports
from tradewire.domain.members import Invalid, NotFound
from tradewire.domain.orders import OrderSide
from tradewire.domain.tax import TaxFill
from tradewire.ports.exports import COLUMNS, ExportKind, ExportScope
from tradewire.services.exports import (
    TAX_CSV_COLUMNS,
    ExportFormat,
    Exports,
    tax_csv,
    tax_document,
)

ALICE, BOB = 1, 2
ALICE_ACCOUNT, BOB_ACCOUNT = 10, 20
ALICE_PRIVATE, BOB_PRIVATE, BOB_PUBLIC = 100, 200, 201
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def fill_row(fill_id: int, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": fill_id,
        "order_id": 7,
        "account_id": ALICE_ACCOUNT,
        "strategy_id": ALICE_PRIVATE,
        "mode": "paper",
        "symbol": "BTC/USDT",
        "side": "buy",
        "trade_id": f"t{fill_id}",
        "amount": Decimal("0.0020"),
        "price": Decimal("60000.5"),
        "fee": Decimal("1E-7"),
        "fee_currency": "BTC",
        "executed_at": T0 + timedelta(minutes=fill_id),
    }
    return {**row, **changes}


@pytest.fixture
def reads() -> MemoryExports:
    memory = MemoryExports(
        accounts={ALICE_ACCOUNT: ALICE, BOB_ACCOUNT: BOB},
        strategies={ALICE_PRIVATE: (ALICE, False), BOB_PRIVATE: (BOB, False), BOB_PUBLIC: (BOB, True)},
    )
    for fill_id in range(1, 6):
        row = fill_row(fill_id)
        memory.add(
            ExportKind.FILLS, row, {ALICE}, {ALICE_ACCOUNT}, ALICE_PRIVATE, T0 + timedelta(minutes=fill_id)
        )
    bob = fill_row(6, account_id=BOB_ACCOUNT, strategy_id=BOB_PRIVATE)
    memory.add(ExportKind.FILLS, bob, {BOB}, {BOB_ACCOUNT}, BOB_PRIVATE, T0)
    return memory


def csv_rows(chunks: list[bytes]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(chunks).decode())))


# --- scope ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "error", "message"),
    [
        (ExportScope(ALICE, account_id=BOB_ACCOUNT), NotFound, "no exchange account 20"),
        (ExportScope(ALICE, account_id=99), NotFound, "no exchange account 99"),
        (ExportScope(ALICE, strategy_id=BOB_PRIVATE), NotFound, "no strategy 200"),
        (ExportScope(ALICE, start=T0, end=T0), Invalid, "'from' must be before 'to'"),
    ],
)
def test_a_scope_beyond_the_user_is_refused(
    reads: MemoryExports, scope: ExportScope, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Exports(reads).check(scope)


def test_a_public_strategy_and_ones_own_account_are_accepted(reads: MemoryExports) -> None:
    Exports(reads).check(ExportScope(ALICE, ALICE_ACCOUNT, BOB_PUBLIC, T0, T0 + timedelta(seconds=1)))


# --- paging and formats ---------------------------------------------------------------------------


def test_an_export_is_read_and_written_a_page_at_a_time(reads: MemoryExports) -> None:
    chunks = list(Exports(reads, page_size=2).stream(ExportKind.FILLS, ExportScope(ALICE), ExportFormat.CSV))

    assert reads.reads == [("fills", 2), ("fills", 2), ("fills", 1)]
    assert len(chunks) == 3  # the header comes with the first page
    rows = csv_rows(chunks)
    assert rows[0] == list(COLUMNS[ExportKind.FILLS])
    assert [row[0] for row in rows[1:]] == ["1", "2", "3", "4", "5"]  # Bob's fill is not Alice's


def test_a_last_full_page_ends_with_one_empty_read(reads: MemoryExports) -> None:
    pages = list(Exports(reads, page_size=5).rows(ExportKind.FILLS, ExportScope(ALICE)))

    assert [len(page) for page in pages] == [5]
    assert reads.reads == [("fills", 5), ("fills", 0)]


def test_csv_writes_exact_decimals_utc_times_and_empty_nulls(reads: MemoryExports) -> None:
    scope = ExportScope(ALICE, end=T0 + timedelta(minutes=2))

    [header, row] = csv_rows(list(Exports(reads).stream(ExportKind.FILLS, scope, ExportFormat.CSV)))

    assert dict(zip(header, row, strict=True)) == {
        "id": "1",
        "order_id": "7",
        "account_id": "10",
        "strategy_id": "100",
        "mode": "paper",
        "symbol": "BTC/USDT",
        "side": "buy",
        "trade_id": "t1",
        "amount": "0.002",
        "price": "60000.5",
        "fee": "0.0000001",
        "fee_currency": "BTC",
        "executed_at": "2024-03-01T12:01:00Z",
    }


def test_json_is_one_array_across_pages_with_decimals_as_text(reads: MemoryExports) -> None:
    chunks = list(Exports(reads, page_size=2).stream(ExportKind.FILLS, ExportScope(ALICE), ExportFormat.JSON))

    rows = json.loads(b"".join(chunks))
    assert len(chunks) == 4  # three pages and the closing bracket
    assert [row["id"] for row in rows] == [1, 2, 3, 4, 5]
    assert (rows[0]["amount"], rows[0]["fee"], rows[0]["executed_at"]) == (
        "0.002",
        "0.0000001",
        "2024-03-01T12:01:00Z",
    )


@pytest.mark.parametrize(
    ("form", "expected"),
    [(ExportFormat.CSV, ",".join(COLUMNS[ExportKind.FILLS]) + "\r\n"), (ExportFormat.JSON, "[]")],
)
def test_an_empty_export_is_a_header_or_an_empty_array(
    reads: MemoryExports, form: ExportFormat, expected: str
) -> None:
    scope = ExportScope(ALICE, start=T0 + timedelta(days=1))

    body = b"".join(Exports(reads).stream(ExportKind.FILLS, scope, form))

    assert body.decode() == expected


def test_text_a_spreadsheet_would_run_as_a_formula_is_quoted(reads: MemoryExports) -> None:
    signal: dict[str, object] = {name: None for name in COLUMNS[ExportKind.SIGNALS]}
    signal.update(
        id=1, strategy_id=ALICE_PRIVATE, ticker='=HYPERLINK("http://x")', action="-buy", price=Decimal(-1)
    )
    reads.add(ExportKind.SIGNALS, signal, {ALICE}, set(), ALICE_PRIVATE, T0)

    [header, row] = csv_rows(
        list(Exports(reads).stream(ExportKind.SIGNALS, ExportScope(ALICE), ExportFormat.CSV))
    )

    values = dict(zip(header, row, strict=True))
    assert (values["ticker"], values["action"], values["price"]) == (
        '\'=HYPERLINK("http://x")',
        "'-buy",
        "-1",
    )
    assert values["routed_at"] == ""


# --- the tax report -------------------------------------------------------------------------------


def tax_fill(fill_id: int, side: OrderSide, amount: str, price: str, when: datetime, **fee: str) -> TaxFill:
    return TaxFill(
        fill_id,
        "BTC/USDT",
        side,
        Decimal(amount),
        Decimal(price),
        Decimal(fee.get("fee", "0")),
        fee.get("currency", "USDT"),
        when,
    )


@pytest.fixture
def history(reads: MemoryExports) -> MemoryExports:
    reads.fills[ALICE_ACCOUNT] = [
        tax_fill(3, OrderSide.SELL, "1", "150", datetime(2024, 6, 1, tzinfo=UTC), fee="0.5", currency="BNB"),
        tax_fill(1, OrderSide.BUY, "2", "100", datetime(2023, 1, 1, tzinfo=UTC), fee="0.2"),
        tax_fill(2, OrderSide.SELL, "0.5", "90", datetime(2023, 6, 1, tzinfo=UTC)),
        tax_fill(4, OrderSide.SELL, "1", "200", datetime(2025, 1, 1, tzinfo=UTC)),
    ]
    return reads


def test_the_tax_report_reads_fills_in_time_order_a_page_at_a_time_up_to_the_years_end(
    history: MemoryExports,
) -> None:
    report = Exports(history, page_size=1).tax_report(ALICE, ALICE_ACCOUNT, 2024)

    assert [(x.disposal_fill_id, x.acquisition_fill_id, x.proceeds, x.cost) for x in report.lines] == [
        (3, 1, Decimal(150), Decimal("100.1")),
    ]
    assert history.reads == [("tax fills", 1)] * 3 + [("tax fills", 0)]  # never the 2025 fill


@pytest.mark.parametrize(
    ("user", "account", "year", "error", "message"),
    [
        (ALICE, BOB_ACCOUNT, 2024, NotFound, "no exchange account 20"),
        (ALICE, ALICE_ACCOUNT, 1969, Invalid, "between 1970 and 9998"),
        (ALICE, ALICE_ACCOUNT, 9999, Invalid, "between 1970 and 9998"),
    ],
)
def test_a_tax_report_beyond_the_user_or_the_calendar_is_refused(
    history: MemoryExports, user: int, account: int, year: int, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Exports(history).tax_report(user, account, year)


def test_the_tax_document_and_csv_carry_every_line_lot_fee_and_total(history: MemoryExports) -> None:
    report = Exports(history).tax_report(ALICE, ALICE_ACCOUNT, 2024)

    document = tax_document(report, ALICE_ACCOUNT)
    rows = [dict(zip(TAX_CSV_COLUMNS, r, strict=True)) for r in csv_rows(list(tax_csv(report)))[1:]]

    assert document["lines"] == [
        {
            "kind": "sale",
            "symbol": "BTC/USDT",
            "currency": "USDT",
            "amount": "1",
            "acquired_at": "2023-01-01T00:00:00Z",
            "disposed_at": "2024-06-01T00:00:00Z",
            "holding_days": 517,
            "long_term": True,
            "proceeds": "150",
            "cost": "100.1",
            "gain": "49.9",
            "acquisition_fill_id": 1,
            "disposal_fill_id": 3,
            "unvalued_fee": True,
        }
    ]
    assert document["open_lots"] == [
        {
            "symbol": "BTC/USDT",
            "currency": "USDT",
            "amount": "0.5",
            "cost": "50.05",
            "acquired_at": "2023-01-01T00:00:00Z",
            "acquisition_fill_id": 1,
            "unvalued_fee": False,
        }
    ]
    assert document["unvalued_fee_totals"] == [{"currency": "BNB", "amount": "0.5"}]
    assert document["totals"] == [
        {
            "currency": "USDT",
            "proceeds": "150",
            "cost": "100.1",
            "gain": "49.9",
            "short_term_gain": "0",
            "long_term_gain": "49.9",
            "unmatched_proceeds": "0",
        }
    ]
    assert [
        (r["kind"], r["currency"], r["amount"], r["proceeds"], r["cost"], r["gain"], r["term"]) for r in rows
    ] == [
        ("sale", "USDT", "1", "150", "100.1", "49.9", "long"),
        ("open_lot", "USDT", "0.5", "", "50.05", "", ""),
        ("unvalued_fee", "BNB", "0.5", "", "", "", ""),
        ("total", "USDT", "", "150", "100.1", "49.9", ""),
        ("total_short_term", "USDT", "", "", "", "0", ""),
        ("total_long_term", "USDT", "", "", "", "49.9", ""),
        ("total_unmatched", "USDT", "", "0", "", "", ""),
        ("total_unvalued_fee", "BNB", "0.5", "", "", "", ""),
    ]
