"""Multi-timeframe confirmation: resampling, completed candles only, score, priority, scalar = vectorised."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import talib
from pydantic import ValidationError

from tradewire.adapters.candles_parquet import read_candles
from tradewire.domain.candles import Candles, timeframe_ms
from tradewire.domain.strategies.confirmation import (
    DEFAULT_TIMEFRAMES,
    INDICATORS,
    Confirmation,
    MtfParams,
    completed_index,
    confirm,
    confirm_all,
    priority_for,
    resample,
    score_for,
)

MINUTE = 60_000
HOUR = 3_600_000


@pytest.fixture(scope="module")
def unittest_1m(data_dir: Path) -> Candles:
    """Nov 2017 1m candles with 538 gaps."""
    return read_candles(data_dir / "ohlcv/freqtrade/UNITTEST_BTC-1m.parquet", "UNITTEST/BTC", "1m")


def five_minute(close: npt.ArrayLike, ts: npt.ArrayLike | None = None) -> Candles:
    values = np.asarray(close, dtype=np.float64)
    opens = np.arange(len(values), dtype=np.int64) * 5 * MINUTE if ts is None else np.asarray(ts, np.int64)
    return Candles(
        symbol="TEST/USDT",
        timeframe="5m",
        ts=opens,
        open=values,
        high=values + 1,
        low=values - 1,
        close=values,
        volume=np.ones(len(values)),
    )


def loop_resample(candles: Candles, timeframe: str) -> list[tuple[int, float, float, float, float, float]]:
    """(open time, open, high, low, close, volume) per bucket, by walking the candles one by one."""
    step = timeframe_ms(timeframe)
    rows: list[tuple[int, float, float, float, float, float]] = []
    for i in range(len(candles)):
        start = int(candles.ts[i]) // step * step
        o, h, low, c, v = (
            float(x[i]) for x in (candles.open, candles.high, candles.low, candles.close, candles.volume)
        )
        if rows and rows[-1][0] == start:
            t0, o0, h0, l0, _, v0 = rows[-1]
            rows[-1] = (t0, o0, max(h0, h), min(l0, low), c, v0 + v)
        else:
            rows.append((start, o, h, low, c, v))
    return rows


def independent_votes(candles: Candles, i: int, timeframe: str) -> dict[str, bool]:
    """The votes at base candle i on `timeframe`, from the loop-built candles that ended by i's close."""
    close_at = int(candles.ts[i]) + timeframe_ms(candles.timeframe)
    step = timeframe_ms(timeframe)
    rows = [row for row in loop_resample(candles.rows(stop=i + 1), timeframe) if row[0] + step <= close_at]
    if not rows:
        return dict.fromkeys(INDICATORS, False)
    close = np.array([row[4] for row in rows])
    strength = talib.RSI(close, timeperiod=14)[-1]
    macd, signal, _ = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    fast, slow = talib.EMA(close, timeperiod=12)[-1], talib.EMA(close, timeperiod=26)[-1]
    return {
        "rsi": bool(50 < strength < 70),
        "macd": bool(macd[-1] > signal[-1]),
        "ema": bool(fast > slow),
    }


def sample_indices(n: int) -> list[int]:
    return sorted({*range(0, 40), *range(140, 160), *np.linspace(0, n - 1, 120).astype(int).tolist(), n - 1})


# --- resample -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("timeframe", ["15m", "1h"])
def test_resample_matches_a_loop_aggregation_of_real_5m_candles(eth_btc_5m: Candles, timeframe: str) -> None:
    expected = loop_resample(eth_btc_5m, timeframe)

    higher = resample(eth_btc_5m, timeframe)

    assert higher.timeframe == timeframe and higher.symbol == "ETH/BTC"
    assert len(higher) == len(expected)
    columns = (higher.ts, higher.open, higher.high, higher.low, higher.close, higher.volume)
    for k, column in enumerate(columns):
        np.testing.assert_allclose(column, [row[k] for row in expected], rtol=1e-12, atol=0)


@pytest.mark.parametrize("timeframe", ["5m", "15m", "1h", "1d"])
def test_resample_matches_a_loop_aggregation_across_real_gaps(unittest_1m: Candles, timeframe: str) -> None:
    expected = loop_resample(unittest_1m, timeframe)

    higher = resample(unittest_1m, timeframe)

    np.testing.assert_array_equal(higher.ts, [row[0] for row in expected])
    np.testing.assert_allclose(higher.volume, [row[5] for row in expected], rtol=1e-12)
    np.testing.assert_array_equal(higher.close, [row[4] for row in expected])
    assert (higher.ts % timeframe_ms(timeframe) == 0).all()


def test_resample_leaves_empty_buckets_out() -> None:
    # Hour 0: 00:00, 00:05, 00:10. Hour 1: nothing. Hour 2: 02:00, 02:05.
    ts = [0, 5 * MINUTE, 10 * MINUTE, 2 * HOUR, 2 * HOUR + 5 * MINUTE]
    candles = five_minute([10, 12, 11, 20, 21], ts)

    hourly = resample(candles, "1h")

    assert hourly.ts.tolist() == [0, 2 * HOUR]
    assert hourly.open.tolist() == [10, 20]
    assert hourly.high.tolist() == [13, 22]
    assert hourly.low.tolist() == [9, 19]
    assert hourly.close.tolist() == [11, 21]
    assert hourly.volume.tolist() == [3, 2]


def test_resample_to_the_candles_own_timeframe_changes_nothing(eth_btc_5m: Candles) -> None:
    assert resample(eth_btc_5m, "5m") is eth_btc_5m
    assert len(resample(eth_btc_5m.rows(stop=0), "1h")) == 0


@pytest.mark.parametrize(
    ("timeframe", "message"),
    [
        ("1m", "timeframe '1m' is lower than the candles' timeframe '5m'"),
        ("7m", "timeframe '7m' is not a whole multiple of the candles' timeframe '5m'"),
        ("1M", "unknown timeframe '1M'"),
    ],
)
def test_resample_refuses_a_timeframe_it_cannot_build(
    eth_btc_5m: Candles, timeframe: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        resample(eth_btc_5m, timeframe)


# --- completed higher-timeframe candles only -----------------------------------------------------------


def test_an_hour_is_visible_only_once_its_last_5m_candle_has_closed(eth_btc_5m: Candles) -> None:
    hourly = resample(eth_btc_5m, "1h")
    index = completed_index(eth_btc_5m, hourly)
    minute = (eth_btc_5m.ts % HOUR) // MINUTE
    at_50 = int(np.flatnonzero(minute == 50)[5])  # the 10:50 candle closes at 10:55
    at_55 = at_50 + 1  # the 10:55 candle closes at 11:00, with the hour

    assert eth_btc_5m.ts[at_55] - eth_btc_5m.ts[at_50] == 5 * MINUTE
    assert hourly.ts[index[at_50]] == eth_btc_5m.ts[at_50] - 50 * MINUTE - HOUR  # still the 09:00 hour
    assert hourly.ts[index[at_55]] == eth_btc_5m.ts[at_55] - 55 * MINUTE  # now the 10:00 hour
    assert index[at_55 + 1] == index[at_55]  # 11:00 closes at 11:05: the 11:00 hour is not done


@pytest.mark.parametrize(
    ("fixture", "timeframe"), [("eth_btc_5m", "15m"), ("eth_btc_5m", "1h"), ("unittest_1m", "1h")]
)
def test_completed_index_is_the_last_higher_candle_ended_by_each_close(
    request: pytest.FixtureRequest, fixture: str, timeframe: str
) -> None:
    candles: Candles = request.getfixturevalue(fixture)
    higher = resample(candles, timeframe)
    base, step = timeframe_ms(candles.timeframe), timeframe_ms(timeframe)

    index = completed_index(candles, higher)

    expected = []
    j = -1
    for i in range(len(candles)):
        while j + 1 < len(higher) and higher.ts[j + 1] + step <= candles.ts[i] + base:
            j += 1
        expected.append(j)
    np.testing.assert_array_equal(index, expected)


def test_an_hour_missing_its_last_5m_candle_completes_at_the_next_close() -> None:
    # 00:00 … 00:50, no 00:55, then 01:00 and 01:05.
    ts = [m * 5 * MINUTE for m in range(11)] + [HOUR, HOUR + 5 * MINUTE]
    candles = five_minute(np.arange(len(ts)) + 100.0, ts)
    hourly = resample(candles, "1h")

    index = completed_index(candles, hourly)

    assert hourly.ts.tolist() == [0, HOUR]
    assert index.tolist() == [-1] * 11 + [0, 0]


# --- score and priority ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agreeing", "timeframes", "expected"),
    [
        (3, 3, "HIGH"),
        (2, 3, "MEDIUM"),
        (1, 3, "LOW"),
        (0, 3, "LOW"),
        (4, 4, "HIGH"),
        (3, 4, "MEDIUM"),
        (2, 4, "LOW"),  # a tie is not a majority
        (3, 5, "MEDIUM"),
        (1, 1, "HIGH"),
        (0, 1, "LOW"),
        (1, 2, "LOW"),
    ],
)
def test_priority_is_high_for_all_medium_for_a_majority_else_low(
    agreeing: int, timeframes: int, expected: str
) -> None:
    assert priority_for(agreeing, timeframes) == expected


@pytest.mark.parametrize(
    ("bullish", "total", "expected"),
    [(9, 9, 100), (0, 9, 0), (7, 9, 78), (5, 9, 56), (4, 9, 44), (3, 24, 13), (1, 8, 13), (6, 12, 50)],
)
def test_score_is_the_rounded_share_of_bullish_votes(bullish: int, total: int, expected: int) -> None:
    assert score_for(bullish, total) == expected


def test_score_and_priority_refuse_impossible_counts() -> None:
    with pytest.raises(ValueError, match="0 <= bullish <= total"):
        score_for(10, 9)
    with pytest.raises(ValueError, match="0 <= agreeing <= timeframes"):
        priority_for(1, 0)


def test_a_rising_market_with_pullbacks_on_every_timeframe_is_fully_confirmed() -> None:
    # An accelerating uptrend with a saw-tooth on each scale (5m, 15m, 1h): RSI between 50 and 70,
    # MACD rising above its signal line and the fast EMA over the slow one on all three timeframes.
    t = np.arange(1140)
    saw = [np.where(t // width % 2 == 0, 1.0, -1.0) for width in (1, 3, 12)]  # up, down, up, … per bar
    close = 100 * np.exp(0.0002 * t) * (1 + 0.0005 * saw[0] + 0.001 * saw[1] + 0.004 * saw[2])

    result = confirm(five_minute(close), -1)

    assert result.score == 100
    assert result.priority == "HIGH"
    assert result.agreeing == ("5m", "15m", "1h")
    assert all(all(votes.values()) for votes in result.details.values())


def test_an_accelerating_fall_gets_no_bullish_vote() -> None:
    t = np.arange(1200)
    close = 100 - 0.00002 * t**2

    result = confirm(five_minute(close), -1)

    assert result == Confirmation(
        score=0,
        priority="LOW",
        agreeing=(),
        details={tf: dict.fromkeys(INDICATORS, False) for tf in DEFAULT_TIMEFRAMES},
    )


def test_before_the_first_completed_hour_the_hour_votes_nothing(unittest_1m: Candles) -> None:
    index = completed_index(unittest_1m, resample(unittest_1m, "1h"))
    first_hour_done = int(np.flatnonzero(index == 0)[0])  # the series starts at 00:02

    early = confirm(unittest_1m, first_hour_done - 1, ("1m", "1h"))

    assert first_hour_done > 0 and index[first_hour_done - 1] == -1
    assert early.details["1h"] == {"rsi": False, "macd": False, "ema": False}
    assert "1h" not in early.agreeing


def test_a_series_starting_mid_hour_completes_its_first_partial_hour_at_the_hour(eth_btc_5m: Candles) -> None:
    # The data opens with the 04:55 candle: the first hour holds that candle alone and ends with it.
    hourly = resample(eth_btc_5m, "1h")

    index = completed_index(eth_btc_5m, hourly)

    assert eth_btc_5m.ts[0] % HOUR == 55 * MINUTE
    assert index[0] == 0
    assert hourly.close[0] == eth_btc_5m.close[0] and hourly.volume[0] == eth_btc_5m.volume[0]
    assert (index[1:12] == 0).all() and index[12] == 1  # 05:55 closes the 05:00 hour


def test_votes_match_talib_on_loop_built_candles_at_real_indices(eth_btc_5m: Candles) -> None:
    for i in (30, 200, 400, 1234, 2999, 4321, len(eth_btc_5m) - 1):
        result = confirm(eth_btc_5m, i)

        for timeframe in DEFAULT_TIMEFRAMES:
            assert result.details[timeframe] == independent_votes(eth_btc_5m, i, timeframe), (i, timeframe)


def test_score_priority_and_agreeing_follow_the_details_on_real_candles(eth_btc_5m: Candles) -> None:
    for i in sample_indices(len(eth_btc_5m)):
        result = confirm(eth_btc_5m, i)

        votes = [sum(v.values()) for v in result.details.values()]
        assert list(result.details) == list(DEFAULT_TIMEFRAMES)
        assert result.score == score_for(sum(votes), 9)
        assert result.agreeing == tuple(tf for tf, n in zip(DEFAULT_TIMEFRAMES, votes, strict=True) if n >= 2)
        assert result.priority == priority_for(len(result.agreeing), 3)


# --- confirm (one candle) agrees with confirm_all (every candle) --------------------------------------


def test_confirm_and_confirm_all_agree_on_real_5m_candles(eth_btc_5m: Candles) -> None:
    scores, priorities = confirm_all(eth_btc_5m)

    assert scores.dtype == np.int64 and len(scores) == len(priorities) == len(eth_btc_5m)
    assert {"HIGH", "MEDIUM", "LOW"} <= set(priorities.tolist())  # a real mix, not a constant
    for i in sample_indices(len(eth_btc_5m)):
        result = confirm(eth_btc_5m, i)

        assert (result.score, result.priority) == (int(scores[i]), str(priorities[i])), i


def test_confirm_and_confirm_all_agree_across_real_gaps_on_four_timeframes(unittest_1m: Candles) -> None:
    timeframes = ("1m", "5m", "15m", "1h")

    scores, priorities = confirm_all(unittest_1m, timeframes)

    for i in sample_indices(len(unittest_1m)):
        result = confirm(unittest_1m, i, timeframes)

        assert (result.score, result.priority) == (int(scores[i]), str(priorities[i])), i


def test_confirm_all_never_changes_when_later_candles_are_cut_off(eth_btc_5m: Candles) -> None:
    scores, priorities = confirm_all(eth_btc_5m)

    for k in (1, 11, 12, 13, 400, 2881, len(eth_btc_5m) - 1):
        cut_scores, cut_priorities = confirm_all(eth_btc_5m.rows(stop=k))

        np.testing.assert_array_equal(cut_scores, scores[:k])
        np.testing.assert_array_equal(cut_priorities, priorities[:k])


def test_confirm_counts_negative_indices_from_the_end_and_refuses_others(eth_btc_5m: Candles) -> None:
    assert confirm(eth_btc_5m, -1) == confirm(eth_btc_5m, len(eth_btc_5m) - 1)
    with pytest.raises(IndexError, match="outside the 5760 candles"):
        confirm(eth_btc_5m, len(eth_btc_5m))


@pytest.mark.parametrize(
    ("timeframes", "message"),
    [
        (("1m", "15m", "1h"), "timeframe '1m' is lower than the candles' timeframe '5m'"),
        (("5m", "12m"), "timeframe '12m' is not a whole multiple of the candles' timeframe '5m'"),
        (("5m", "5m"), "timeframes must be distinct"),
        ((), "give at least one timeframe"),
        ("1h", "must be a sequence of timeframes"),
    ],
)
def test_invalid_timeframes_are_a_clear_value_error(
    eth_btc_5m: Candles, timeframes: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        confirm(eth_btc_5m, 100, timeframes)
    with pytest.raises(ValueError, match=message):
        confirm_all(eth_btc_5m, timeframes)


def test_default_timeframes_do_not_fit_hourly_candles(data_dir: Path) -> None:
    hourly = read_candles(data_dir / "ohlcv/binance/BTC_USDT-1h.parquet", "BTC/USDT", "1h")

    with pytest.raises(ValueError, match="timeframe '5m' is lower than the candles' timeframe '1h'"):
        confirm_all(hourly)


# --- the result and the user's setting -----------------------------------------------------------------


def test_as_json_is_plain_json(eth_btc_5m: Candles) -> None:
    result = confirm(eth_btc_5m, 2000)

    data = json.loads(json.dumps(result.as_json()))

    assert data == {
        "score": result.score,
        "priority": result.priority,
        "agreeing": list(result.agreeing),
        "details": result.details,
    }


@pytest.mark.parametrize(
    ("min_priority", "accepted"),
    [("LOW", {"LOW", "MEDIUM", "HIGH"}), ("MEDIUM", {"MEDIUM", "HIGH"}), ("HIGH", {"HIGH"})],
)
def test_mtf_params_accept_signals_at_or_above_the_minimum_priority(
    min_priority: str, accepted: set[str]
) -> None:
    params = MtfParams.model_validate({"min_priority": min_priority})
    every = ["LOW", "MEDIUM", "HIGH"]

    verdicts = {p: params.accepts(Confirmation(50, p, (), {})) for p in every}  # type: ignore[arg-type]

    assert {p for p, ok in verdicts.items() if ok} == accepted
    np.testing.assert_array_equal(params.accepts_all(np.array(every)), [p in accepted for p in every])


def test_mtf_params_default_to_three_timeframes_and_skip_low_signals() -> None:
    params = MtfParams()

    assert params.timeframes == ("5m", "15m", "1h")
    assert params.min_priority == "MEDIUM"
    assert not params.accepts(Confirmation(33, "LOW", ("1h",), {}))


@pytest.mark.parametrize(
    "raw",
    [
        {"timeframes": ["5m", "1M"]},
        {"timeframes": []},
        {"timeframes": ["1h", "1h"]},
        {"min_priority": "medium"},
    ],
)
def test_mtf_params_refuse_bad_settings(raw: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MtfParams.model_validate(raw)


def test_confirm_all_with_mtf_params_filters_a_strategys_entries(eth_btc_5m: Candles) -> None:
    from tradewire.domain.strategies.builtin import EmaCross

    params = MtfParams()
    entries = EmaCross().signals(eth_btc_5m).entries
    _, priorities = confirm_all(eth_btc_5m, params.timeframes)

    kept = entries & params.accepts_all(priorities)

    assert 0 < kept.sum() < entries.sum()
    for i in np.flatnonzero(kept)[:10]:
        assert params.accepts(confirm(eth_btc_5m, int(i), params.timeframes))
