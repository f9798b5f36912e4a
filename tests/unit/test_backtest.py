"""The backtester: hand-built candles with known answers, on both paths; fast == event-driven on real data."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from tradewire.adapters.candles_parquet import read_candles
from tradewire.domain import indicators as ind
from tradewire.domain.backtest import END, BacktestConfig, BacktestResult, run_backtest
from tradewire.domain.candles import Candles
from tradewire.domain.exits import ExitRules
from tradewire.domain.sizing import Sizing, SizingMode, SizingParams
from tradewire.domain.strategies.base import Signals, StrategyParams

D = Decimal
T0 = 1_700_000_000_000
STEP = 300_000  # 5m
SYMBOL = "BTC/USDT"
PAIRS = ("ADA", "DASH", "ETC", "ETH", "LTC", "NXT", "TRX", "XLM", "XMR", "ZEC")
SL2_TP4 = ExitRules(stop_loss_pct=D(2), take_profit_pct=D(4))

Bar = tuple[float, float, float, float]


def make_candles(bars: Sequence[Bar], symbol: str = SYMBOL, start: int = T0) -> Candles:
    rows = np.array(bars, dtype=np.float64).reshape(-1, 4)
    return Candles(
        symbol=symbol,
        timeframe="5m",
        ts=start + STEP * np.arange(len(rows), dtype=np.int64),
        open=rows[:, 0],
        high=rows[:, 1],
        low=rows[:, 2],
        close=rows[:, 3],
        volume=np.ones(len(rows)),
    )


class Scripted:
    """A strategy that signals at given candle indices (per symbol), optionally with its own levels."""

    name: ClassVar[str] = "scripted"
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(
        self,
        entries: Sequence[int] = (),
        exits: Sequence[int] = (),
        *,
        per_symbol: dict[str, tuple[Sequence[int], Sequence[int]]] | None = None,
        stop_loss: dict[int, float] | None = None,
        warmup: int = 0,
    ) -> None:
        self.params = StrategyParams()
        self.warmup = warmup
        self._default = (entries, exits)
        self._per_symbol = per_symbol or {}
        self._stop_loss = stop_loss

    def signals(self, candles: Candles) -> Signals:
        n = len(candles)
        entries_at, exits_at = self._per_symbol.get(candles.symbol, self._default)
        entries = np.zeros(n, dtype=np.bool_)
        exits = np.zeros(n, dtype=np.bool_)
        entries[list(entries_at)] = True
        exits[list(exits_at)] = True
        stop_loss = None
        if self._stop_loss is not None:
            stop_loss = np.full(n, np.nan)
            for row, level in self._stop_loss.items():
                stop_loss[row] = level
        return Signals(entries=entries, exits=exits, stop_loss=stop_loss)


class _NoParams:
    """A test strategy without parameters."""

    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(self) -> None:
        self.params = StrategyParams()


class EmaCrossRef(_NoParams):
    """The reference strategy, written here so these tests do not depend on the built-in catalogue."""

    name: ClassVar[str] = "ema_cross_ref"
    warmup = 26

    def signals(self, candles: Candles) -> Signals:
        fast, slow = ind.ema(candles.close, 12), ind.ema(candles.close, 26)
        exits = ind.crossed_below(fast, slow)
        entries = ind.crossed_above(fast, slow) & (ind.rsi(candles.close, 14) < 70) & ~exits
        return Signals(entries=entries, exits=exits)


class AboveEma(_NoParams):
    """Signals an entry on EVERY candle above EMA(20) (so, many while in a position), exits on a cross
    below EMA(50): after a stop the next entry comes before the next exit signal."""

    name: ClassVar[str] = "above_ema"
    warmup = 50

    def signals(self, candles: Candles) -> Signals:
        entries = candles.close > ind.ema(candles.close, 20)
        exits = ind.crossed_below(candles.close, ind.ema(candles.close, 50))
        return Signals(entries=entries & ~exits, exits=exits)


class CrossNoExit(_NoParams):
    """Entries on EMA crosses, no exit signal at all: only stops, time limits and END close trades."""

    name: ClassVar[str] = "cross_no_exit"
    warmup = 26

    def signals(self, candles: Candles) -> Signals:
        entries = ind.crossed_above(ind.ema(candles.close, 12), ind.ema(candles.close, 26))
        return Signals(entries=entries, exits=np.zeros(len(candles), dtype=np.bool_))


def run(strategy: Scripted, bars: Sequence[Bar], fast: bool, **config: Any) -> BacktestResult:
    return run_backtest(strategy, {SYMBOL: make_candles(bars)}, BacktestConfig(**config), fast=fast)


both_paths = pytest.mark.parametrize("fast", [True, False], ids=["fast", "event"])

FLAT: Bar = (100.0, 101.0, 99.0, 100.0)


# --- Hand-built candles ------------------------------------------------------------------------------


@both_paths
def test_signal_fills_at_the_next_open_with_fees_and_a_marked_equity_curve(fast: bool) -> None:
    bars = [FLAT, (100, 102, 99.5, 101), (101, 103, 100, 102), (104, 105, 103, 104), (104, 104, 104, 104)]
    result = run(Scripted(entries=[0], exits=[2]), bars, fast)
    (trade,) = result.trades
    assert (trade.entry_time_ms, trade.entry_price) == (T0 + STEP, 100.0)
    assert (trade.exit_time_ms, trade.exit_price, trade.exit_reason) == (T0 + 3 * STEP, 104.0, "SIGNAL")
    # 1,000 buys 10 at 100: fees 1.00 in, 1.04 out; PnL 40 - 2.04.
    assert trade.amount == pytest.approx(10.0)
    assert trade.fees == pytest.approx(2.04)
    assert trade.pnl == pytest.approx(37.96)
    assert result.path == ("fast" if fast else "event")
    np.testing.assert_allclose(result.equity, [10_000, 10_009, 10_019, 10_037.96, 10_037.96])
    np.testing.assert_array_equal(result.ts_ms, T0 + STEP * np.arange(5))
    assert result.report.final_equity == pytest.approx(10_037.96)


@both_paths
def test_the_stop_is_checked_on_the_entry_candle(fast: bool) -> None:
    bars = [FLAT, (100, 101, 97, 99), (99, 100, 98.5, 99)]
    (trade,) = run(Scripted(entries=[0]), bars, fast, exit_rules=SL2_TP4).trades
    assert (trade.entry_time_ms, trade.exit_time_ms) == (T0 + STEP, T0 + STEP)
    assert (trade.exit_price, trade.exit_reason) == (98.0, "SL")
    assert trade.pnl == pytest.approx(-20 - 1.0 - 0.98)


@both_paths
def test_stop_loss_wins_when_stop_and_target_are_both_touched(fast: bool) -> None:
    bars = [FLAT, FLAT, (100, 105, 97, 101), FLAT]
    (trade,) = run(Scripted(entries=[0]), bars, fast, exit_rules=SL2_TP4).trades
    assert (trade.exit_time_ms, trade.exit_price, trade.exit_reason) == (T0 + 2 * STEP, 98.0, "SL")


@both_paths
def test_a_gap_through_a_level_fills_at_the_open(fast: bool) -> None:
    down = run(Scripted(entries=[0]), [FLAT, FLAT, (95, 96, 94, 95), FLAT], fast, exit_rules=SL2_TP4)
    (trade,) = down.trades
    assert (trade.exit_time_ms, trade.exit_price, trade.exit_reason) == (T0 + 2 * STEP, 95.0, "SL")
    up = run(Scripted(entries=[0]), [FLAT, FLAT, (106, 107, 105, 106), FLAT], fast, exit_rules=SL2_TP4)
    (trade,) = up.trades
    assert (trade.exit_price, trade.exit_reason) == (106.0, "TP")
    touched = run(Scripted(entries=[0]), [FLAT, FLAT, (101, 104.5, 100, 104), FLAT], fast, exit_rules=SL2_TP4)
    assert (touched.trades[0].exit_price, touched.trades[0].exit_reason) == (104.0, "TP")


@both_paths
def test_an_exit_signal_fills_at_the_open_before_stops_are_checked(fast: bool) -> None:
    # The exit signal at candle 1 fills at candle 2's open (100), although candle 2 then falls through
    # the stop (98) and the target is touched too: flat after the open, nothing left to stop.
    bars = [FLAT, FLAT, (100, 105, 90, 95), FLAT]
    (trade,) = run(Scripted(entries=[0], exits=[1]), bars, fast, exit_rules=SL2_TP4).trades
    assert (trade.exit_time_ms, trade.exit_price, trade.exit_reason) == (T0 + 2 * STEP, 100.0, "SIGNAL")


@both_paths
def test_fee_and_slippage_arithmetic(fast: bool) -> None:
    bars = [FLAT, FLAT, (105, 106, 104, 105), (110, 111, 109, 110), FLAT]
    result = run(Scripted(entries=[0], exits=[2]), bars, fast, slippage=0.01, fee_rate=0.002)
    (trade,) = result.trades
    amount = 1000 / 101.0  # bought at 100 × 1.01
    assert trade.entry_price == pytest.approx(101.0)
    assert trade.exit_price == pytest.approx(108.9)  # sold at 110 × 0.99
    assert trade.amount == pytest.approx(amount)
    fees = 0.002 * 1000 + 0.002 * amount * 108.9
    assert trade.fees == pytest.approx(fees)
    assert trade.pnl == pytest.approx((108.9 - 101.0) * amount - fees)
    # Marked at the closes: cash 10,000 - 1,000 - 2 plus the holding at 100 and 105.
    np.testing.assert_allclose(
        result.equity[:3], [10_000, 8_998 + amount * 100, 8_998 + amount * 105], rtol=1e-12
    )
    assert result.equity[-1] == pytest.approx(10_000 + trade.pnl)


@both_paths
def test_a_position_open_at_the_end_closes_at_the_last_close(fast: bool) -> None:
    bars = [FLAT, FLAT, (101, 103, 100, 102), (102, 108, 101, 107)]
    result = run(Scripted(entries=[0]), bars, fast, slippage=0.001)
    (trade,) = result.trades
    assert (trade.exit_time_ms, trade.exit_reason) == (T0 + 3 * STEP, END)
    assert trade.exit_price == pytest.approx(107 * 0.999)
    assert result.equity[-1] == pytest.approx(10_000 + trade.pnl)
    assert result.report.per_exit_reason[0].reason == END


@both_paths
def test_signals_that_cannot_act_are_ignored(fast: bool) -> None:
    # Entries while in the position (2, 3), an exit while flat (6), an entry on its own exit candle (8),
    # and an entry on the last candle (no next open).
    bars = [FLAT] * 10
    trades = run(Scripted(entries=[0, 2, 3, 8, 9], exits=[4, 6, 8]), bars, fast).trades
    assert [(t.entry_time_ms - T0) // STEP for t in trades] == [1]
    assert [(t.exit_time_ms - T0) // STEP for t in trades] == [5]


@both_paths
def test_a_new_entry_may_follow_a_stop_on_its_own_candle(fast: bool) -> None:
    bars = [FLAT, (100, 101, 97, 99), FLAT, (100, 101, 99.5, 100), FLAT]
    trades = run(Scripted(entries=[0, 1], exits=[3]), bars, fast, exit_rules=SL2_TP4).trades
    assert [
        (t.exit_reason, (t.entry_time_ms - T0) // STEP, (t.exit_time_ms - T0) // STEP) for t in trades
    ] == [
        ("SL", 1, 1),
        ("SIGNAL", 2, 4),
    ]


@both_paths
def test_time_limit_closes_at_the_close(fast: bool) -> None:
    bars = [FLAT, FLAT, (100, 101, 99, 100.5), FLAT, FLAT]
    rules = ExitRules(stop_loss_pct=D(2), max_hold_s=600)
    (trade,) = run(Scripted(entries=[0]), bars, fast, exit_rules=rules).trades
    # Opened at candle 1's open; 600 s later is candle 2's close.
    assert (trade.exit_time_ms, trade.exit_price, trade.exit_reason) == (T0 + 2 * STEP, 100.5, "TIMEOUT")


@both_paths
def test_a_signal_s_own_stop_level_wins_over_the_rules(fast: bool) -> None:
    bars = [FLAT, (100, 101, 99.5, 100), (100, 101, 98.5, 99), (99, 100, 96, 97)]
    strategy = Scripted(entries=[0], stop_loss={0: 99.0})
    (trade,) = run(strategy, bars, fast, exit_rules=SL2_TP4).trades
    assert (trade.exit_time_ms, trade.exit_price, trade.exit_reason) == (T0 + 2 * STEP, 99.0, "SL")


def test_warmup_drops_earlier_entries() -> None:
    trades = run(Scripted(entries=[1, 4], exits=[6], warmup=3), [FLAT] * 8, True).trades
    assert [(t.entry_time_ms - T0) // STEP for t in trades] == [5]


def test_trailing_stop_takes_the_event_path() -> None:
    bars = [FLAT, FLAT, (100, 110, 100, 109), (109, 109.5, 104, 105), FLAT]
    rules = ExitRules(trailing_pct=D(5))
    result = run(Scripted(entries=[0]), bars, True, exit_rules=rules)
    assert result.path == "event"
    assert "trailing" in result.note
    (trade,) = result.trades
    # Best 110 after candle 2, so the trailing level on candle 3 is 104.5.
    assert (trade.exit_time_ms, trade.exit_reason) == (T0 + 3 * STEP, "TRAILING")
    assert trade.exit_price == pytest.approx(104.5)


# --- Several symbols, sizing and the account ----------------------------------------------------------


def test_symbols_share_the_account_on_the_merged_timeline() -> None:
    a = make_candles([FLAT, FLAT, (100, 101, 99, 110), (110, 111, 109, 110)], "A/USDT")
    b = make_candles([FLAT, (100, 101, 99, 90), (90, 91, 89, 90)], "B/USDT", start=T0 + 2 * STEP)
    strategy = Scripted(per_symbol={"A/USDT": ([0], []), "B/USDT": ([0], [])})
    for fast in (True, False):
        result = run_backtest(strategy, {"A/USDT": a, "B/USDT": b}, BacktestConfig(fee_rate=0.0), fast=fast)
        np.testing.assert_array_equal(result.ts_ms, T0 + STEP * np.arange(5))
        # A: 10 from candle 1 (close 100, 110, 110, 110); B: 10 from ts 3 (close 90, 90), both END.
        np.testing.assert_allclose(result.equity, [10_000, 10_000, 10_100, 10_000, 10_000])
        assert [t.symbol for t in result.trades] == ["A/USDT", "B/USDT"]
        assert [t.exit_reason for t in result.trades] == [END, END]
        assert [t.exit_time_ms for t in result.trades] == [T0 + 3 * STEP, T0 + 4 * STEP]


def test_the_fast_path_defers_when_the_cash_limits_an_entry() -> None:
    symbols = ("A/USDT", "B/USDT", "C/USDT")
    data = {s: make_candles([FLAT] * 5, s) for s in symbols}
    config = BacktestConfig(
        initial_capital=3_000.0,
        sizing=Sizing(SizingMode.FIXED_QUOTE, D(1_000), SizingParams(max_position_pct=D(100))),
    )
    result = run_backtest(Scripted(entries=[0], exits=[3]), data, config)
    assert result.path == "event"
    assert "cash" in result.note
    # A and B take 1,001 each with the fee; C's 1,001 exceeds the 998 left.
    assert [t.symbol for t in result.trades] == ["A/USDT", "B/USDT"]
    assert result.skipped_entries == 1


def test_the_fast_path_defers_when_the_sizing_cap_limits_an_entry() -> None:
    assert run(Scripted(entries=[0], exits=[2]), [FLAT] * 4, True).path == "fast"
    config = BacktestConfig(sizing=Sizing(SizingMode.FIXED_QUOTE, D(3_000)))
    capped = run_backtest(Scripted(entries=[0], exits=[2]), {SYMBOL: make_candles([FLAT] * 4)}, config)
    assert capped.path == "event"
    assert "cap" in capped.note
    assert capped.trades[0].amount * capped.trades[0].entry_price == pytest.approx(2_000)  # 20 % of 10,000


@pytest.mark.parametrize(
    "sizing",
    [
        Sizing(SizingMode.EQUITY_PCT, D(10)),
        Sizing(SizingMode.RISK_PCT, D(1), SizingParams(stop_loss_pct=D(2))),
        Sizing(SizingMode.KELLY, D("0.25"), SizingParams(stop_loss_pct=D(2))),
    ],
    ids=lambda s: s.mode.value,
)
def test_equity_dependent_sizing_takes_the_event_path(sizing: Sizing) -> None:
    bars = [FLAT, FLAT, FLAT, (104, 105, 103, 104), FLAT, FLAT, (102, 103, 101, 102), FLAT]
    strategy = Scripted(entries=[0, 4], exits=[2, 6])
    result = run(strategy, bars, True, sizing=sizing, exit_rules=SL2_TP4)
    assert result.path == "event"
    assert sizing.mode.value in result.note
    first, second = result.trades
    notional = first.amount * first.entry_price
    if sizing.mode is SizingMode.EQUITY_PCT:
        assert notional == pytest.approx(1_000)  # 10 % of 10,000
        # The second entry is sized on the equity after the first trade's profit.
        assert second.amount * second.entry_price == pytest.approx((10_000 + first.pnl) / 10)
    else:
        # Risk 1 % (Kelly: its fallback before 20 trades) over a 2 % stop = 50 % of equity, capped at 20 %.
        assert notional == pytest.approx(2_000)


@both_paths
def test_no_signal_no_trade_and_a_flat_curve(fast: bool) -> None:
    result = run(Scripted(), [FLAT] * 4, fast, exit_rules=SL2_TP4)
    assert result.trades == ()
    np.testing.assert_array_equal(result.equity, [10_000.0] * 4)
    assert result.report.trades == 0
    assert result.report.total_return_pct == 0.0


def test_progress_keeps_growing_when_the_fast_path_falls_back() -> None:
    data = {s: make_candles([FLAT] * 400, s) for s in ("A/USDT", "B/USDT", "C/USDT")}
    config = BacktestConfig(
        initial_capital=2_500.0,
        sizing=Sizing(SizingMode.FIXED_QUOTE, D(1_000), SizingParams(max_position_pct=D(100))),
    )
    seen: list[float] = []
    result = run_backtest(Scripted(entries=[0], exits=[300]), data, config, progress=seen.append)
    assert result.path == "event"
    assert len(seen) > 10
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


def test_signal_sizing_is_refused() -> None:
    with pytest.raises(ValueError, match="signal"):
        BacktestConfig(sizing=Sizing(SizingMode.SIGNAL, D(1)))
    with pytest.raises(ValueError, match="fee_rate"):
        BacktestConfig(fee_rate=-0.1)
    with pytest.raises(ValueError, match="timeframe"):
        BacktestConfig(timeframe="1M")


def test_missing_prices_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        run(Scripted(entries=[0]), [FLAT, (math.nan, 101, 99, 100), FLAT], True)


# --- Report, JSON and progress ------------------------------------------------------------------------


@both_paths
def test_metrics_json_and_progress(fast: bool) -> None:
    bars = [FLAT, (100, 102, 99.5, 101), (101, 103, 100, 102), (104, 105, 103, 104), FLAT, FLAT, FLAT]
    seen: list[float] = []
    result = run_backtest(
        Scripted(entries=[0, 4], exits=[2]),
        {SYMBOL: make_candles(bars)},
        BacktestConfig(exit_rules=SL2_TP4),
        progress=seen.append,
        fast=fast,
    )
    assert seen[-1] == 1.0
    assert seen == sorted(seen)
    assert all(0.0 <= value <= 1.0 for value in seen)
    report = result.report
    assert report.trades == 2
    assert report.initial_capital == 10_000
    assert report.final_equity == pytest.approx(result.equity[-1])
    assert report.fees_paid == pytest.approx(sum(t.fees for t in result.trades))
    assert {row.reason for row in report.per_exit_reason} == {"SIGNAL", END}
    assert [row.symbol for row in report.per_pair] == [SYMBOL]
    data = json.loads(json.dumps(result.to_json()))
    assert data["path"] == result.path
    assert data["report"]["trades"] == 2
    assert len(data["trades"]) == 2
    assert data["trades"][0]["exit_reason"] == "SIGNAL"
    assert data["config"]["exit_rules"] == {"stop_loss_pct": "2", "take_profit_pct": "4"}
    assert len(data["equity"]["ts_ms"]) == len(bars)
    assert len(result.to_json(max_equity_points=3)["equity"]["equity"]) == 3


# --- Real data: the fast path gives exactly the event-driven trades -------------------------------------


PAIR_CANDLES = 2_880  # the first 10 days of each pair's 20 (5m): hundreds of trades, SL and TP among them
# The engines compared on the first 5 days: 150 to 1,200 trades a run over the ten pairs, every exit
# reason (SIGNAL, SL, TP, TIMEOUT, END) among them; twice the candles took twice the time, no new case.
COMPARED_CANDLES = 1_440


@pytest.fixture(scope="module")
def pairs(data_dir: Path) -> dict[str, Candles]:
    folder = data_dir / "ohlcv" / "freqtrade"
    return {
        f"{base}/BTC": read_candles(folder / f"{base}_BTC-5m.parquet", f"{base}/BTC", "5m").rows(
            0, PAIR_CANDLES
        )
        for base in PAIRS
    }


@pytest.fixture(scope="module")
def compared(pairs: dict[str, Candles]) -> dict[str, Candles]:
    return {symbol: candles.rows(0, COMPARED_CANDLES) for symbol, candles in pairs.items()}


def assert_same(fast: BacktestResult, event: BacktestResult) -> None:
    assert fast.path == "fast", fast.note
    assert event.path == "event"

    def key(t: object) -> tuple[object, ...]:
        return tuple(
            getattr(t, name)
            for name in (
                "symbol",
                "entry_time_ms",
                "exit_time_ms",
                "entry_price",
                "exit_price",
                "exit_reason",
            )
        )

    assert [key(t) for t in fast.trades] == [key(t) for t in event.trades]
    np.testing.assert_allclose(
        [t.pnl for t in fast.trades], [t.pnl for t in event.trades], rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose([t.amount for t in fast.trades], [t.amount for t in event.trades], rtol=1e-12)
    np.testing.assert_array_equal(fast.ts_ms, event.ts_ms)
    np.testing.assert_allclose(fast.equity, event.equity, rtol=1e-9)
    assert fast.report.final_equity == pytest.approx(event.report.final_equity, rel=1e-9)


REAL_CONFIGS = {
    "no stops": BacktestConfig(initial_capital=100_000.0),
    "SL 2 % / TP 4 %": BacktestConfig(initial_capital=100_000.0, exit_rules=SL2_TP4),
    "SL/TP + slippage + time limit": BacktestConfig(
        initial_capital=100_000.0,
        slippage=0.0005,
        exit_rules=ExitRules(stop_loss_pct=D(2), take_profit_pct=D(4), max_hold_s=6 * 3600),
    ),
}


@pytest.mark.parametrize("name", list(REAL_CONFIGS))
@pytest.mark.parametrize("strategy", [EmaCrossRef(), AboveEma(), CrossNoExit()], ids=lambda s: s.name)
def test_fast_path_trades_exactly_as_the_event_driven_engine_on_ten_pairs(
    compared: dict[str, Candles], name: str, strategy: EmaCrossRef
) -> None:
    config = REAL_CONFIGS[name]
    fast = run_backtest(strategy, compared, config)
    event = run_backtest(strategy, compared, config, fast=False)
    assert_same(fast, event)
    assert {t.symbol for t in fast.trades} == set(compared)
    if name != "no stops":
        assert {"SL", "TP"} <= {t.exit_reason for t in fast.trades}


def test_fast_path_per_pair_equals_event_driven(compared: dict[str, Candles]) -> None:
    config = BacktestConfig(exit_rules=SL2_TP4, slippage=0.001)
    for symbol, candles in compared.items():
        assert_same(
            run_backtest(EmaCrossRef(), {symbol: candles}, config),
            run_backtest(EmaCrossRef(), {symbol: candles}, config, fast=False),
        )


def test_ten_pairs_on_a_small_account_are_walked_candle_by_candle(pairs: dict[str, Candles]) -> None:
    # 10 × 1,000 stakes on 10,000 of capital: at some point the cash does not pay for every entry.
    result = run_backtest(EmaCrossRef(), pairs, BacktestConfig(exit_rules=SL2_TP4))
    assert result.path == "event"
    assert result.skipped_entries > 0
    assert result.report.trades == len(result.trades)
