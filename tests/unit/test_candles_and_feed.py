"""Candles read from the shared Parquet data, the demo market catalog, and the paper price feed."""

from __future__ import annotations

import asyncio
import logging
import math
import os
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tradewire.adapters.candles_parquet import (
    CandleFileError,
    default_data_dir,
    find_series,
    read_candles,
)
from tradewire.adapters.paper.catalog import DEMO_MARKETS, SIMULATED_START_PRICES, demo_markets
from tradewire.adapters.paper.feed import (
    PriceSource,
    ReplayFeed,
    ReplaySource,
    SimulatedSource,
    build_demo_feed,
)
from tradewire.domain.candles import Candles, timeframe_ms
from tradewire.domain.markets import Market, OrderRejected
from tradewire.ports import MarketData

ONE_MINUTE_MS = 60_000


@pytest.fixture(scope="module")
def data_dir() -> Path:
    """The shared data directory; skipped when absent unless services are required."""
    configured = os.environ.get("TRADEWIRE_DATA_DIR")
    path = Path(configured) if configured else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    if not (path / "ohlcv").is_dir():
        message = f"shared market data not found at {path} (set TRADEWIRE_DATA_DIR)"
        if os.environ.get("TRADEWIRE_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def make_candles(closes: list[float], ts: list[int] | None = None, symbol: str = "BTC/USDT") -> Candles:
    stamps = ts if ts is not None else [i * ONE_MINUTE_MS for i in range(len(closes))]
    column = np.asarray(closes, dtype=np.float64)
    return Candles(
        symbol=symbol,
        timeframe="1m",
        ts=np.asarray(stamps, dtype=np.int64),
        open=column,
        high=column,
        low=column,
        close=column,
        volume=np.ones(len(closes)),
    )


def walk(feed: ReplayFeed, symbol: str, steps: int) -> list[Decimal | None]:
    prices = [feed.last_price(symbol)]
    for _ in range(steps):
        feed.step()
        prices.append(feed.last_price(symbol))
    return prices


# --- Candles ----------------------------------------------------------------------------------------


def test_timeframe_ms_converts_ccxt_timeframes() -> None:
    # Arrange
    expected = {"1m": 60_000, "5m": 300_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}

    # Act
    actual = {tf: timeframe_ms(tf) for tf in expected}

    # Assert
    assert actual == expected
    assert timeframe_ms("1w") == 7 * 86_400_000


@pytest.mark.parametrize("timeframe", ["", "m", "0m", "1M", "1x", "1.5h", " 1m"])
def test_timeframe_ms_rejects_unknown_timeframes(timeframe: str) -> None:
    with pytest.raises(ValueError, match="unknown timeframe"):
        timeframe_ms(timeframe)


def test_candles_reject_columns_of_different_lengths() -> None:
    # Arrange
    good = make_candles([1.0, 2.0, 3.0])

    # Act / Assert
    with pytest.raises(ValueError, match="'volume' has 2 rows"):
        Candles(
            symbol="BTC/USDT",
            timeframe="1m",
            ts=good.ts,
            open=good.open,
            high=good.high,
            low=good.low,
            close=good.close,
            volume=np.ones(2),
        )


@pytest.mark.parametrize("ts", [[0, 60_000, 60_000], [0, 120_000, 60_000]])
def test_candles_reject_ts_that_is_not_strictly_increasing(ts: list[int]) -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        make_candles([1.0, 2.0, 3.0], ts=ts)


def test_candles_are_read_only_and_allow_an_empty_series() -> None:
    # Arrange
    candles = make_candles([1.0, 2.0])
    empty = make_candles([])

    # Act / Assert
    with pytest.raises(ValueError):
        candles.close[0] = 5.0
    assert len(candles) == 2
    assert len(empty) == 0


# --- Reading Parquet --------------------------------------------------------------------------------


def test_read_candles_returns_ascending_int64_ts_and_float64_prices(data_dir: Path) -> None:
    # Arrange
    path = data_dir / "ohlcv" / "binance" / "BTC_USDT-1m.parquet"

    # Act
    candles = read_candles(path, "BTC/USDT", "1m")

    # Assert
    assert len(candles) > 400
    assert candles.symbol == "BTC/USDT"
    assert candles.timeframe == "1m"
    assert candles.ts.dtype == np.int64
    for column in (candles.open, candles.high, candles.low, candles.close, candles.volume):
        assert column.dtype == np.float64
        assert len(column) == len(candles)
    assert bool((np.diff(candles.ts) > 0).all())
    assert bool((candles.low <= candles.close).all())
    assert bool((candles.close <= candles.high).all())
    # Candle open times are whole minutes since the epoch, so ts really is milliseconds.
    assert bool((candles.ts % ONE_MINUTE_MS == 0).all())
    assert 1_400_000_000_000 < int(candles.ts[0]) < 2_000_000_000_000


def test_read_candles_keeps_gaps_as_absent_rows(data_dir: Path) -> None:
    # Arrange: the freqtrade 1m unit-test series has 538 missing candles
    path = data_dir / "ohlcv" / "freqtrade" / "UNITTEST_BTC-1m.parquet"

    # Act
    candles = read_candles(path, "UNITTEST/BTC", "1m")

    # Assert
    steps = np.diff(candles.ts)
    assert len(candles) == 13_681
    assert bool((steps % ONE_MINUTE_MS == 0).all())
    assert int((steps > ONE_MINUTE_MS).sum()) > 0
    assert not np.isnan(candles.close).any()


def test_read_candles_names_the_missing_columns(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "X_Y-1m.parquet"
    pq.write_table(pa.table({"ts": [0, 60_000], "close": [1.0, 2.0]}), path)

    # Act / Assert
    with pytest.raises(CandleFileError, match=r"missing column.*open, high, low, volume"):
        read_candles(path, "X/Y", "1m")


def test_read_candles_rejects_a_file_that_is_not_parquet(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "X_Y-1m.parquet"
    path.write_text("not parquet")

    # Act / Assert
    with pytest.raises(CandleFileError, match="not a readable Parquet file"):
        read_candles(path, "X/Y", "1m")


def test_read_candles_rejects_unsorted_rows_with_the_file_name(tmp_path: Path) -> None:
    # Arrange
    path = tmp_path / "X_Y-1m.parquet"
    rows = {"ts": [60_000, 0], "open": [1.0, 1.0], "high": [1.0, 1.0], "low": [1.0, 1.0]}
    pq.write_table(pa.table({**rows, "close": [1.0, 1.0], "volume": [1.0, 1.0]}), path)

    # Act / Assert
    with pytest.raises(CandleFileError, match=r"X_Y-1m\.parquet.*strictly increasing"):
        read_candles(path, "X/Y", "1m")


# --- Finding series ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("BTC/USDT", "binance/BTC_USDT-1m.parquet"),
        ("XRP/BTC", "bittrex/XRP_BTC-1m.parquet"),
        ("ETH/BTC", "freqtrade/ETH_BTC-5m.parquet"),
        ("SOL/USDT", "binance/SOL_USDT-4h.parquet"),
        ("BTC/USD", "bitfinex/BTC_USD-1h.parquet"),
        ("BTC/USDT:USDT", "binance/BTC_USDT-1m.parquet"),
    ],
)
def test_find_series_picks_the_shortest_preferred_timeframe_in_the_real_data(
    data_dir: Path, symbol: str, expected: str
) -> None:
    # Act
    found = find_series(data_dir, symbol)

    # Assert
    assert found is not None
    assert f"{found.parent.name}/{found.name}" == expected


def test_find_series_returns_none_for_a_symbol_without_data(data_dir: Path) -> None:
    assert find_series(data_dir, "LTC/USDT") is None
    assert find_series(data_dir, "BTC/USDT", preferred_timeframes=("1w",)) is None


def test_find_series_tries_timeframes_first_then_binance_then_sources_by_name(tmp_path: Path) -> None:
    # Arrange
    for relative in ("zeta/X_Y-1m", "alpha/X_Y-1m", "binance/X_Y-5m", "binance/A_B-1h", "alpha/A_B-1h"):
        file = tmp_path / "ohlcv" / f"{relative}.parquet"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.touch()

    # Act
    by_timeframe = find_series(tmp_path, "X/Y")
    by_source = find_series(tmp_path, "A/B")
    only_5m = find_series(tmp_path, "X/Y", preferred_timeframes=("5m", "1m"))

    # Assert
    assert by_timeframe == tmp_path / "ohlcv" / "alpha" / "X_Y-1m.parquet"
    assert by_source == tmp_path / "ohlcv" / "binance" / "A_B-1h.parquet"
    assert only_5m == tmp_path / "ohlcv" / "binance" / "X_Y-5m.parquet"


def test_find_series_handles_a_directory_without_candles(tmp_path: Path) -> None:
    assert find_series(tmp_path, "BTC/USDT") is None
    assert find_series(tmp_path / "missing", "BTC/USDT") is None


@pytest.mark.parametrize("symbol", ["BTCUSDT", "../etc/USDT", "BTC/", "BTC/US DT"])
def test_find_series_rejects_symbols_that_are_not_unified(tmp_path: Path, symbol: str) -> None:
    with pytest.raises(ValueError, match="not a unified market symbol"):
        find_series(tmp_path, symbol)


def test_default_data_dir_prefers_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Arrange
    monkeypatch.setenv("TRADEWIRE_DATA_DIR", str(tmp_path))

    # Act / Assert
    assert default_data_dir() == tmp_path


def test_default_data_dir_falls_back_to_the_sibling_shared_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Arrange
    monkeypatch.delenv("TRADEWIRE_DATA_DIR", raising=False)
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)

    # Act
    before = default_data_dir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    after = default_data_dir()

    # Assert
    assert before is None
    assert after == tmp_path / "shared" / "data"


# --- Catalog ----------------------------------------------------------------------------------------


def test_every_demo_market_parses_as_a_ccxt_spot_market() -> None:
    # Act
    markets = [Market.from_ccxt(definition) for definition in DEMO_MARKETS]

    # Assert
    assert len({market.symbol for market in markets}) == len(DEMO_MARKETS)
    for definition, market in zip(DEMO_MARKETS, markets, strict=True):
        assert definition["type"] == "spot"
        assert definition["spot"] is True
        assert market.spot
        assert market.active
        assert market.symbol == f"{market.base}/{market.quote}"
        assert market.amount_step > 0
        assert market.price_step > 0
        assert market.min_cost is not None
        assert market.min_amount == market.amount_step


def test_demo_markets_carry_binance_steps_ticks_and_min_notional() -> None:
    # Arrange
    expected = {
        "BTC/USDT": ("0.00001", "0.01", "5"),
        "XRP/USDT": ("0.1", "0.0001", "5"),
        "DOGE/USDT": ("1", "0.00001", "5"),
        "ETH/BTC": ("0.0001", "0.00001", "0.0001"),
        "ADA/BTC": ("1", "0.00000001", "0.0001"),
        "NEO/BTC": ("0.01", "0.000001", "0.0001"),
    }

    # Act
    markets = demo_markets()

    # Assert
    for symbol, (step, tick, min_cost) in expected.items():
        market = markets[symbol]
        assert (market.amount_step, market.price_step, market.min_cost) == (
            Decimal(step),
            Decimal(tick),
            Decimal(min_cost),
        )


def test_every_demo_market_has_a_positive_simulated_start_price() -> None:
    assert set(SIMULATED_START_PRICES) == set(demo_markets())
    assert all(price > 0 for price in SIMULATED_START_PRICES.values())


@pytest.mark.parametrize("symbol", sorted(SIMULATED_START_PRICES))
def test_prepare_rejects_an_order_below_the_minimum_notional(symbol: str) -> None:
    # Arrange: one amount step at the start price is worth less than the minimum notional everywhere
    market = demo_markets()[symbol]
    price = Decimal(repr(SIMULATED_START_PRICES[symbol]))

    # Act / Assert
    with pytest.raises(OrderRejected, match="minimum notional"):
        market.prepare(market.amount_step, price)


@pytest.mark.parametrize("symbol", sorted(SIMULATED_START_PRICES))
def test_prepare_accepts_an_order_just_above_the_minimum_notional(symbol: str) -> None:
    # Arrange
    market = demo_markets()[symbol]
    assert market.min_cost is not None
    price = Decimal(repr(SIMULATED_START_PRICES[symbol]))
    amount = market.min_cost / price * Decimal("1.01") + market.amount_step

    # Act
    rounded, rounded_price = market.prepare(amount, price)

    # Assert
    assert rounded * rounded_price >= market.min_cost


# --- Replay -----------------------------------------------------------------------------------------


def test_replay_walks_real_closes_in_order_across_a_gap(data_dir: Path) -> None:
    # Arrange: a window of real candles around the first missing minute
    candles = read_candles(data_dir / "ohlcv" / "freqtrade" / "UNITTEST_BTC-1m.parquet", "UNITTEST/BTC", "1m")
    gap = int(np.argmax(np.diff(candles.ts) > ONE_MINUTE_MS))
    window = slice(max(gap - 3, 0), gap + 4)
    closes = candles.close[window].tolist()
    feed = ReplayFeed({"UNITTEST/BTC": ReplaySource(candles)})
    for _ in range(window.start):
        feed.step()

    # Act
    seen = walk(feed, "UNITTEST/BTC", len(closes) - 1)

    # Assert: one price per row, nothing invented for the missing minute
    assert seen == [Decimal(repr(close)) for close in closes]


def test_replay_loops_back_to_the_first_candle_after_the_last(data_dir: Path) -> None:
    # Arrange
    candles = read_candles(data_dir / "ohlcv" / "binance" / "ETH_USDT-1m.parquet", "ETH/USDT", "1m")
    source = ReplaySource(candles)
    feed = ReplayFeed({"ETH/USDT": source})
    first = feed.last_price("ETH/USDT")
    last = Decimal(repr(float(candles.close[-1])))

    # Act
    for _ in range(len(candles) - 1):
        feed.step()
    at_end = feed.last_price("ETH/USDT")
    feed.step()

    # Assert
    assert at_end == last
    assert feed.last_price("ETH/USDT") == first
    assert source.loops == 1
    assert source.ts == int(candles.ts[0])


def test_replay_skips_rows_without_a_usable_close() -> None:
    # Arrange
    feed = ReplayFeed({"BTC/USDT": ReplaySource(make_candles([10.0, math.nan, 0.0, 11.0]))})

    # Act
    seen = walk(feed, "BTC/USDT", 2)

    # Assert
    assert seen == [Decimal("10.0"), Decimal("11.0"), Decimal("10.0")]


def test_replay_refuses_a_series_with_no_usable_close() -> None:
    with pytest.raises(ValueError, match="no candle has a usable close"):
        ReplaySource(make_candles([math.nan, 0.0]))


def test_last_price_is_the_exact_decimal_of_the_float_close() -> None:
    # Arrange
    feed = ReplayFeed({"BTC/USDT": ReplaySource(make_candles([0.1 + 0.2]))})

    # Act
    price = feed.last_price("BTC/USDT")

    # Assert: the shortest repr, never the binary expansion 0.3000000000000000444...
    assert price == Decimal("0.30000000000000004")


def test_last_price_is_rounded_to_the_market_tick() -> None:
    # Arrange
    markets = demo_markets()
    sources: dict[str, PriceSource] = {
        "BTC/USDT": ReplaySource(make_candles([9097.126, 9097.124])),
        "ADA/BTC": ReplaySource(make_candles([0.0000228449])),
    }
    feed = ReplayFeed(sources, markets)

    # Act
    first = feed.last_price("BTC/USDT")
    ada = feed.last_price("ADA/BTC")
    feed.step()
    second = feed.last_price("BTC/USDT")

    # Assert
    assert (first, second, ada) == (Decimal("9097.13"), Decimal("9097.12"), Decimal("0.00002284"))


def test_last_price_never_rounds_to_zero() -> None:
    # Arrange: a close below half a tick
    feed = ReplayFeed({"BTC/USDT": ReplaySource(make_candles([0.001]))}, demo_markets())

    # Act / Assert
    assert feed.last_price("BTC/USDT") == Decimal("0.01")


def test_last_price_is_none_for_an_unknown_symbol() -> None:
    # Arrange
    feed = ReplayFeed({"BTC/USDT": ReplaySource(make_candles([1.0]))})

    # Act / Assert
    assert feed.last_price("DOGE/USDT") is None
    assert feed.symbols() == ["BTC/USDT"]
    with pytest.raises(KeyError):
        feed.source("DOGE/USDT")


def test_replay_feed_satisfies_the_market_data_port() -> None:
    # Arrange
    port: MarketData = ReplayFeed({"BTC/USDT": ReplaySource(make_candles([1.5]))})

    # Act / Assert
    assert port.symbols() == ["BTC/USDT"]
    assert port.last_price("BTC/USDT") == Decimal("1.5")


# --- Simulation -------------------------------------------------------------------------------------


def simulated_path(seed: int, steps: int, symbol: str = "BTC/USDT") -> list[float]:
    source = SimulatedSource(symbol, 65_000.0, seed)
    path = [source.current()]
    for _ in range(steps):
        source.step()
        path.append(source.current())
    return path


def test_simulation_is_deterministic_for_a_seed() -> None:
    # Act
    first = simulated_path(seed=7, steps=5_000)
    again = simulated_path(seed=7, steps=5_000)
    other_seed = simulated_path(seed=8, steps=5_000)
    other_symbol = simulated_path(seed=7, steps=5_000, symbol="ETH/USDT")

    # Assert
    assert first == again
    assert first != other_seed
    assert first != other_symbol
    assert first[0] == 65_000.0


def test_simulation_has_crypto_like_volatility_and_stays_positive() -> None:
    # Arrange
    steps = 100_000
    expected_per_step = 0.60 * math.sqrt(timeframe_ms("1m") / (365 * 86_400_000))

    # Act
    path = np.asarray(simulated_path(seed=11, steps=steps))

    # Assert
    log_returns = np.diff(np.log(path))
    assert bool((path > 0).all())
    assert abs(float(log_returns.std()) / expected_per_step - 1) < 0.02
    assert float(np.abs(log_returns).max()) < 10 * expected_per_step


def test_simulation_never_reaches_zero_even_with_absurd_volatility() -> None:
    # Arrange
    source = SimulatedSource("ADA/BTC", 0.0000069, seed=1, timeframe="1d", annual_volatility=50.0)

    # Act
    lowest = source.current()
    for _ in range(2_000):
        source.step()
        lowest = min(lowest, source.current())

    # Assert
    assert lowest > 0


def test_simulated_prices_are_labelled_and_rounded_to_the_tick() -> None:
    # Arrange
    feed = ReplayFeed({"BTC/USDT": SimulatedSource("BTC/USDT", 65_000.0, seed=7)}, demo_markets())

    # Act
    prices = walk(feed, "BTC/USDT", 50)

    # Assert
    assert feed.is_simulated("BTC/USDT")
    assert feed.source("BTC/USDT") == "simulated (seed 7)"
    assert len(set(prices)) > 1
    for price in prices:
        assert price is not None
        assert price > 0
        assert price == price.quantize(Decimal("0.01"))


# --- Pinned prices ----------------------------------------------------------------------------------


def test_pinned_price_wins_over_steps_until_unpinned() -> None:
    # Arrange
    feed = ReplayFeed({"BTC/USDT": ReplaySource(make_candles([100.0, 101.0, 102.0]))}, demo_markets())

    # Act
    feed.set_price("BTC/USDT", Decimal("50000.123"))
    pinned = walk(feed, "BTC/USDT", 1)
    feed.unpin("BTC/USDT")

    # Assert: the pin is exact (not rounded), and the series kept moving underneath it
    assert pinned == [Decimal("50000.123"), Decimal("50000.123")]
    assert feed.last_price("BTC/USDT") == Decimal("101")
    assert not feed.is_pinned("BTC/USDT")


def test_pinning_an_unknown_symbol_adds_it_until_unpinned() -> None:
    # Arrange
    feed = ReplayFeed({})

    # Act
    feed.set_price("PEPE/USDT", Decimal("0.00001"))
    while_pinned = (feed.symbols(), feed.last_price("PEPE/USDT"), feed.source("PEPE/USDT"))
    feed.unpin("PEPE/USDT")

    # Assert
    assert while_pinned == (["PEPE/USDT"], Decimal("0.00001"), "pinned")
    assert feed.last_price("PEPE/USDT") is None
    assert feed.symbols() == []


@pytest.mark.parametrize("price", [Decimal(0), Decimal("-1")])
def test_pinning_a_non_positive_price_is_refused(price: Decimal) -> None:
    feed = ReplayFeed({})
    with pytest.raises(ValueError, match="positive"):
        feed.set_price("BTC/USDT", price)


# --- Running ----------------------------------------------------------------------------------------


def test_run_steps_on_each_interval_until_stopped() -> None:
    # Arrange
    feed = ReplayFeed({"BTC/USDT": ReplaySource(make_candles([float(i) for i in range(1, 1_000)]))})

    async def run_until_three_steps() -> tuple[Decimal | None, Decimal | None]:
        stop = asyncio.Event()
        task = asyncio.create_task(feed.run(0.005, stop))
        async with asyncio.timeout(5):
            while (feed.last_price("BTC/USDT") or 0) < 4:
                await asyncio.sleep(0.001)
        stop.set()
        await asyncio.wait_for(task, timeout=1)
        stopped_at = feed.last_price("BTC/USDT")
        await asyncio.sleep(0.03)
        return stopped_at, feed.last_price("BTC/USDT")

    # Act
    stopped_at, later = asyncio.run(run_until_three_steps())

    # Assert
    assert stopped_at is not None
    assert stopped_at >= 4
    assert later == stopped_at


def test_run_refuses_a_non_positive_interval() -> None:
    feed = ReplayFeed({})
    with pytest.raises(ValueError, match="interval must be positive"):
        asyncio.run(feed.run(0, asyncio.Event()))


# --- Demo feed --------------------------------------------------------------------------------------


def test_demo_feed_replays_real_candles_where_the_data_has_them(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    markets = demo_markets()
    path = data_dir / "ohlcv" / "binance" / "BTC_USDT-1m.parquet"
    first_close = Decimal(repr(float(read_candles(path, "BTC/USDT", "1m").close[0])))

    # Act
    with caplog.at_level(logging.INFO, logger="tradewire.feed"):
        feed = build_demo_feed(data_dir, markets)

    # Assert
    assert sorted(feed.symbols()) == sorted(markets)
    assert feed.source("BTC/USDT") == "candles:binance/BTC_USDT-1m.parquet"
    assert feed.source("ETH/USDT") == "candles:binance/ETH_USDT-1m.parquet"
    assert feed.source("BTC/USD") == "candles:bitfinex/BTC_USD-1h.parquet"
    assert not feed.is_simulated("BTC/USDT")
    assert feed.last_price("BTC/USDT") == markets["BTC/USDT"].price_to_precision(first_close)
    assert feed.is_simulated("LTC/USDT")
    assert feed.source("LTC/USDT") == "simulated (seed 7)"
    lines = {record.getMessage().split(":", 1)[0]: record.getMessage() for record in caplog.records}
    assert set(lines) == set(markets)
    assert "SIMULATED" in lines["LTC/USDT"]
    assert "SIMULATED" not in lines["BTC/USDT"]
    assert "binance/BTC_USDT-1m.parquet" in lines["BTC/USDT"]


def test_demo_feed_without_a_data_dir_simulates_every_market(caplog: pytest.LogCaptureFixture) -> None:
    # Arrange
    markets = demo_markets()

    # Act
    with caplog.at_level(logging.INFO, logger="tradewire.feed"):
        feed = build_demo_feed(None, markets, seed=3)
        feed.step()

    # Assert
    assert sorted(feed.symbols()) == sorted(markets)
    for symbol, market in markets.items():
        price = feed.last_price(symbol)
        assert feed.is_simulated(symbol)
        assert feed.source(symbol) == "simulated (seed 3)"
        assert price is not None
        assert price > 0
        assert price == market.price_to_precision(price)
    simulated_lines = [record for record in caplog.records if "SIMULATED" in record.getMessage()]
    assert len(simulated_lines) == len(markets)


def test_demo_feed_is_reproducible_for_a_seed() -> None:
    # Arrange
    markets = demo_markets()
    first = build_demo_feed(None, markets, seed=5)
    second = build_demo_feed(None, markets, seed=5)

    # Act
    for _ in range(100):
        first.step()
        second.step()

    # Assert
    assert {s: first.last_price(s) for s in markets} == {s: second.last_price(s) for s in markets}


def test_demo_feed_gives_no_price_to_a_market_without_data_or_start_price(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Arrange
    markets = {"PEPE/USDT": Market.from_ccxt({"symbol": "PEPE/USDT", "base": "PEPE", "quote": "USDT"})}

    # Act
    with caplog.at_level(logging.WARNING, logger="tradewire.feed"):
        feed = build_demo_feed(None, markets)

    # Assert
    assert feed.last_price("PEPE/USDT") is None
    assert "no simulated start price" in caplog.text


def test_demo_feed_falls_back_to_simulation_when_a_file_is_unreadable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    broken = tmp_path / "ohlcv" / "binance" / "LTC_USDT-1m.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_text("not parquet")

    # Act
    with caplog.at_level(logging.WARNING, logger="tradewire.feed"):
        feed = build_demo_feed(tmp_path, {"LTC/USDT": demo_markets()["LTC/USDT"]})

    # Assert
    assert feed.is_simulated("LTC/USDT")
    assert "falling back to simulated prices" in caplog.text
