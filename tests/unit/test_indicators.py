"""Indicators against TA-Lib on real candles, without look-ahead, with warm-ups, NaN rules and checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
import talib

from tradewire.domain import indicators as ind
from tradewire.domain.candles import Candles

FloatArray = npt.NDArray[np.float64]
# TA-Lib's stubs declare MA_Type without re-exporting it from `talib`.
SMA = talib.MA_Type.SMA  # type: ignore[attr-defined]
Lines = tuple[npt.NDArray[np.generic], ...]


def assert_same_series(actual: FloatArray, expected: FloatArray, rtol: float = 1e-12) -> None:
    assert actual.dtype == np.float64
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=0)


def leading_nans(values: npt.NDArray[np.generic]) -> int:
    valid = np.flatnonzero(~np.isnan(values))
    return int(valid[0]) if valid.size else len(values)


# --- equal to TA-Lib on real candles ---------------------------------------------------------------


@pytest.mark.parametrize("period", [1, 5, 50])
def test_sma_equals_talib_sma(candles: Candles, period: int) -> None:
    expected = talib.SMA(candles.close, timeperiod=period)

    actual = ind.sma(candles.close, period)

    assert_same_series(actual, expected)


@pytest.mark.parametrize("period", [1, 12, 26, 200])
def test_ema_equals_talib_ema(candles: Candles, period: int) -> None:
    expected = talib.EMA(candles.close, timeperiod=period)

    actual = ind.ema(candles.close, period)

    assert_same_series(actual, expected)


@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_equals_talib_rsi(candles: Candles, period: int) -> None:
    expected = talib.RSI(candles.close, timeperiod=period)

    actual = ind.rsi(candles.close, period)

    assert_same_series(actual, expected)


@pytest.mark.parametrize(("fast", "slow", "signal"), [(12, 26, 9), (5, 35, 5)])
def test_macd_equals_talib_macd(candles: Candles, fast: int, slow: int, signal: int) -> None:
    expected = talib.MACD(candles.close, fastperiod=fast, slowperiod=slow, signalperiod=signal)

    actual = ind.macd(candles.close, fast, slow, signal)

    for line, reference in zip(actual, expected, strict=True):
        assert_same_series(line, reference)


@pytest.mark.parametrize(("period", "stddev"), [(20, 2.0), (10, 1.5)])
def test_bollinger_equals_talib_bbands_with_an_sma(candles: Candles, period: int, stddev: float) -> None:
    expected = talib.BBANDS(candles.close, timeperiod=period, nbdevup=stddev, nbdevdn=stddev, matype=SMA)

    actual = ind.bollinger(candles.close, period, stddev)

    for band, reference in zip(actual, expected, strict=True):
        assert_same_series(band, reference)


def test_bollinger_uses_the_population_standard_deviation(candles: Candles) -> None:
    windows = np.lib.stride_tricks.sliding_window_view(candles.close, 20)

    bands = ind.bollinger(candles.close, 20, 2.0)

    half_width = (bands.upper - bands.middle)[19:]
    np.testing.assert_allclose(half_width, 2.0 * windows.std(axis=1, ddof=0), rtol=1e-6)


@pytest.mark.parametrize("period", [1, 14])
def test_atr_equals_talib_atr(candles: Candles, period: int) -> None:
    expected = talib.ATR(candles.high, candles.low, candles.close, timeperiod=period)

    actual = ind.atr(candles.high, candles.low, candles.close, period)

    assert_same_series(actual, expected)


@pytest.mark.parametrize(("k_period", "k_smooth", "d_period"), [(14, 3, 3), (5, 1, 1), (21, 5, 4)])
def test_stochastic_equals_talib_stoch_with_smas(
    candles: Candles, k_period: int, k_smooth: int, d_period: int
) -> None:
    expected = talib.STOCH(
        candles.high,
        candles.low,
        candles.close,
        fastk_period=k_period,
        slowk_period=k_smooth,
        slowk_matype=SMA,
        slowd_period=d_period,
        slowd_matype=SMA,
    )

    actual = ind.stochastic(candles.high, candles.low, candles.close, k_period, k_smooth, d_period)

    for line, reference in zip(actual, expected, strict=True):
        assert_same_series(line, reference)


def test_obv_equals_talib_obv(candles: Candles) -> None:
    expected = talib.OBV(candles.close, candles.volume)

    actual = ind.obv(candles.close, candles.volume)

    assert_same_series(actual, expected)


@pytest.mark.parametrize("period", [2, 14])
def test_mfi_equals_talib_mfi(candles: Candles, period: int) -> None:
    expected = talib.MFI(candles.high, candles.low, candles.close, candles.volume, timeperiod=period)

    actual = ind.mfi(candles.high, candles.low, candles.close, candles.volume, period)

    assert_same_series(actual, expected)


def vwap_reference(
    high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, period: int
) -> FloatArray:
    result = np.full(len(close), np.nan)
    # Python floats (the same doubles as numpy's, ~10 times faster to index one by one); each
    # candle's typical price times its volume worked out once, the sums over each window as before.
    volumes = volume.tolist()
    priced = [
        (h + lo + c) / 3.0 * v
        for h, lo, c, v in zip(high.tolist(), low.tolist(), close.tolist(), volumes, strict=True)
    ]
    for i in range(period - 1, len(close)):
        window = range(i - period + 1, i + 1)
        weighted = sum(priced[j] for j in window)
        traded = sum(volumes[j] for j in window)
        result[i] = weighted / traded
    return result


@pytest.mark.parametrize("period", [1, 14, 96])
def test_vwap_equals_a_plain_loop(candles: Candles, period: int) -> None:
    expected = vwap_reference(candles.high, candles.low, candles.close, candles.volume, period)

    actual = ind.vwap(candles.high, candles.low, candles.close, candles.volume, period)

    assert_same_series(actual, expected, rtol=1e-9)


def crossings_reference(a: FloatArray, b: FloatArray) -> tuple[list[bool], list[bool]]:
    above, below = [False], [False]
    for i in range(1, len(a)):
        above.append(bool(a[i - 1] <= b[i - 1] and a[i] > b[i]))
        below.append(bool(a[i - 1] >= b[i - 1] and a[i] < b[i]))
    return above, below


@pytest.mark.parametrize("pair", ["close_and_sma", "ema_fast_and_slow"])
def test_crossings_equal_a_plain_loop(candles: Candles, pair: str) -> None:
    if pair == "close_and_sma":
        a, b = candles.close, ind.sma(candles.close, 20)
    else:
        a, b = ind.ema(candles.close, 12), ind.ema(candles.close, 26)
    expected_above, expected_below = crossings_reference(a, b)

    above, below = ind.crossed_above(a, b), ind.crossed_below(a, b)

    assert above.dtype == np.bool_
    assert below.dtype == np.bool_
    assert above.tolist() == expected_above
    assert below.tolist() == expected_below
    assert above.any()
    assert below.any()


# --- no look-ahead and warm-up ---------------------------------------------------------------------

# name -> (computation on candles, leading NaNs of every output line)
INDICATORS: dict[str, tuple[Callable[[Candles], Lines], int]] = {
    "sma(20)": (lambda c: (ind.sma(c.close, 20),), 19),
    "sma(1)": (lambda c: (ind.sma(c.close, 1),), 0),
    "ema(12)": (lambda c: (ind.ema(c.close, 12),), 11),
    "ema(26)": (lambda c: (ind.ema(c.close, 26),), 25),
    "rsi(14)": (lambda c: (ind.rsi(c.close),), 14),
    "rsi(5)": (lambda c: (ind.rsi(c.close, 5),), 5),
    "macd(12,26,9)": (lambda c: tuple(ind.macd(c.close)), 33),
    "macd(5,10,4)": (lambda c: tuple(ind.macd(c.close, 5, 10, 4)), 12),
    "bollinger(20)": (lambda c: tuple(ind.bollinger(c.close)), 19),
    "bollinger(7)": (lambda c: tuple(ind.bollinger(c.close, 7, 1.0)), 6),
    "atr(14)": (lambda c: (ind.atr(c.high, c.low, c.close),), 14),
    "atr(1)": (lambda c: (ind.atr(c.high, c.low, c.close, 1),), 1),
    "stochastic(14,3,3)": (lambda c: tuple(ind.stochastic(c.high, c.low, c.close)), 17),
    "stochastic(9,1,4)": (lambda c: tuple(ind.stochastic(c.high, c.low, c.close, 9, 1, 4)), 11),
    "obv": (lambda c: (ind.obv(c.close, c.volume),), 0),
    "mfi(14)": (lambda c: (ind.mfi(c.high, c.low, c.close, c.volume),), 14),
    "mfi(3)": (lambda c: (ind.mfi(c.high, c.low, c.close, c.volume, 3),), 3),
    "vwap(24)": (lambda c: (ind.vwap(c.high, c.low, c.close, c.volume, 24),), 23),
}


@pytest.mark.parametrize("name", INDICATORS)
def test_values_before_a_cut_do_not_depend_on_later_candles(candles: Candles, name: str) -> None:
    compute, _ = INDICATORS[name]
    full = compute(candles)
    cuts = [1, 2, 15, 34, 101, len(candles) // 2, len(candles) - 1]

    for k in cuts:
        truncated = compute(candles.rows(stop=k))

        for line, reference in zip(truncated, full, strict=True):
            np.testing.assert_array_equal(line, reference[:k], err_msg=f"{name} cut at {k}")


def test_crossings_before_a_cut_do_not_depend_on_later_candles(candles: Candles) -> None:
    def compute(c: Candles) -> Lines:
        fast, slow = ind.ema(c.close, 12), ind.ema(c.close, 26)
        return ind.crossed_above(fast, slow), ind.crossed_below(fast, slow)

    full = compute(candles)

    for k in [1, 2, 27, 101, len(candles) // 2]:
        for line, reference in zip(compute(candles.rows(stop=k)), full, strict=True):
            np.testing.assert_array_equal(line, reference[:k])


@pytest.mark.parametrize("name", INDICATORS)
def test_warm_up_is_the_documented_number_of_leading_nans(candles: Candles, name: str) -> None:
    compute, warm_up = INDICATORS[name]

    lines = compute(candles)

    for line in lines:
        assert len(line) == len(candles)
        assert leading_nans(line) == warm_up
        assert not np.isnan(line[warm_up:]).any()  # real, complete candles: no NaN after the warm-up


def test_a_series_shorter_than_the_warm_up_is_all_nan() -> None:
    close = [1.0, 2.0, 3.0]

    assert np.isnan(ind.ema(close, 5)).all()
    assert np.isnan(ind.rsi(close, 3)).all()
    assert all(np.isnan(line).all() for line in ind.macd(close))


def test_empty_input_gives_empty_output() -> None:
    empty: list[float] = []

    assert ind.sma(empty, 3).shape == (0,)
    assert ind.ema(empty, 3).shape == (0,)
    assert ind.vwap(empty, empty, empty, empty, 3).shape == (0,)
    assert ind.crossed_above(empty, empty).shape == (0,)


# --- conventions, computed by hand -----------------------------------------------------------------


def test_ema_is_seeded_with_the_sma_of_the_first_period_values() -> None:
    close = [2.0, 4.0, 6.0, 8.0, 12.0, 14.0, 16.0]

    result = ind.ema(close, 3)

    # seed (2 + 4 + 6) / 3 = 4, then k = 2 / (3 + 1) = 0.5: 0.5 * price + 0.5 * previous
    np.testing.assert_allclose(result, [np.nan, np.nan, 4.0, 6.0, 9.0, 11.5, 13.75], rtol=1e-15)


def test_rsi_uses_wilder_smoothing_seeded_with_plain_averages() -> None:
    close = [44.0, 45.0, 44.0, 46.0, 47.0, 45.0, 48.0]  # changes +1 -1 +2 +1 -2 +3

    result = ind.rsi(close, 3)

    # seed: gain (1 + 0 + 2) / 3 = 1, loss (0 + 1 + 0) / 3 = 1/3 -> 100 * 1 / (4/3) = 75
    # then avg = (2 * avg + change) / 3: gain 1, loss 2/9 -> 900/11; gain 2/3, loss 22/27 -> 45;
    # gain 13/9, loss 44/81 -> 11700/161
    expected = [np.nan, np.nan, np.nan, 75.0, 900 / 11, 45.0, 11700 / 161]
    np.testing.assert_allclose(result, expected, rtol=1e-12)


def test_a_flat_window_gives_zero_for_oscillators_like_talib() -> None:
    flat = np.full(30, 5.0)

    assert ind.rsi(flat, 14)[-1] == 0.0
    assert ind.mfi(flat, flat, flat, np.ones(30), 14)[-1] == 0.0
    assert ind.stochastic(flat, flat, flat).k[-1] == 0.0


def test_oscillators_do_not_depend_on_the_price_scale(candles: Candles) -> None:
    # Older TA-Lib compared with absolute epsilons (1e-8), which broke RSI, MFI and the bands of
    # satoshi-priced pairs; this pins the scale-free behaviour of the version in use.
    scale = 1e-6
    high, low, close = candles.high * scale, candles.low * scale, candles.close * scale

    np.testing.assert_allclose(ind.rsi(close), ind.rsi(candles.close), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        ind.mfi(high, low, close, candles.volume),
        ind.mfi(candles.high, candles.low, candles.close, candles.volume),
        rtol=1e-9,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        ind.bollinger(close).upper / scale, ind.bollinger(candles.close).upper, rtol=1e-9
    )


# --- missing values --------------------------------------------------------------------------------


def test_leading_nans_are_skipped_and_the_warm_up_starts_after_them(candles: Candles) -> None:
    close = candles.close[:200].copy()
    close[:5] = np.nan

    result = ind.ema(close, 12)

    assert leading_nans(result) == 5 + 11
    np.testing.assert_array_equal(result[5:], ind.ema(candles.close[5:200], 12))


def test_a_gap_blanks_every_later_value_of_a_running_indicator(candles: Candles) -> None:
    close = candles.close[:200].copy()
    close[100] = np.nan

    result = ind.rsi(close, 14)

    # talib.RSI would carry on with zeros here, which reads as "deeply oversold".
    assert not np.isnan(result[14:100]).any()
    assert np.isnan(result[100:]).all()
    np.testing.assert_array_equal(result[:100], ind.rsi(candles.close[:100], 14))


def test_a_gap_in_any_input_blanks_the_stochastic_from_there_on(candles: Candles) -> None:
    high = candles.high[:200].copy()
    high[100] = np.nan

    lines = ind.stochastic(high, candles.low[:200], candles.close[:200])

    for line in lines:
        assert not np.isnan(line[17:100]).any()
        assert np.isnan(line[100:]).all()


def test_a_gap_blanks_only_the_sma_and_vwap_windows_that_hold_it(candles: Candles) -> None:
    c = candles.rows(stop=200)
    close = c.close.copy()
    close[100] = np.nan

    means = ind.sma(close, 10)
    prices = ind.vwap(c.high, c.low, close, c.volume, 10)

    for result, clean in [
        (means, ind.sma(c.close, 10)),
        (prices, ind.vwap(c.high, c.low, c.close, c.volume, 10)),
    ]:
        assert np.isnan(result[100:110]).all()
        np.testing.assert_allclose(result[:100], clean[:100], rtol=1e-12)
        np.testing.assert_allclose(result[110:], clean[110:], rtol=1e-9)


def test_vwap_is_nan_where_the_window_has_no_volume() -> None:
    price = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0])
    # A running sum of these volumes ends at about 4e-17, not 0: the empty window must still be NaN.
    volume = np.array([0.1, 0.2, 0.3, 0.0, 0.0, 0.0])

    result = ind.vwap(price, price, price, volume, 3)

    expected = [np.nan, np.nan, (1.0 + 2.2 + 3.6) / 0.6, (2.2 + 3.6) / 0.5, 12.0, np.nan]
    np.testing.assert_allclose(result, expected, rtol=1e-12)


def test_crossings_are_false_at_the_start_and_next_to_nans() -> None:
    a = np.array([5.0, 1.0, 3.0, np.nan, 3.0, 1.0, 3.0])
    b = np.full(7, 2.0)

    above = ind.crossed_above(a, b)
    below = ind.crossed_below(a, b)

    assert above.tolist() == [False, False, True, False, False, False, True]
    assert below.tolist() == [False, True, False, False, False, True, False]


def test_a_crossing_of_a_fixed_level_takes_a_number() -> None:
    rsi_values = [25.0, 35.0, 72.0, 68.0]

    assert ind.crossed_above(rsi_values, 70).tolist() == [False, False, True, False]
    assert ind.crossed_below(rsi_values, 70).tolist() == [False, False, False, True]


def test_touching_the_other_line_is_not_a_crossing() -> None:
    a = [1.0, 2.0, 2.0, 3.0]
    b = [2.0, 2.0, 2.0, 2.0]

    # 1 -> 2 only touches; 2 -> 3 starts at equality and ends above: that one crosses.
    assert ind.crossed_above(a, b).tolist() == [False, False, False, True]


# --- parameter and input checks --------------------------------------------------------------------

X = np.arange(1.0, 41.0)

INVALID: list[tuple[str, Callable[[], object], str]] = [
    ("sma period 0", lambda: ind.sma(X, 0), r"sma: period must be between 1 and 100000, got 0"),
    ("ema negative period", lambda: ind.ema(X, -3), r"ema: period must be between 1 and 100000"),
    ("ema float period", lambda: ind.ema(X, 2.5), r"ema: period must be an integer, got 2.5"),  # type: ignore[arg-type]
    ("ema bool period", lambda: ind.ema(X, True), r"ema: period must be an integer, got True"),
    ("sma huge period", lambda: ind.sma(X, 100_001), r"between 1 and 100000, got 100001"),
    ("rsi period 1", lambda: ind.rsi(X, 1), r"rsi: period must be between 2 and 100000, got 1"),
    ("macd fast 1", lambda: ind.macd(X, 1, 26, 9), r"macd: fast must be between 2"),
    ("macd signal 0", lambda: ind.macd(X, 12, 26, 0), r"macd: signal must be between 1"),
    ("macd fast >= slow", lambda: ind.macd(X, 26, 12, 9), r"macd: fast must be shorter than slow"),
    ("bollinger period 1", lambda: ind.bollinger(X, 1), r"bollinger: period must be between 2"),
    ("bollinger negative", lambda: ind.bollinger(X, 20, -1.0), r"bollinger: stddev must be a finite number"),
    ("bollinger nan", lambda: ind.bollinger(X, 20, float("nan")), r"bollinger: stddev must be a finite"),
    ("atr period 0", lambda: ind.atr(X, X, X, 0), r"atr: period must be between 1"),
    ("stochastic k_smooth 0", lambda: ind.stochastic(X, X, X, 14, 0, 3), r"stochastic: k_smooth must be"),
    ("stochastic d_period 0", lambda: ind.stochastic(X, X, X, 14, 3, 0), r"stochastic: d_period must be"),
    ("mfi period 1", lambda: ind.mfi(X, X, X, X, 1), r"mfi: period must be between 2"),
    ("vwap period 0", lambda: ind.vwap(X, X, X, X, 0), r"vwap: period must be between 1"),
    (
        "lengths differ",
        lambda: ind.atr(X, X[:5], X),
        r"atr: inputs must have the same length, got high=40, low=5",
    ),
    ("two-dimensional", lambda: ind.ema(np.ones((4, 4)), 3), r"ema: close must be one-dimensional"),
    ("scalar series", lambda: ind.sma(5.0, 3), r"sma: close must be one-dimensional"),
    ("crossing lengths", lambda: ind.crossed_above(X, X[:3]), r"crossed_above: inputs must have the same"),
]


@pytest.mark.parametrize(("call", "message"), [(c, m) for _, c, m in INVALID], ids=[n for n, _, _ in INVALID])
def test_invalid_parameters_are_refused_with_a_clear_message(
    call: Callable[[], object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_lists_and_numpy_integers_are_accepted() -> None:
    close = [float(v) for v in range(1, 31)]

    result = ind.sma(close, np.int64(3))  # type: ignore[arg-type]

    assert result.dtype == np.float64
    assert result[2] == 2.0
