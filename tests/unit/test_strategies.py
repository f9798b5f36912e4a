"""Built-in strategies: no look-ahead and real signals on real candles, hand-checked crosses, the registry."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import talib

from tradewire.adapters.candles_parquet import read_candles
from tradewire.domain import indicators as ind
from tradewire.domain.candles import Candles
from tradewire.domain.strategies.base import Signals, Strategy
from tradewire.domain.strategies.builtin import (
    STRATEGIES,
    BollingerBreakout,
    BollingerBreakoutParams,
    EmaCross,
    EmaCrossParams,
    MacdMomentum,
    MacdMomentumParams,
    RsiMeanReversion,
    RsiMeanReversionParams,
    build_strategy,
)

# Defaults of every built-in, plus the variants that switch an optional rule on.
VARIANTS: list[tuple[str, dict[str, object]]] = [
    ("ema_cross", {}),
    ("ema_cross", {"rsi_max": None, "stop_loss_pct": 2.5, "take_profit_pct": 4.0}),
    ("rsi_mean_reversion", {}),
    ("macd", {}),
    ("macd", {"only_below_zero": True}),
    ("bollinger_breakout", {}),
]
VARIANT_IDS = [f"{name}-{'-'.join(params) or 'defaults'}" for name, params in VARIANTS]


@pytest.fixture(scope="module")
def btc_usd_1h(data_dir: Path) -> Candles:
    return read_candles(data_dir / "ohlcv/bitfinex/BTC_USD-1h.parquet", "BTC/USD", "1h")


def closes(values: list[float], timeframe: str = "1h") -> Candles:
    """Candles whose open, high, low and close are all `values` (the built-ins read closes only)."""
    close = np.asarray(values, dtype=np.float64)
    step = 3_600_000
    return Candles(
        symbol="TEST/USDT",
        timeframe=timeframe,
        ts=np.arange(len(close), dtype=np.int64) * step,
        open=close,
        high=close,
        low=close,
        close=close,
        volume=np.ones(len(close)),
    )


def where(flags: npt.NDArray[np.bool_]) -> list[int]:
    return [int(i) for i in np.flatnonzero(flags)]


def assert_same_signals(actual: Signals, expected: Signals) -> None:
    np.testing.assert_array_equal(actual.entries, expected.entries)
    np.testing.assert_array_equal(actual.exits, expected.exits)
    for name in ("stop_loss", "take_profit"):
        got, want = getattr(actual, name), getattr(expected, name)
        assert (got is None) == (want is None)
        if want is not None:
            np.testing.assert_array_equal(got, want)  # NaN == NaN here


def truncated(signals: Signals, k: int) -> Signals:
    return Signals(
        entries=signals.entries[:k],
        exits=signals.exits[:k],
        stop_loss=None if signals.stop_loss is None else signals.stop_loss[:k],
        take_profit=None if signals.take_profit is None else signals.take_profit[:k],
    )


# --- no look-ahead and real signals on real candles -------------------------------------------------


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=VARIANT_IDS)
def test_signals_never_change_when_later_candles_are_cut_off(
    candles: Candles, name: str, params: dict[str, object]
) -> None:
    strategy = build_strategy(name, params)
    full = strategy.signals(candles)
    n = len(candles)

    for k in sorted({1, strategy.warmup, strategy.warmup + 1, 60, 137, n // 3, n // 2, n - 1}):
        cut = strategy.signals(candles.rows(stop=k))

        assert_same_signals(cut, truncated(full, k))


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=VARIANT_IDS)
def test_every_builtin_trades_on_real_candles(
    eth_btc_5m: Candles, btc_usd_1h: Candles, name: str, params: dict[str, object]
) -> None:
    strategy = build_strategy(name, params)

    for series in (eth_btc_5m, btc_usd_1h):
        signals = strategy.signals(series)

        assert signals.entries.dtype == np.bool_
        assert signals.exits.dtype == np.bool_
        assert len(signals) == len(series)
        assert signals.entries.sum() >= 10, (series.symbol, int(signals.entries.sum()))
        assert signals.exits.sum() >= 10, (series.symbol, int(signals.exits.sum()))
        assert not (signals.entries & signals.exits).any()


@pytest.mark.parametrize(("name", "params"), VARIANTS, ids=VARIANT_IDS)
def test_no_signal_fires_during_the_warmup(candles: Candles, name: str, params: dict[str, object]) -> None:
    strategy = build_strategy(name, params)

    signals = strategy.signals(candles)

    assert not signals.entries[: strategy.warmup].any()
    assert not signals.exits[: strategy.warmup].any()


def test_warmups_are_the_first_candle_each_crossing_can_happen() -> None:
    warmups = {name: cls().warmup for name, cls in STRATEGIES.items()}

    assert warmups == {"ema_cross": 26, "rsi_mean_reversion": 15, "macd": 34, "bollinger_breakout": 20}
    assert EmaCross(EmaCrossParams(rsi_period=40)).warmup == 40
    assert EmaCross(EmaCrossParams(rsi_period=40, rsi_max=None)).warmup == 26


def test_signals_on_fewer_candles_than_the_warmup_are_all_false(eth_btc_5m: Candles) -> None:
    for name in STRATEGIES:
        strategy = build_strategy(name, None)

        for k in (0, 1, 2, strategy.warmup):
            signals = strategy.signals(eth_btc_5m.rows(stop=k))

            assert len(signals) == k
            assert not signals.entries.any() and not signals.exits.any()


# --- EmaCross: the benchmark's reference strategy ----------------------------------------------------


def test_ema_cross_entries_equal_a_plain_loop_over_talib_on_real_candles(candles: Candles) -> None:
    close = candles.close
    fast = talib.EMA(close, timeperiod=12)
    slow = talib.EMA(close, timeperiod=26)
    strength = talib.RSI(close, timeperiod=14)
    expected_entries = np.zeros(len(close), dtype=bool)
    expected_exits = np.zeros(len(close), dtype=bool)
    for i in range(1, len(close)):
        window = (fast[i - 1], slow[i - 1], fast[i], slow[i])
        if any(math.isnan(value) for value in window):
            continue
        if fast[i - 1] <= slow[i - 1] and fast[i] > slow[i] and strength[i] < 70:
            expected_entries[i] = True
        if fast[i - 1] >= slow[i - 1] and fast[i] < slow[i]:
            expected_exits[i] = True

    signals = EmaCross().signals(candles)

    assert expected_entries.sum() > 0 and expected_exits.sum() > 0
    np.testing.assert_array_equal(signals.entries, expected_entries)
    np.testing.assert_array_equal(signals.exits, expected_exits)


def test_ema_cross_is_exactly_the_benchmark_rule(eth_btc_5m: Candles) -> None:
    close = eth_btc_5m.close
    ema_fast, ema_slow = ind.ema(close, 12), ind.ema(close, 26)

    signals = build_strategy("ema_cross", None).signals(eth_btc_5m)

    np.testing.assert_array_equal(
        signals.entries, ind.crossed_above(ema_fast, ema_slow) & (ind.rsi(close, 14) < 70)
    )
    np.testing.assert_array_equal(signals.exits, ind.crossed_below(ema_fast, ema_slow))


def test_ema_cross_rsi_filter_skips_entries_when_overbought(eth_btc_5m: Candles) -> None:
    unfiltered = EmaCross(EmaCrossParams(rsi_max=None)).signals(eth_btc_5m)
    strict = EmaCross(EmaCrossParams(rsi_max=55)).signals(eth_btc_5m)
    strength = ind.rsi(eth_btc_5m.close, 14)

    skipped = unfiltered.entries & ~strict.entries

    assert not (strict.entries & ~unfiltered.entries).any()
    assert skipped.any()
    assert (strength[skipped] >= 55).all()


def test_ema_cross_enters_and_exits_on_the_hand_computed_candles() -> None:
    # EMA(2), k=2/3 and EMA(4), k=2/5, both 10 on the flat start. Candle 6 closes at 11: fast 10.667 >
    # slow 10.4, a cross up. Candle 8 closes at 9: fast 9.630 < slow 9.984, a cross down.
    series = closes([10, 10, 10, 10, 10, 10, 11, 11, 9, 9])

    signals = EmaCross(EmaCrossParams(fast=2, slow=4, rsi_max=None)).signals(series)

    assert where(signals.entries) == [6]
    assert where(signals.exits) == [8]


def test_ema_cross_stop_loss_and_take_profit_are_levels_from_each_entry_close(eth_btc_5m: Candles) -> None:
    strategy = EmaCross(EmaCrossParams(stop_loss_pct=2.0, take_profit_pct=5.0))

    signals = strategy.signals(eth_btc_5m)

    assert signals.stop_loss is not None and signals.take_profit is not None
    entries = signals.entries
    np.testing.assert_allclose(signals.stop_loss[entries], eth_btc_5m.close[entries] * 0.98, rtol=1e-15)
    np.testing.assert_allclose(signals.take_profit[entries], eth_btc_5m.close[entries] * 1.05, rtol=1e-15)
    assert np.isnan(signals.stop_loss[~entries]).all()
    assert np.isnan(signals.take_profit[~entries]).all()


def test_ema_cross_levels_are_nan_when_no_percentage_is_set(eth_btc_5m: Candles) -> None:
    signals = EmaCross(EmaCrossParams(take_profit_pct=3.0)).signals(eth_btc_5m)

    assert signals.stop_loss is not None and signals.take_profit is not None
    assert np.isnan(signals.stop_loss).all()
    assert not np.isnan(signals.take_profit[signals.entries]).any()


# --- the other built-ins on hand-built candles -------------------------------------------------------


def test_rsi_mean_reversion_enters_leaving_oversold_and_exits_reaching_overbought() -> None:
    # RSI(2), Wilder: candles 2 and 3 are 0 (losses only). Candle 4 (+1): gain 0.5, loss 0.5, RSI 50
    # crosses above 30. Candle 5 (+1): gain 0.75, loss 0.25, RSI 75 crosses above 70.
    series = closes([10, 9, 8, 7, 8, 9])

    signals = RsiMeanReversion(RsiMeanReversionParams(period=2)).signals(series)

    assert where(signals.entries) == [4]
    assert where(signals.exits) == [5]


def test_exit_wins_when_rsi_jumps_from_oversold_to_overbought_in_one_candle() -> None:
    # Candle 4 (+13): gain 6.5, loss 0.5, RSI 92.9: crosses 30 and 70 at once.
    series = closes([10, 9, 8, 7, 20])
    strength = ind.rsi(series.close, 2)

    signals = RsiMeanReversion(RsiMeanReversionParams(period=2)).signals(series)

    assert strength[3] < 30 < 70 < strength[4]
    assert not signals.entries.any()
    assert where(signals.exits) == [4]


def test_macd_momentum_enters_on_the_jump_and_exits_on_the_fall() -> None:
    # MACD(3, 5, 3) on a flat 10 is 0 with its signal line at 0. Candle 10 closes at 11: MACD 0.167 >
    # signal 0.083. Candle 12 falls back to 10: MACD 0.005 < signal 0.072.
    series = closes([10.0] * 10 + [11, 11, 10, 10])

    default = MacdMomentum(MacdMomentumParams(fast=3, slow=5, signal=3)).signals(series)
    below_zero = MacdMomentum(MacdMomentumParams(fast=3, slow=5, signal=3, only_below_zero=True))

    assert where(default.entries) == [10]
    assert where(default.exits) == [12]
    assert not below_zero.signals(series).entries.any()  # that cross happened above zero


def test_macd_only_below_zero_keeps_the_crosses_under_the_zero_line(eth_btc_5m: Candles) -> None:
    line = ind.macd(eth_btc_5m.close).macd
    every = MacdMomentum().signals(eth_btc_5m)

    below = MacdMomentum(MacdMomentumParams(only_below_zero=True)).signals(eth_btc_5m)

    np.testing.assert_array_equal(below.entries, every.entries & (line < 0))
    assert 0 < below.entries.sum() < every.entries.sum()
    np.testing.assert_array_equal(below.exits, every.exits)


def test_bollinger_breakout_enters_above_the_upper_band_and_exits_below_the_middle() -> None:
    # Period 3, 1 stddev. Candle 3: window 11, 12, 12 → middle 11.667, upper 12.138: close 12 between
    # them. Candle 4: window 12, 12, 15 → middle 13, upper 14.414: 15 breaks out. Candle 5: 12, 15, 16 →
    # middle 14.333, 16 stays above it. Candle 6: 15, 16, 12 → middle 14.333: 12 falls below it.
    series = closes([10, 11, 12, 12, 15, 16, 12, 12])

    signals = BollingerBreakout(BollingerBreakoutParams(period=3, stddev=1.0)).signals(series)

    assert where(signals.entries) == [4]
    assert where(signals.exits) == [6]


def test_a_nan_close_never_produces_a_signal() -> None:
    values = [10, 10, 10, 10, 10, 10, float("nan"), 11, 11, 9, 9]
    series = closes(values)

    for strategy in (
        EmaCross(EmaCrossParams(fast=2, slow=4, rsi_max=None)),
        RsiMeanReversion(RsiMeanReversionParams(period=2)),
        BollingerBreakout(BollingerBreakoutParams(period=3)),
    ):
        signals = strategy.signals(series)

        assert not signals.entries[6:].any()
        assert not signals.exits[6:].any()


# --- registry and parameters ------------------------------------------------------------------------


def test_registry_holds_the_four_builtins_under_their_names() -> None:
    classes = {name: type(cls()).__name__ for name, cls in STRATEGIES.items()}

    assert classes == {
        "ema_cross": "EmaCross",
        "rsi_mean_reversion": "RsiMeanReversion",
        "macd": "MacdMomentum",
        "bollinger_breakout": "BollingerBreakout",
    }
    for name, cls in STRATEGIES.items():
        assert cls.name == name
        assert cls.__doc__ and len(cls.__doc__) > 100


def test_build_strategy_applies_params_and_defaults_the_rest() -> None:
    strategy: Strategy = build_strategy("ema_cross", {"fast": 9, "slow": 21, "stop_loss_pct": 1.5})

    assert isinstance(strategy, EmaCross)
    assert strategy.params == EmaCrossParams(fast=9, slow=21, stop_loss_pct=1.5)
    assert strategy.params.model_dump()["rsi_max"] == 70
    assert build_strategy("macd", None).params == MacdMomentumParams()
    assert build_strategy("bollinger_breakout", {}).params == BollingerBreakoutParams()


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("ema_cross", {"fast": 26, "slow": 12}, "fast must be shorter than slow, got fast=26, slow=12"),
        ("ema_cross", {"fast": 20, "slow": 20}, "fast must be shorter than slow"),
        ("ema_cross", {"speed": 3}, "speed: unknown parameter"),
        ("ema_cross", {"rsi_period": -14}, "rsi_period: Input should be greater than or equal to 2, got -14"),
        ("ema_cross", {"fast": "12"}, "fast: Input should be a valid integer"),
        ("ema_cross", {"stop_loss_pct": 100}, "stop_loss_pct: Input should be less than 100"),
        ("rsi_mean_reversion", {"period": 0}, "period: Input should be greater than or equal to 2, got 0"),
        ("rsi_mean_reversion", {"oversold": 75}, "oversold must be below overbought"),
        ("macd", {"fast": 30}, "fast must be shorter than slow, got fast=30, slow=26"),
        ("macd", {"signal": -1}, "signal: Input should be greater than or equal to 1, got -1"),
        ("bollinger_breakout", {"stddev": -2}, "stddev: Input should be greater than 0, got -2"),
        ("bollinger_breakout", {"period": 20.5}, "period: Input should be a valid integer"),
    ],
)
def test_invalid_params_are_a_readable_value_error(
    name: str, params: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValueError, match=f"^invalid parameters for strategy '{name}': ") as raised:
        build_strategy(name, params)

    assert expected in str(raised.value)
    assert "pydantic" not in str(raised.value)  # no links to pydantic's error pages


def test_every_bad_field_is_named_in_one_error() -> None:
    with pytest.raises(ValueError) as raised:
        build_strategy("ema_cross", {"fast": 0, "rsi_max": 150, "colour": "red"})

    message = str(raised.value)
    assert "fast: " in message and "rsi_max: " in message and "colour: unknown parameter" in message


def test_unknown_strategy_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'ema_crossing'") as raised:
        build_strategy("ema_crossing", None)

    assert "bollinger_breakout, ema_cross, macd, rsi_mean_reversion" in str(raised.value)


def test_params_are_immutable_and_a_strategy_refuses_another_strategys_params() -> None:
    params = EmaCrossParams()

    with pytest.raises(ValueError):
        params.fast = 5  # type: ignore[misc]
    with pytest.raises(TypeError, match="expected EmaCrossParams, got MacdMomentumParams"):
        EmaCross(MacdMomentumParams())  # type: ignore[arg-type]
