"""FIFO tax lots (domain.tax): a real sequence of fills checked by hand, fee rules, holding periods,
and the reconciliation with the fills, exact to the last unit, as a property."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, Inexact, Rounded, localcontext
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.tax_by_hand import XRP_ETH_LINES, XRP_ETH_OPEN_LOTS
from tradewire.domain.money import fmt, to_decimal
from tradewire.domain.orders import OrderSide
from tradewire.domain.tax import (
    FifoBook,
    LineKind,
    OpenLot,
    TaxFill,
    TaxLine,
    tax_report,
    year_bounds,
)

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def fill(
    fill_id: int,
    side: OrderSide,
    amount: str,
    price: str,
    when: datetime,
    fee: str = "0",
    fee_currency: str = "USDT",
    symbol: str = "BTC/USDT",
) -> TaxFill:
    return TaxFill(fill_id, symbol, side, D(amount), D(price), D(fee), fee_currency, when)


def at(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def row(line: TaxLine) -> tuple[object, ...]:
    """A line's numbers as plain text (trailing zeros dropped), to compare with the hand-computed ones."""
    return (
        line.kind.value,
        line.disposal_fill_id,
        line.acquisition_fill_id,
        fmt(line.amount),
        fmt(line.proceeds),
        fmt(line.cost),
        fmt(line.gain),
    )


# --- a real sequence of fills, checked by hand --------------------------------------------------------


@pytest.fixture(scope="module")
def xrp_eth_fills(data_dir: Path) -> list[TaxFill]:
    """The first 13 recorded XRP/ETH trades on Binance (2019-10-11, ids 13519807 ... 13519819), taken as
    one account's fills, with Binance's 0.1 % taker fee charged as Binance charges it without BNB: in
    the asset received (XRP on a buy, ETH on a sale)."""
    trades = pq.read_table(data_dir / "trades/XRP_ETH-trades.parquet").slice(0, 13).to_pylist()
    fills = []
    for trade in trades:
        amount, price = to_decimal(trade["amount"]), to_decimal(trade["price"])
        side = OrderSide(trade["side"])
        fee, currency = (amount * D("0.001"), "XRP") if side is BUY else (amount * price * D("0.001"), "ETH")
        when = datetime.fromtimestamp(trade["timestamp"] / 1000, UTC)
        fills.append(TaxFill(int(trade["id"]), "XRP/ETH", side, amount, price, fee, currency, when))
    return fills


def test_recorded_xrp_eth_fills_give_the_hand_computed_lots(xrp_eth_fills: list[TaxFill]) -> None:
    # Arrange: the fills as read, so the hand computation below starts from known numbers.
    assert [(f.fill_id, f.side.value, str(f.amount), str(f.price)) for f in xrp_eth_fills] == [
        (13519807, "sell", "23.0", "0.00141342"),
        (13519808, "sell", "54.0", "0.00141266"),
        (13519809, "sell", "8.0", "0.00141266"),
        (13519810, "buy", "581.0", "0.00141379"),
        (13519811, "buy", "590.0", "0.00141379"),
        (13519812, "buy", "11.0", "0.00141557"),
        (13519813, "sell", "201.0", "0.00141536"),
        (13519814, "sell", "11.0", "0.0014148"),
        (13519815, "sell", "3.0", "0.00141418"),
        (13519816, "buy", "11.0", "0.00141597"),
        (13519817, "buy", "11.0", "0.00141616"),
        (13519818, "sell", "500.0", "0.00141658"),
        (13519819, "sell", "141.0", "0.00141438"),
    ]

    # Act
    report = tax_report(xrp_eth_fills, 2019)

    # Assert. Proceeds of a sale: amount x price less its 0.1 % fee in ETH. Lots: a buy of 581 XRP
    # for 581 x 0.00141379 = 0.82141199 ETH keeps 581 - 0.581 = 580.419 XRP at that whole cost.
    #   A (13519810) 580.419 XRP for 0.82141199; B (13519811) 589.41 for 0.8341361;
    #   C (13519812) 10.989 for 0.01557127; D (13519816) 10.989 for 0.01557567;
    #   E (13519817) 10.989 for 0.01557776.
    # A share of a lot's cost is cost x taken / amount left, rounded to 18 places:
    #   201 of A: 0.82141199 x 201 / 580.419 = 0.284456246246246246|246... -> A keeps 379.419 XRP for
    #   0.536955743753753754; 11 of those: x 11 / 379.419 = 0.015567257257257257 -> 368.419 for
    #   0.521388486496496497; 3: x 3 / 368.419 = 0.004245615615615616 -> 365.419 for 0.517142870880880881.
    #   The 500 XRP sale (0.70829 - 0.00070829 = 0.70758171 ETH) takes A's last 365.419 (its whole cost
    #   left; proceeds 0.70758171 x 365.419 / 500 = 0.51712760177298, exact) and 134.581 of B
    #   (the proceeds left, 0.19045410822702; cost 0.8341361 x 134.581 / 589.41 = 0.190459731721721722
    #   rounded) -> B keeps 454.829 for 0.643676368278278278; the 141 XRP sale takes
    #   0.643676368278278278 x 141 / 454.829 = 0.199543933933933934 -> B keeps 313.829 for
    #   0.444132434344344344.
    # The first three sales come before any buy: unmatched, no cost.
    assert [row(line) for line in report.lines] == XRP_ETH_LINES
    assert all(line.holding_days == 0 and line.long_term is False for line in report.lines[3:])
    assert [
        (lot.acquisition_fill_id, fmt(lot.amount), fmt(lot.cost)) for lot in report.open_lots
    ] == XRP_ETH_OPEN_LOTS
    [totals] = report.totals
    assert (totals.quote, totals.proceeds, totals.cost, totals.gain) == (
        "ETH",
        D("1.21079826972"),
        D("1.211415655655655656"),
        D("-0.000617385935655656"),
    )
    assert (totals.short_term_gain, totals.long_term_gain) == (totals.gain, D(0))
    # What the eight sales brought, less their fees: 1.3310835 ETH x 0.999, all of it accounted for.
    assert totals.unmatched_proceeds == D("0.11997348642")
    assert totals.proceeds + totals.unmatched_proceeds == D("1.33077175614")
    assert report.unvalued_fees == ()


def test_a_recorded_binance_sale_of_a_balance_held_before_is_unmatched(
    data_dir: Path, xrp_eth_fills: list[TaxFill]
) -> None:
    # Arrange: Binance's recorded private trade (ccxt's fixture): 0.2 LTC sold at 69.63 USDT, fee
    # 0.013926 USDT, by an account that held LTC bought elsewhere. The 2019 XRP lots are still open.
    recorded = json.loads((data_dir / "ccxt/binance_spot_response_excerpt.json").read_text())
    [trade] = recorded["methods"]["fetchMyTrades"][0]["httpResponse"]
    sale = TaxFill(
        int(trade["id"]),
        "LTC/USDT",
        BUY if trade["isBuyer"] else SELL,
        D(trade["qty"]),
        D(trade["price"]),
        D(trade["commission"]),
        trade["commissionAsset"],
        datetime.fromtimestamp(int(trade["time"]) / 1000, UTC),
    )

    # Act
    report = tax_report([*xrp_eth_fills, sale], 2023)

    # Assert: 0.2 x 69.63 = 13.926, less 0.013926; no cost known, nothing crashes.
    assert [row(line) for line in report.lines] == [
        ("unmatched", 309520010, None, "0.2", "13.912074", None, None)
    ]
    [totals] = report.totals
    assert (totals.quote, totals.proceeds, totals.cost, totals.unmatched_proceeds) == (
        "USDT",
        D(0),
        D(0),
        D("13.912074"),
    )
    assert [lot.acquisition_fill_id for lot in report.open_lots] == [13519811, 13519812, 13519816, 13519817]


# --- rules --------------------------------------------------------------------------------------------


def test_holding_period_is_long_term_beyond_365_days() -> None:
    fills = [
        fill(1, BUY, "2", "100", at(2020)),
        fill(2, SELL, "1", "150", at(2020, 12, 31)),  # 365 days (2020 is a leap year): short term
        fill(3, SELL, "1", "90", at(2021, 1, 1)),  # 366 days: long term
    ]

    report_2020, report_2021 = tax_report(fills, 2020), tax_report(fills, 2021)

    [short] = report_2020.lines
    [long] = report_2021.lines
    assert (short.holding_days, short.long_term, short.gain) == (365, False, D(50))
    assert (long.holding_days, long.long_term, long.gain) == (366, True, D(-10))
    assert (report_2021.totals[0].short_term_gain, report_2021.totals[0].long_term_gain) == (D(0), D(-10))
    assert report_2021.open_lots == ()


def test_a_fee_in_the_quote_adds_to_the_cost_and_comes_off_the_proceeds() -> None:
    fills = [fill(1, BUY, "1", "100", at(2024), "0.1"), fill(2, SELL, "1", "110", at(2024, 2), "0.11")]

    [line] = tax_report(fills, 2024).lines

    assert (line.proceeds, line.cost, line.gain) == (D("109.89"), D("100.1"), D("9.79"))


def test_a_fee_in_the_base_buys_less_and_sells_more() -> None:
    fills = [
        fill(1, BUY, "1", "100", at(2024), "0.001", "BTC"),  # 0.999 BTC held, for 100
        fill(2, SELL, "0.5", "120", at(2024, 2), "0.0005", "BTC"),  # 0.5005 BTC leave
    ]

    report = tax_report(fills, 2024)

    # 0.5 and 0.0005 of a lot of 0.999 that cost 100: 50.05005005... and 0.05005005..., 18 places.
    assert [row(line) for line in report.lines] == [
        ("sale", 2, 1, "0.5", "60", "50.05005005005005005", "9.94994994994994995"),
        ("fee", 2, 1, "0.0005", "0", "0.05005005005005005", "-0.05005005005005005"),
    ]
    [lot] = report.open_lots
    assert (lot.amount, lot.cost) == (D("0.4985"), D("49.899899899899899900"))


def test_a_fee_in_the_base_with_no_lot_left_is_unmatched() -> None:
    fills = [fill(1, BUY, "1", "100", at(2024)), fill(2, SELL, "1", "100", at(2024, 2), "0.001", "BTC")]

    lines = tax_report(fills, 2024).lines

    assert [(x.kind, x.amount, x.proceeds, x.cost) for x in lines] == [
        (LineKind.SALE, D(1), D(100), D(100)),
        (LineKind.UNMATCHED, D("0.001"), D(0), None),
    ]


def test_a_buy_eaten_by_its_fee_in_the_base_spends_its_whole_cost() -> None:
    fills = [
        fill(1, BUY, "1", "100", at(2024)),
        fill(2, BUY, "0.001", "100", at(2024, 2), "0.0015", "BTC"),  # the fee exceeds what it bought
    ]

    report = tax_report(fills, 2024)

    assert [row(line) for line in report.lines] == [
        ("fee", 2, 2, "0.001", "0", "0.1", "-0.1"),
        ("fee", 2, 1, "0.0005", "0", "0.05", "-0.05"),
    ]
    assert [(lot.amount, lot.cost) for lot in report.open_lots] == [(D("0.9995"), D("99.95000"))]


def test_a_fee_in_a_third_currency_is_listed_apart_never_dropped() -> None:
    fills = [
        fill(1, BUY, "1", "100", at(2023, 6), "0.002", "BNB"),
        fill(2, SELL, "0.4", "120", at(2024, 2), "0.001", "BNB"),
        fill(3, SELL, "0.1", "130", at(2024, 3)),
        fill(4, BUY, "1", "100", at(2024, 4), "0.5", "BNB"),
    ]

    report = tax_report(fills, 2024)

    assert [(x.disposal_fill_id, x.proceeds, x.cost, x.unvalued_fee) for x in report.lines] == [
        (2, D(48), D(40), True),  # the sale paid in BNB
        (3, D(13), D(10), True),  # its lot was bought with a fee in BNB (listed in 2023's report)
    ]
    assert [(f.fill_id, f.amount, f.currency, f.side) for f in report.unvalued_fees] == [
        (2, D("0.001"), "BNB", SELL),
        (4, D("0.5"), "BNB", BUY),
    ]
    assert report.unvalued_fee_totals == {"BNB": D("0.501")}
    assert [(lot.acquisition_fill_id, lot.unvalued_fee) for lot in report.open_lots] == [(1, True), (4, True)]
    assert [f.fill_id for f in tax_report(fills, 2023).unvalued_fees] == [1]


def test_markets_keep_their_own_lots_and_totals() -> None:
    fills = [
        fill(1, BUY, "1", "100", at(2024)),
        fill(2, BUY, "1", "90", at(2024, 1, 2), symbol="BTC/USDC"),
        fill(3, SELL, "1", "95", at(2024, 2), symbol="BTC/USDC"),
    ]

    report = tax_report(fills, 2024)

    assert [(x.acquisition_fill_id, x.gain) for x in report.lines] == [(1 + 1, D(5))]
    assert [(t.quote, t.gain) for t in report.totals] == [("USDC", D(5))]
    assert [lot.symbol for lot in report.open_lots] == ["BTC/USDT"]


def test_fills_before_the_year_build_lots_and_fills_after_it_are_not_read() -> None:
    def fills() -> object:
        yield fill(1, BUY, "1", "100", at(2023))
        yield fill(2, SELL, "1", "120", at(2024, 5))
        raise AssertionError("read past the year")

    report = tax_report(fills(), 2023)  # type: ignore[arg-type]

    assert report.lines == ()
    assert [lot.acquisition_fill_id for lot in report.open_lots] == [1]


def test_fills_out_of_time_order_are_refused() -> None:
    book = FifoBook()
    book.apply(fill(2, BUY, "1", "100", at(2024, 2)))

    with pytest.raises(ValueError, match="out of time order"):
        book.apply(fill(1, BUY, "1", "100", at(2024, 1)))


@pytest.mark.parametrize("year", [1969, 9999])
def test_years_outside_the_bounds_are_refused(year: int) -> None:
    with pytest.raises(ValueError, match="between 1970 and 9998"):
        year_bounds(year)


# --- reconciliation with the fills, as a property -----------------------------------------------------

_amounts = st.decimals(min_value=D("0.0000000001"), max_value=D(50), places=10)
_prices = st.decimals(min_value=D("0.0000000001"), max_value=D(70000), places=10)
_fee_kinds = st.sampled_from(["none", "quote", "base", "bnb", "rebate", "base_rebate", "eaten"])


@st.composite
def histories(draw: st.DrawFn) -> list[TaxFill]:
    """Up to 40 fills on two markets over 2021-2024, with fees of every kind."""
    count = draw(st.integers(min_value=1, max_value=40))
    offsets = sorted(draw(st.lists(st.integers(0, 4 * 365 * 86400), min_size=count, max_size=count)))
    fills = []
    for fill_id, offset in enumerate(offsets, start=1):
        symbol = draw(st.sampled_from(["BTC/USDT", "ETH/BTC"]))
        side = draw(st.sampled_from([BUY, BUY, SELL]))
        amount, price = draw(_amounts), draw(_prices)
        base, quote = symbol.split("/")
        kind = draw(_fee_kinds)
        fee, currency = {
            "none": (D(0), quote),
            "quote": (amount * price * D("0.001"), quote),
            "base": (amount * D("0.00075"), base),
            "bnb": (D("0.0001"), "BNB"),
            "rebate": (-amount * price * D("0.0001"), quote),
            "base_rebate": (-amount * D("0.0001"), base),
            "eaten": (amount * D("1.5"), base),  # a buy its fee in the base exceeds
        }[kind]
        when = at(2021) + timedelta(seconds=offset)
        fills.append(TaxFill(fill_id, symbol, side, amount, price, fee, currency, when))
    return fills


def _by_quote(values: list[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """Sums per quote currency, zeros left out."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for quote, value in values:
        sums[quote] += value
    return {quote: value for quote, value in sums.items() if value != 0}


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_every_year_reconciles_with_the_fills_to_the_last_unit(fills: list[TaxFill]) -> None:
    with localcontext(Context(prec=100, traps=[Inexact, Rounded])):  # the test's own sums stay exact
        reports = {year: tax_report(fills, year) for year in range(2020, 2026)}
        for year, report in reports.items():
            in_year = [f for f in fills if f.executed_at.year == year]

            # Proceeds: every sale's amount x price, less its fee in the quote.
            sales = _by_quote(
                [(f.quote, f.amount * f.price - f.fee_in_quote) for f in in_year if f.side is SELL]
            )
            assert _by_quote([(x.quote, x.proceeds) for x in report.lines]) == sales
            assert _by_quote([(t.quote, t.proceeds + t.unmatched_proceeds) for t in report.totals]) == sales

            # Cost: the year's buys, plus the lots open at its start, less the lots open at its end.
            buys = [(f.quote, f.amount * f.price + f.fee_in_quote) for f in in_year if f.side is BUY]
            carried = [(lot.quote, lot.cost) for lot in reports[year - 1].open_lots] if year > 2020 else []
            left = [(lot.quote, -lot.cost) for lot in report.open_lots]
            costs = _by_quote([(x.quote, x.cost) for x in report.lines if x.cost is not None])
            assert costs == _by_quote(buys + carried + left)
            assert _by_quote([(t.quote, t.cost) for t in report.totals]) == costs
            assert _by_quote([(t.quote, t.proceeds - t.cost - t.gain) for t in report.totals]) == {}

        every_line = [line for report in reports.values() for line in report.lines]
        _lots_never_sell_more_than_was_bought(fills, every_line, reports[2025].open_lots)


def _lots_never_sell_more_than_was_bought(
    fills: list[TaxFill], lines: list[TaxLine], still_open: tuple[OpenLot, ...]
) -> None:
    for f in fills:
        acquired = f.amount - f.fee_in_base if f.side is BUY else max(-f.fee_in_base, D(0))
        from_it = [x for x in lines if x.acquisition_fill_id == f.fill_id]
        left = sum((lot.amount for lot in still_open if lot.acquisition_fill_id == f.fill_id), D(0))
        if acquired > 0:
            assert sum((x.amount for x in from_it), D(0)) + left == acquired
        else:  # a buy its fee in the base ate: spent at once, nothing left
            assert [(x.kind, x.amount) for x in from_it] == (
                [(LineKind.FEE, f.amount)] if f.side is BUY else []
            )
            assert left == 0
        # The lines of a disposing fill account for exactly the base it gave up.
        spent = [x for x in lines if x.disposal_fill_id == f.fill_id and x.acquisition_fill_id != f.fill_id]
        gave = f.amount + max(f.fee_in_base, D(0)) if f.side is SELL else max(-acquired, D(0))
        assert sum((x.amount for x in spent), D(0)) == gave
    assert all(lot.amount > 0 for lot in still_open)
    assert all(x.amount > 0 for x in lines)
