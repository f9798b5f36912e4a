"""Exports and tax reports over real HTTP: a 20,000-fill history streamed in bounded memory, the tax
report of that history reconciled with its fills, the tax report of a real sequence of recorded
fills equal to the lots computed by hand, another user's ids answered 404, bad input 422."""

from __future__ import annotations

import csv
import json
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, select

from tests.conftest import free_port
from tests.history import add_fills, add_order
from tests.support import PASSWORD, ServedRuntime, make_runtime, seed_marketplace
from tests.tax_by_hand import XRP_ETH_LINES, XRP_ETH_OPEN_LOTS
from tradewire.adapters.store.tables import fills as fills_table

FILLS = 20_000
PER_ORDER = 100
START = datetime(2023, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=30)  # 20,000 fills from January 2023 to February 2024


@dataclass(frozen=True)
class Desk:
    http: httpx.Client
    alice: dict[str, str]
    bob: dict[str, str]
    alice_id: int
    alice_account: int
    alice_subscription: int
    bob_account: int
    strategy_id: int


@pytest.fixture
def desk(engine: Engine, tmp_path: Path) -> Iterator[Desk]:
    with _desk(engine, tmp_path) as desk:
        yield desk


@pytest.fixture(scope="module")
def refusing_desk(module_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """`desk`, one for the module's tests of requests refused (they change nothing)."""
    with _desk(module_engine, tmp_path_factory.mktemp("desk")) as desk:
        yield desk


@contextmanager
def _desk(engine: Engine, tmp_path: Path) -> Iterator[Desk]:
    runtime = make_runtime(tmp_path, engine.url.render_as_string(hide_password=False))
    seeded = seed_marketplace(runtime.engine, [{}, {}], slug="exports")
    with ServedRuntime(runtime, free_port()) as served, httpx.Client(base_url=served.url, timeout=60) as http:
        yield Desk(
            http,
            served.token("exports-sub1", PASSWORD),
            served.token("exports-sub2", PASSWORD),
            seeded.subscriber_ids[0],
            seeded.account_ids[0],
            seeded.subscription_ids[0],
            seeded.account_ids[1],
            seeded.strategy_id,
        )


def seed_history(engine: Engine, user_id: int, account_id: int, subscription_id: int) -> list[dict[str, Any]]:
    """FILLS fills of BTC/USDT, PER_ORDER per order, buy and sell orders in turn (buys of 0.01, sales of
    0.008: lots build up), a 0.1 % fee in USDT each; returned with their sides."""
    seeded: list[dict[str, Any]] = []
    for first in range(0, FILLS, PER_ORDER):
        side = "buy" if first // PER_ORDER % 2 == 0 else "sell"
        order_id = add_order(engine, user_id, account_id, subscription_id, START + first * STEP, side=side)
        rows = []
        for i in range(first, first + PER_ORDER):
            amount = Decimal("0.01") if side == "buy" else Decimal("0.008")
            price = Decimal(60_000 + i * 37 % 5_000) + Decimal("0.123456")
            rows.append(
                {
                    "amount": amount,
                    "price": price,
                    "fee": amount * price / 1000,
                    "executed_at": START + i * STEP,
                }
            )
        add_fills(engine, order_id, account_id, rows)
        seeded.extend({**row, "side": side} for row in rows)
    return seeded


def stream_to_file(http: httpx.Client, url: str, headers: dict[str, str], path: Path) -> tuple[int, int]:
    """GET `url` streamed into `path`; (bytes, peak bytes allocated in this process meanwhile)."""
    tracemalloc.start()
    size = 0
    try:
        with http.stream("GET", url, headers=headers) as response, path.open("wb") as out:
            assert response.status_code == 200, response.read()
            for chunk in response.iter_bytes():
                size += len(chunk)
                out.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, peak


@pytest.mark.slow
def test_a_long_history_streams_in_bounded_memory_and_its_tax_report_reconciles(
    desk: Desk, engine: Engine, tmp_path: Path
) -> None:
    # Arrange
    fills = seed_history(engine, desk.alice_id, desk.alice_account, desk.alice_subscription)
    query = f"account_id={desk.alice_account}&strategy_id={desk.strategy_id}"
    quarter = f"{query}&to={(START + FILLS // 4 * STEP).isoformat().replace('+', '%2B')}"
    stream_to_file(desk.http, f"/api/v1/exports/fills?{quarter}", desk.alice, tmp_path / "warm-up")

    # Act: a quarter of the history, then all of it, in each format.
    peaks: dict[str, tuple[int, int]] = {}
    for form in ("csv", "json"):
        for label, params in (("quarter", quarter), ("all", query)):
            path = tmp_path / f"{label}.{form}"
            size, peak = stream_to_file(
                desk.http, f"/api/v1/exports/fills?format={form}&{params}", desk.alice, path
            )
            peaks[f"{form} {label}"] = (size, peak)

    # Assert: every fill, exactly, in id order.
    print(
        "".join(
            f"\n{name}: {size:,} bytes, peak {peak:,} bytes allocated" for name, (size, peak) in peaks.items()
        )
    )
    with (tmp_path / "all.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    records = json.loads((tmp_path / "all.json").read_text())
    assert len(rows) == len(records) == FILLS
    assert [Decimal(r["price"]) for r in rows] == [f["price"] for f in fills]
    assert [Decimal(r["fee"]) for r in records] == [f["fee"] for f in fills]
    assert rows[0]["executed_at"] == records[0]["executed_at"] == "2023-01-01T00:00:00Z"
    assert [r["side"] for r in rows[::PER_ORDER]] == [f["side"] for f in fills[::PER_ORDER]]
    # Bounded: four times the rows, the same peak (a page of 500 rows, never the whole export).
    for form in ("csv", "json"):
        (quarter_size, quarter_peak), (size, peak) = peaks[f"{form} quarter"], peaks[f"{form} all"]
        assert size > 3.9 * quarter_size
        assert peak < quarter_peak + 256_000 and peak < 4_000_000

    # The tax reports of both years add up to the fills, to the last unit.
    reports = {
        year: desk.http.get(
            f"/api/v1/tax/{year}", params={"account_id": desk.alice_account}, headers=desk.alice
        ).json()
        for year in (2023, 2024)
    }
    carried = Decimal(0)
    for year, report in reports.items():
        of_year = [f for f in fills if f["executed_at"].year == year]
        sold = sum((f["amount"] * f["price"] - f["fee"] for f in of_year if f["side"] == "sell"), Decimal(0))
        bought = sum((f["amount"] * f["price"] + f["fee"] for f in of_year if f["side"] == "buy"), Decimal(0))
        [totals] = report["totals"]
        assert Decimal(totals["proceeds"]) + Decimal(totals["unmatched_proceeds"]) == sold
        assert sum(Decimal(x["proceeds"]) for x in report["lines"]) == sold
        still_open = sum((Decimal(lot["cost"]) for lot in report["open_lots"]), Decimal(0))
        assert Decimal(totals["cost"]) == bought + carried - still_open
        assert Decimal(totals["gain"]) == Decimal(totals["proceeds"]) - Decimal(totals["cost"])
        carried = still_open
    assert reports[2023]["lines"][0]["acquired_at"] == "2023-01-01T00:00:00Z"
    sold_amount = sum((f["amount"] for f in fills if f["side"] == "sell"), Decimal(0))
    open_amount = sum((Decimal(lot["amount"]) for lot in reports[2024]["open_lots"]), Decimal(0))
    assert sum((f["amount"] for f in fills if f["side"] == "buy"), Decimal(0)) == sold_amount + open_amount

    tax_csv = desk.http.get(
        "/api/v1/tax/2024", params={"account_id": desk.alice_account, "format": "csv"}, headers=desk.alice
    )
    assert tax_csv.headers["content-type"] == "text/csv; charset=utf-8"
    kinds = [row["kind"] for row in csv.DictReader(tax_csv.text.splitlines())]
    assert kinds.count("sale") == len(reports[2024]["lines"]) and kinds[-4:] == [
        "total",
        "total_short_term",
        "total_long_term",
        "total_unmatched",
    ]


def test_a_real_sequence_of_fills_gives_the_lots_computed_by_hand(
    desk: Desk, engine: Engine, data_dir: Path
) -> None:
    """The first 13 recorded XRP/ETH trades on Binance (2019-10-11) as alice's fills, with Binance's
    0.1 % taker fee in the asset received; the lots, proceeds, costs and gains are those computed by
    hand in tests/unit/test_tax.py::test_recorded_xrp_eth_fills_give_the_hand_computed_lots."""
    trades = pq.read_table(data_dir / "trades/XRP_ETH-trades.parquet").slice(0, 13).to_pylist()
    for trade in trades:
        amount, price = Decimal(str(trade["amount"])), Decimal(str(trade["price"]))
        buy = trade["side"] == "buy"
        when = datetime.fromtimestamp(trade["timestamp"] / 1000, UTC)
        order_id = add_order(
            engine, desk.alice_id, desk.alice_account, None, when, trade["side"], "XRP/ETH", str(amount)
        )
        fee, currency = (amount * Decimal("0.001"), "XRP") if buy else (amount * price / 1000, "ETH")
        row = {"amount": amount, "price": price, "fee": fee, "fee_currency": currency, "executed_at": when}
        add_fills(engine, order_id, desk.alice_account, [row])
    with engine.connect() as conn:
        fill_ids = conn.execute(
            select(fills_table.c.id).where(fills_table.c.account_id == desk.alice_account).order_by("id")
        )
        trade_of = {int(i): int(t["id"]) for i, t in zip(fill_ids.scalars(), trades, strict=True)}

    answer = desk.http.get("/api/v1/tax/2019", params={"account_id": desk.alice_account}, headers=desk.alice)

    assert answer.status_code == 200, answer.text
    report = answer.json()

    def trade_id(fill_id: int | None) -> int | None:
        return None if fill_id is None else trade_of[fill_id]

    def number(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    lines = [
        (
            x["kind"],
            trade_id(x["disposal_fill_id"]),
            trade_id(x["acquisition_fill_id"]),
            Decimal(x["amount"]),
            Decimal(x["proceeds"]),
            number(x["cost"]),
            number(x["gain"]),
        )
        for x in report["lines"]
    ]
    assert lines == [
        (kind, sold, bought, *map(number, figures)) for kind, sold, bought, *figures in XRP_ETH_LINES
    ]
    assert [
        (trade_id(lot["acquisition_fill_id"]), Decimal(lot["amount"]), Decimal(lot["cost"]))
        for lot in report["open_lots"]
    ] == [(lot, Decimal(amount), Decimal(cost)) for lot, amount, cost in XRP_ETH_OPEN_LOTS]
    [totals] = report["totals"]
    assert totals["currency"] == "ETH"
    assert [Decimal(totals[k]) for k in ("proceeds", "cost", "gain", "unmatched_proceeds")] == [
        Decimal("1.21079826972"),
        Decimal("1.211415655655655656"),
        Decimal("-0.000617385935655656"),
        Decimal("0.11997348642"),
    ]
    assert report["unvalued_fees"] == []


def test_another_users_account_or_private_strategy_is_not_found(desk: Desk) -> None:
    other = desk.bob_account

    for url in (
        f"/api/v1/exports/orders?account_id={other}",
        f"/api/v1/exports/fills?format=csv&account_id={other}",
        f"/api/v1/tax/2024?account_id={other}",
        "/api/v1/exports/positions?account_id=999999",
    ):
        response = desk.http.get(url, headers=desk.alice)
        assert response.status_code == 404, url
        assert response.json() == {"detail": f"no exchange account {url.rsplit('=', 1)[1]}"}
    mine = desk.http.get(f"/api/v1/exports/orders?account_id={desk.alice_account}", headers=desk.alice)
    assert (mine.status_code, mine.json()) == (200, [])
    assert desk.http.get(f"/api/v1/exports/orders?account_id={desk.alice_account}").status_code == 401


def test_an_export_carries_its_media_type_and_file_name(desk: Desk) -> None:
    response = desk.http.get("/api/v1/exports/signals?format=csv", headers=desk.alice)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="signals.csv"'
    assert response.text.startswith("id,strategy_id,strategy_slug,")


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("/api/v1/exports/orders?from=2024-02-01&to=2024-01-01", ["query", "to"]),
        ("/api/v1/exports/orders?from=2024-01-01&to=2024-01-01", ["query", "to"]),
        ("/api/v1/exports/orders?from=1969-12-31", ["query", "from"]),
        ("/api/v1/exports/orders?to=9999-12-31T23:00:00-05:00", ["query", "to"]),
        ("/api/v1/exports/orders?from=yesterday", ["query", "from"]),
        ("/api/v1/exports/orders?format=xml", ["query", "format"]),
        ("/api/v1/exports/orders?account_id=0", ["query", "account_id"]),
        ("/api/v1/exports/orders?strategy_id=9223372036854775808", ["query", "strategy_id"]),
        ("/api/v1/exports/trades", ["path", "kind"]),
        ("/api/v1/tax/1969?account_id=1", ["path", "year"]),
        ("/api/v1/tax/9999?account_id=1", ["path", "year"]),
        ("/api/v1/tax/2024", ["query", "account_id"]),
    ],
)
def test_bad_input_is_answered_422_with_where_it_is(refusing_desk: Desk, url: str, where: list[str]) -> None:
    response = refusing_desk.http.get(url, headers=refusing_desk.alice)

    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [where]
