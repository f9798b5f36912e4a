"""1 s candles from public trades, the pure buffer: OHLCV and taker buy/sell volume exact, every second
a candle, late and duplicate trades, gaps, bounds; and the net-flow features they feed."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tradewire.domain.candles import Candles, coarsened
from tradewire.domain.ml.features import FEATURE_SET, compute_features
from tradewire.domain.trade_candles import Outcome, PublicTrade, SecondCandle, SecondCandles

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a whole second
D = Decimal


def trade(n: int, at_ms: int, price: str, amount: str, side: str | None = "buy") -> PublicTrade:
    return PublicTrade(str(n), T0 + at_ms, D(price), D(amount), side)


def test_a_second_has_the_ohlcv_and_exact_buy_and_sell_volume_of_its_trades() -> None:
    book = SecondCandles("BTC/USDT")
    for t in (
        trade(1, 10, "100.1", "0.1", "buy"),
        trade(2, 200, "100.7", "0.2", "sell"),
        trade(3, 500, "99.9", "0.3", "buy"),
        trade(4, 999, "100.2", "0.4", "sell"),
    ):
        assert book.add(t) is Outcome.ADDED
    book.close_until(T0 + 1_000)

    assert book.history() == [
        SecondCandle(T0, D("100.1"), D("100.7"), D("99.9"), D("100.2"), D("1.0"), D("0.4"), D("0.6"), 4)
    ]
    candles = book.closed(1)
    assert candles is not None and candles.timeframe == "1s"
    assert candles.buy_volume is not None and candles.buy_volume.tolist() == [0.4]
    assert (candles.open[0], candles.high[0], candles.low[0], candles.close[0]) == (100.1, 100.7, 99.9, 100.2)


def test_a_second_stays_open_until_the_clock_passes_its_end_or_a_later_trade_arrives() -> None:
    book = SecondCandles("BTC/USDT")
    book.add(trade(1, 100, "10", "1"))
    book.close_until(T0 + 999)
    assert len(book) == 0
    book.add(trade(2, 1_300, "11", "1"))  # the next second: the first is complete
    assert [c.close for c in book.history()] == [D("10")]


def test_seconds_without_trades_are_candles_at_the_last_close_with_zero_volume() -> None:
    book = SecondCandles("BTC/USDT")
    book.close_until(T0 + 5_000)
    assert len(book) == 0  # no trade yet: no price to make a candle of, and nothing is closed
    assert book.add(trade(1, 0, "10", "1")) is Outcome.ADDED
    book.add(trade(2, 3_500, "12", "2", "sell"))
    book.close_until(T0 + 6_000)

    rows = book.history()
    assert [c.ts - T0 for c in rows] == [0, 1_000, 2_000, 3_000, 4_000, 5_000]
    empty = SecondCandle(T0 + 1_000, D("10"), D("10"), D("10"), D("10"), D(0), D(0), D(0), 0)
    assert rows[1] == empty and rows[2].close == D("10") and rows[2].trades == 0
    assert rows[3] == SecondCandle(T0 + 3_000, D("12"), D("12"), D("12"), D("12"), D("2"), D(0), D("2"), 1)
    assert [c.volume for c in rows[4:]] == [D(0), D(0)] and rows[5].close == D("12")


def test_a_trade_for_a_closed_second_is_counted_late_and_changes_nothing() -> None:
    book = SecondCandles("BTC/USDT")
    book.add(trade(1, 100, "10", "1"))
    book.close_until(T0 + 1_250)
    before = book.history()

    assert book.add(trade(2, 900, "50", "9")) is Outcome.LATE
    book.add(trade(3, 2_100, "11", "1"))
    assert book.add(trade(4, 1_900, "60", "9")) is Outcome.LATE  # a later second's trade came first
    book.close_until(T0 + 3_000)

    assert book.late == 2
    assert book.history()[0] == before[0]
    assert [c.volume for c in book.history()] == [D("1"), D(0), D("1")]


def test_a_duplicate_trade_id_is_ignored_and_the_ids_kept_are_bounded() -> None:
    book = SecondCandles("BTC/USDT", ids_kept=3)
    assert book.add(trade(1, 100, "10", "1")) is Outcome.ADDED
    assert book.add(trade(1, 100, "10", "1")) is Outcome.DUPLICATE
    for n in (2, 3, 4):
        book.add(trade(n, 200 + n, "10", "1"))
    assert book.duplicates == 1
    # Id 1 has left the bounded memory: seen again it is a new trade of its (still open) second.
    assert book.add(trade(1, 300, "10", "1")) is Outcome.ADDED
    assert len(book._ids) == 3
    book.close_until(T0 + 1_000)
    assert book.history()[0].volume == D("5")


def test_a_gap_drops_the_buffer_and_candles_return_only_when_enough_fresh_ones_exist() -> None:
    book = SecondCandles("BTC/USDT")
    book.add(trade(1, 0, "10", "1"))
    book.close_until(T0 + 10_000)
    assert book.closed(5) is not None and len(book) == 10
    book.add(trade(2, 10_100, "10", "1"))  # the second being built when the stream broke

    book.gap(T0 + 10_400)

    assert book.gaps == 1 and len(book) == 0 and book.closed(1) is None
    assert book.add(trade(3, 10_700, "99", "1")) is Outcome.LATE  # partly missed second
    book.close_until(T0 + 14_000)
    assert len(book) == 0  # nothing invented across the gap before a trade says where the price is
    book.add(trade(4, 14_200, "12", "1"))
    book.close_until(T0 + 17_000)
    assert [c.ts - T0 for c in book.history()] == [14_000, 15_000, 16_000]
    assert book.closed(4) is None
    fresh = book.closed(3)
    assert fresh is not None and fresh.close.tolist() == [12.0, 12.0, 12.0]


def test_the_buffer_keeps_at_most_its_capacity_and_reads_at_most_that() -> None:
    book = SecondCandles("BTC/USDT", capacity=100)
    book.add(trade(1, 0, "10", "1"))
    book.close_until(T0 + 1_000_000)  # 1,000 seconds later: only the last 100 are made
    assert len(book) == 100
    assert book.history()[-1].ts == T0 + 999_000
    candles = book.closed(500)  # asks more than the buffer holds: gets the buffer
    assert candles is not None and len(candles) == 100
    assert bool((np.diff(candles.ts) == 1_000).all())


def test_buy_volume_is_left_out_when_a_trade_had_no_side() -> None:
    book = SecondCandles("BTC/USDT")
    book.add(trade(1, 0, "10", "1", "buy"))
    book.add(trade(2, 1_000, "10", "1", None))
    book.close_until(T0 + 2_000)
    assert book.history()[1].sides_known is False
    candles = book.closed(2)
    assert candles is not None and candles.buy_volume is None
    one = book.closed(1)
    assert one is not None and one.buy_volume is None  # still in the buffer: the whole series goes


def test_bad_trades_are_refused() -> None:
    with pytest.raises(ValueError, match="price"):
        PublicTrade("1", T0, D(0), D(1), "buy")
    with pytest.raises(ValueError, match="amount"):
        PublicTrade("1", T0, D(1), D(-1), "buy")
    with pytest.raises(ValueError, match="side"):
        PublicTrade("1", T0, D(1), D(1), "up")
    with pytest.raises(ValueError, match="id"):
        PublicTrade("", T0, D(1), D(1), "buy")


def test_buy_volume_follows_rows_and_coarsening_and_feeds_the_net_flow_features() -> None:
    n = 60
    candles = Candles(
        symbol="BTC/USDT",
        timeframe="1s",
        ts=T0 + np.arange(n) * 1_000,
        open=np.full(n, 10.0),
        high=np.full(n, 11.0),
        low=np.full(n, 9.0),
        close=10.0 + np.sin(np.arange(n)),
        volume=np.full(n, 4.0),
        buy_volume=np.full(n, 3.0),
    )
    assert candles.rows(10, 20).buy_volume is not None and len(candles.rows(10, 20).buy_volume) == 10
    merged = coarsened(candles, 30)
    assert merged.buy_volume is not None and merged.buy_volume.tolist() == [6.0] * 30
    with pytest.raises(ValueError, match="buy_volume"):
        Candles(**{**candles.__dict__, "buy_volume": np.ones(3)})

    features = compute_features(candles, candles.buy_volume)
    flow = features[:, FEATURE_SET.names.index("net_flow_1")]
    assert flow.tolist() == [0.5] * n  # (3 - 1) / 4
