"""Multi-timeframe confirmation: does the bigger picture agree with a long signal on the base candles?

A signal on the base timeframe (say 5m) is checked on several timeframes (by default 5m, 15m and 1h).
On each one, three indicators vote "bullish" or not, from the last COMPLETED candle of that timeframe:

- RSI(14) in the bullish zone, 50 < RSI < 70: buyers in control, but not yet overbought;
- MACD(12, 26, 9): the MACD line above its signal line (momentum rising);
- EMA(12) above EMA(26) (the trend is up).

A timeframe agrees when at least 2 of its 3 votes are bullish. The result:

- `score`: the share of bullish votes over every timeframe and indicator, 0..100, rounded half up
  (7 of 9 votes → 78);
- `priority`: HIGH when every timeframe agrees, MEDIUM when a strict majority does (2 of 3, 3 of 4,
  3 of 5), LOW otherwise (1 of 3, 0 of 3, or 2 of 4: a tie is not a majority).

Higher-timeframe candles are built from the base candles (`resample`): buckets start at multiples of the
timeframe since the epoch (UTC midnight for 1d; Thursdays for 1w, the epoch's weekday). A missing base
candle simply leaves its bucket shorter, and so does the start of the data (a series opening at 04:55
has a first 1h candle made of that one 5m candle; its close, all the votes read, is still right). An
empty bucket is absent: the indicators see the buckets there are as consecutive.

No look-ahead: at the close of base candle i, a higher candle is used only once its whole period has
passed, i.e. once its last base candle has closed (`completed_index`). Until then the previous completed
one counts; before the first one exists, and while an indicator is still warming up (NaN), the vote is
not bullish.

`confirm` answers for one candle (live: "is the signal on this candle confirmed?") from the candles up
to it only; `confirm_all` gives every candle's score and priority at once (backtests); they agree.
`MtfParams` is the user's setting: which timeframes, and the lowest priority still traded (MEDIUM by
default: LOW signals are skipped).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tradewire.domain import indicators as ind
from tradewire.domain.candles import Candles, timeframe_ms

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Priority = Literal["HIGH", "MEDIUM", "LOW"]
PRIORITIES: tuple[Priority, ...] = ("LOW", "MEDIUM", "HIGH")  # from lowest to highest
DEFAULT_TIMEFRAMES: tuple[str, ...] = ("5m", "15m", "1h")
INDICATORS: tuple[str, ...] = ("rsi", "macd", "ema")  # the keys of Confirmation.details[timeframe]

RSI_PERIOD = 14
RSI_BULLISH_ABOVE = 50.0  # a bullish RSI is strictly between these two levels
RSI_BULLISH_BELOW = 70.0
MACD_PERIODS = (12, 26, 9)
EMA_FAST, EMA_SLOW = 12, 26


@dataclass(frozen=True)
class Confirmation:
    """How far the timeframes agree with a long at one base candle.

    `details[timeframe][indicator]` is each vote ("rsi", "macd", "ema"), in the order the timeframes
    were given; `agreeing` lists the timeframes with at least 2 bullish votes, in that order too.
    """

    score: int
    priority: Priority
    agreeing: tuple[str, ...]
    details: dict[str, dict[str, bool]]

    def as_json(self) -> dict[str, Any]:
        """A JSON-safe dict: score, priority, agreeing (a list) and details."""
        return {
            "score": self.score,
            "priority": self.priority,
            "agreeing": list(self.agreeing),
            "details": {timeframe: dict(votes) for timeframe, votes in self.details.items()},
        }


class MtfParams(BaseModel):
    """A strategy's multi-timeframe filter: the timeframes to check and the lowest priority to trade."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeframes: tuple[str, ...] = Field(default=DEFAULT_TIMEFRAMES, min_length=1, max_length=12)
    min_priority: Priority = "MEDIUM"

    @field_validator("timeframes")
    @classmethod
    def _known_and_distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for timeframe in value:
            timeframe_ms(timeframe)  # a ValueError naming the bad one
        if len(set(value)) != len(value):
            raise ValueError(f"timeframes must be distinct, got {', '.join(value)}")
        return value

    def accepts(self, confirmation: Confirmation) -> bool:
        """True when the confirmation's priority is at least `min_priority`."""
        return PRIORITIES.index(confirmation.priority) >= PRIORITIES.index(self.min_priority)

    def accepts_all(self, priorities: npt.ArrayLike) -> BoolArray:
        """`accepts` for an array of priorities, such as the one `confirm_all` returns."""
        allowed = list(PRIORITIES[PRIORITIES.index(self.min_priority) :])
        return np.isin(np.asarray(priorities), allowed)


def resample(candles: Candles, timeframe: str) -> Candles:
    """The candles aggregated into `timeframe`: open first, high max, low min, close last, volume sum.

    Buckets start at multiples of the timeframe since the epoch; empty buckets are absent. The last
    bucket may be incomplete (see `completed_index`). A NaN inside a bucket makes that value NaN. The
    candles' own timeframe gives them back unchanged; a lower one or one that is not a whole multiple
    of it is a ValueError.
    """
    step = _check_timeframe(candles.timeframe, timeframe)
    if step == timeframe_ms(candles.timeframe):
        return candles
    if len(candles) == 0:
        return dataclasses.replace(candles, timeframe=timeframe)
    buckets = candles.ts - candles.ts % step  # floor, also before 1970
    starts = np.flatnonzero(np.concatenate(([True], buckets[1:] != buckets[:-1])))
    ends = np.concatenate((starts[1:], [len(buckets)])) - 1
    return Candles(
        symbol=candles.symbol,
        timeframe=timeframe,
        ts=buckets[starts],
        open=candles.open[starts],
        high=np.maximum.reduceat(candles.high, starts),
        low=np.minimum.reduceat(candles.low, starts),
        close=candles.close[ends],
        volume=np.add.reduceat(candles.volume, starts),
    )


def completed_index(candles: Candles, higher: Candles) -> npt.NDArray[np.intp]:
    """For each base candle i, the index in `higher` of the last candle complete at i's close; -1: none.

    A higher candle opening at t is complete once t + its length <= the close of base candle i
    (ts[i] + base length): its last base candle has closed. `higher` is `resample(candles, tf)`.
    """
    step = _check_timeframe(candles.timeframe, higher.timeframe)
    closes_at = candles.ts + timeframe_ms(candles.timeframe)
    complete_at = higher.ts + step
    return np.searchsorted(complete_at, closes_at, side="right") - 1


def bullish_votes(candles: Candles) -> dict[str, BoolArray]:
    """The three votes on every candle of one series: {"rsi", "macd", "ema"} → bool arrays.

    NaN (warm-up) votes False.
    """
    close = candles.close
    strength = ind.rsi(close, RSI_PERIOD)
    lines = ind.macd(close, *MACD_PERIODS)
    return {
        "rsi": (strength > RSI_BULLISH_ABOVE) & (strength < RSI_BULLISH_BELOW),
        "macd": lines.macd > lines.signal,
        "ema": ind.ema(close, EMA_FAST) > ind.ema(close, EMA_SLOW),
    }


def score_for(bullish: int, total: int) -> int:
    """100 × bullish / total votes, rounded half up (exact integer arithmetic)."""
    if total <= 0 or not 0 <= bullish <= total:
        raise ValueError(f"score: need 0 <= bullish <= total and total > 0, got {bullish} of {total}")
    return int(_scores(np.asarray([bullish]), total)[0])


def priority_for(agreeing: int, timeframes: int) -> Priority:
    """HIGH when all timeframes agree, MEDIUM for a strict majority, else LOW."""
    if timeframes <= 0 or not 0 <= agreeing <= timeframes:
        raise ValueError(
            f"priority: need 0 <= agreeing <= timeframes and timeframes > 0, got {agreeing} of {timeframes}"
        )
    return PRIORITIES[int(_levels(np.asarray([agreeing]), timeframes)[0])]


def confirm(candles: Candles, at_index: int, timeframes: Sequence[str] = DEFAULT_TIMEFRAMES) -> Confirmation:
    """The confirmation of a long signal at the close of candle `at_index` (negative: from the end).

    Only candles 0..at_index are read. Raises IndexError outside the candles and ValueError for a
    timeframe lower than the candles' or not a whole multiple of it.
    """
    frames = _check_timeframes(candles.timeframe, timeframes)
    n = len(candles)
    if not -n <= at_index < n:
        raise IndexError(f"confirm: at_index {at_index} is outside the {n} candles")
    i = at_index % n
    known = _head(candles, i + 1)
    close_at = int(known.ts[i]) + timeframe_ms(candles.timeframe)
    details: dict[str, dict[str, bool]] = {}
    for timeframe, step in frames:
        higher = resample(known, timeframe)
        done = int(np.searchsorted(higher.ts + step, close_at, side="right"))  # completed candles
        if done == 0:
            details[timeframe] = dict.fromkeys(INDICATORS, False)
        else:
            votes = bullish_votes(_head(higher, done))
            details[timeframe] = {name: bool(votes[name][-1]) for name in INDICATORS}
    bullish = sum(sum(votes.values()) for votes in details.values())
    agreeing = tuple(tf for tf, votes in details.items() if sum(votes.values()) >= 2)
    return Confirmation(
        score=score_for(bullish, len(INDICATORS) * len(frames)),
        priority=priority_for(len(agreeing), len(frames)),
        agreeing=agreeing,
        details=details,
    )


def confirm_all(
    candles: Candles, timeframes: Sequence[str] = DEFAULT_TIMEFRAMES
) -> tuple[IntArray, npt.NDArray[np.str_]]:
    """Every candle's score (int64, 0..100) and priority ("HIGH", "MEDIUM", "LOW"), as `confirm` gives."""
    frames = _check_timeframes(candles.timeframe, timeframes)
    n = len(candles)
    bullish = np.zeros(n, dtype=np.int64)
    agreeing = np.zeros(n, dtype=np.int64)
    for timeframe, _ in frames:
        higher = resample(candles, timeframe)
        index = completed_index(candles, higher)
        seen = index >= 0
        here = np.zeros(n, dtype=np.int64)  # bullish votes of this timeframe at each base candle
        for vote in bullish_votes(higher).values():
            here[seen] += vote[index[seen]]
        bullish += here
        agreeing += here >= 2
    scores = _scores(bullish, len(INDICATORS) * len(frames))
    priorities = np.asarray(PRIORITIES)[_levels(agreeing, len(frames))]
    return scores, priorities


def _scores(bullish: IntArray, total: int) -> IntArray:
    # round(100 × b / t) half up, without floats: floor((200 b + t) / 2t).
    return (200 * bullish + total) // (2 * total)


def _levels(agreeing: IntArray, timeframes: int) -> IntArray:
    """0 (LOW), 1 (MEDIUM: strict majority) or 2 (HIGH: all), the positions in PRIORITIES."""
    return np.where(agreeing == timeframes, 2, np.where(2 * agreeing > timeframes, 1, 0)).astype(np.int64)


def _check_timeframes(base: str, timeframes: Sequence[str]) -> list[tuple[str, int]]:
    if isinstance(timeframes, str):  # a bare "1h" would otherwise read as ("1", "h")
        raise ValueError(f"timeframes must be a sequence of timeframes, got the string {timeframes!r}")
    if not timeframes:
        raise ValueError("timeframes: give at least one timeframe, e.g. ('5m', '15m', '1h')")
    if len(set(timeframes)) != len(timeframes):
        raise ValueError(f"timeframes must be distinct, got {', '.join(timeframes)}")
    return [(timeframe, _check_timeframe(base, timeframe)) for timeframe in timeframes]


def _check_timeframe(base: str, timeframe: str) -> int:
    """The length of `timeframe` in ms, checked to be a whole multiple (>= 1) of the base timeframe."""
    base_ms = timeframe_ms(base)
    step = timeframe_ms(timeframe)
    if step < base_ms:
        raise ValueError(
            f"timeframe {timeframe!r} is lower than the candles' timeframe {base!r}: "
            f"{base} candles can only be combined into longer ones"
        )
    if step % base_ms:
        raise ValueError(
            f"timeframe {timeframe!r} is not a whole multiple of the candles' timeframe {base!r}: "
            f"its candles cannot be built from {base} ones"
        )
    return step


def _head(candles: Candles, k: int) -> Candles:
    """The first k candles (views, no copy)."""
    return candles.rows(stop=k)
