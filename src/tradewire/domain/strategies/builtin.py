"""The built-in indicator strategies (long only) and the registry that builds them by name.

Every strategy reads closes at each candle's close and says "enter long" or "exit" for the next open:

- `ema_cross`: trend following. Buy when the fast EMA crosses above the slow one while RSI is not yet
  overbought; sell when it crosses back below. The reference strategy of the benchmark.
- `rsi_mean_reversion`: buy the bounce. Buy when RSI climbs back out of oversold; sell when it reaches
  overbought.
- `macd`: momentum. Buy when the MACD line crosses above its signal line; sell when it crosses below.
- `bollinger_breakout`: volatility breakout. Buy when the close breaks above the upper band; sell when it
  falls back below the middle band.

Rules shared by all of them:
- Signals are crossings ("it crossed on this candle"), not states ("it is above"): one entry per move.
- No signal during the warm-up: a crossing needs the indicators on this candle and the one before, so
  an indicator that is still NaN never produces one. `warmup` is the index of the first candle that
  can carry an entry; nothing fires before it (except EmaCross exits, which need no RSI and may come
  from `slow` on when rsi_period is longer).
- An entry and an exit on the same candle: the exit wins and the entry is dropped (do not buy on the
  candle that says get out). Of the built-ins only `rsi_mean_reversion` can have both, when RSI jumps
  from oversold to overbought in one candle.
- Everything is computed over whole arrays; value i uses candles 0..i only.

Each class carries its pydantic `Params` (typed, validated, immutable, unknown keys refused), also
importable under its own name (`EmaCrossParams`…) for typed code. `build_strategy(name, params)` turns a
registry name and a plain dict (from an API body or a config file) into a strategy, or raises ValueError
naming every bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
from pydantic import Field, ValidationError, model_validator

from tradewire.domain import indicators as ind
from tradewire.domain.ai.strategy import AiChartStrategy
from tradewire.domain.candles import Candles
from tradewire.domain.ml.strategy import LightgbmStrategy
from tradewire.domain.strategies.base import BoolArray, FloatArray, Signals, Strategy, StrategyParams

_P = TypeVar("_P", bound=StrategyParams)

# Periods are strict ints (12.5, "12" or True is refused, not coerced), at most what the indicators take.
_MAX = ind.MAX_PERIOD


def _check_fast_below_slow(fast: int, slow: int) -> None:
    """Two moving averages' periods: the fast one must be the shorter."""
    if fast >= slow:
        raise ValueError(f"fast must be shorter than slow, got fast={fast}, slow={slow}")


class EmaCrossParams(StrategyParams):
    """EMA cross: `fast` < `slow` EMA periods, RSI filter, optional stop loss / take profit in %."""

    fast: int = Field(default=12, strict=True, ge=1, le=_MAX, description="fast EMA period (candles)")
    slow: int = Field(default=26, strict=True, ge=2, le=_MAX, description="slow EMA period (candles)")
    rsi_period: int = Field(default=14, strict=True, ge=2, le=_MAX, description="RSI period (candles)")
    rsi_max: float | None = Field(
        default=70.0,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="enter only while RSI is below this (not overbought); null: no RSI filter",
    )
    stop_loss_pct: float | None = Field(
        default=None, gt=0, lt=100, allow_inf_nan=False, description="stop loss, % below the entry close"
    )
    take_profit_pct: float | None = Field(
        default=None, gt=0, le=10_000, allow_inf_nan=False, description="take profit, % above the entry close"
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> EmaCrossParams:
        _check_fast_below_slow(self.fast, self.slow)
        return self


class RsiMeanReversionParams(StrategyParams):
    """RSI mean reversion: RSI `period`, entry level `oversold`, exit level `overbought`."""

    period: int = Field(default=14, strict=True, ge=2, le=_MAX, description="RSI period (candles)")
    oversold: float = Field(
        default=30.0, gt=0, lt=100, allow_inf_nan=False, description="enter when RSI rises back above this"
    )
    overbought: float = Field(
        default=70.0, gt=0, lt=100, allow_inf_nan=False, description="exit when RSI rises above this"
    )

    @model_validator(mode="after")
    def _oversold_below_overbought(self) -> RsiMeanReversionParams:
        if self.oversold >= self.overbought:
            raise ValueError(
                f"oversold must be below overbought, got oversold={self.oversold}, "
                f"overbought={self.overbought}"
            )
        return self


class MacdMomentumParams(StrategyParams):
    """MACD momentum: `fast` < `slow` EMA periods, `signal` EMA period, optional below-zero filter."""

    fast: int = Field(default=12, strict=True, ge=2, le=_MAX, description="fast EMA period (candles)")
    slow: int = Field(default=26, strict=True, ge=2, le=_MAX, description="slow EMA period (candles)")
    signal: int = Field(default=9, strict=True, ge=1, le=_MAX, description="signal line EMA period")
    only_below_zero: bool = Field(
        default=False, strict=True, description="enter only on crosses below the zero line (early turns)"
    )

    @model_validator(mode="after")
    def _fast_below_slow(self) -> MacdMomentumParams:
        _check_fast_below_slow(self.fast, self.slow)
        return self


class BollingerBreakoutParams(StrategyParams):
    """Bollinger breakout: SMA `period` and band width in population standard deviations."""

    period: int = Field(default=20, strict=True, ge=2, le=_MAX, description="SMA period (candles)")
    stddev: float = Field(
        default=2.0, gt=0, le=10, allow_inf_nan=False, description="band width in standard deviations"
    )


class EmaCross:
    """Trend following: buy when the fast EMA crosses above the slow EMA, sell when it crosses back below.

    Entry at candle i: EMA(fast) crossed above EMA(slow) on this candle AND RSI(rsi_period) < rsi_max
    (the move is not already overbought; rsi_max=None drops that filter). Exit: EMA(fast) crossed below
    EMA(slow). With stop_loss_pct / take_profit_pct set, each entry candle carries absolute levels
    computed from its close (close × (1 - sl%/100), close × (1 + tp%/100)); every other value is NaN,
    as are all of them when the percentage is unset.

    Defaults 12 / 26 / RSI 14 < 70: the reference strategy of the benchmark, exactly
    `crossed_above(ema12, ema26) & (rsi14 < 70)` in, `crossed_below(ema12, ema26)` out.
    Warm-up: max(slow, rsi_period) candles for entries (rsi_period only while the filter is on); exits
    can come from candle `slow` on.
    """

    name: ClassVar[str] = "ema_cross"
    Params: ClassVar[type[StrategyParams]] = EmaCrossParams

    def __init__(self, params: EmaCrossParams | None = None) -> None:
        p = EmaCrossParams() if params is None else _typed(params, EmaCrossParams)
        self.params: StrategyParams = p
        # The slow EMA is first defined at slow - 1, so the first cross can be at `slow`; RSI at rsi_period.
        self.warmup: int = p.slow if p.rsi_max is None else max(p.slow, p.rsi_period)

    def signals(self, candles: Candles) -> Signals:
        p = _typed(self.params, EmaCrossParams)
        ema_fast = ind.ema(candles.close, p.fast)
        ema_slow = ind.ema(candles.close, p.slow)
        entries = ind.crossed_above(ema_fast, ema_slow)
        if p.rsi_max is not None:
            entries &= ind.rsi(candles.close, p.rsi_period) < p.rsi_max  # NaN < x is False
        exits = ind.crossed_below(ema_fast, ema_slow)
        entries &= ~exits
        return Signals(
            entries=entries,
            exits=exits,
            stop_loss=_level(candles.close, entries, p.stop_loss_pct, -1.0),
            take_profit=_level(candles.close, entries, p.take_profit_pct, 1.0),
        )


class RsiMeanReversion:
    """Buy the bounce: enter when RSI climbs back out of oversold, exit once it reaches overbought.

    Entry at candle i: RSI(period) crossed above `oversold` (was <= 30 on the previous candle, > 30 now:
    the selling is over). Exit: RSI crossed above `overbought` (was <= 70, > 70 now: the rebound has
    run its course). There is no exit on a renewed fall; pair it with a stop loss. If RSI jumps from
    oversold to overbought in a single candle both fire and the exit wins: no entry there.
    Warm-up: period + 1 candles.
    """

    name: ClassVar[str] = "rsi_mean_reversion"
    Params: ClassVar[type[StrategyParams]] = RsiMeanReversionParams

    def __init__(self, params: RsiMeanReversionParams | None = None) -> None:
        p = RsiMeanReversionParams() if params is None else _typed(params, RsiMeanReversionParams)
        self.params: StrategyParams = p
        # RSI is first defined at `period`, so the first cross can be at period + 1.
        self.warmup: int = p.period + 1

    def signals(self, candles: Candles) -> Signals:
        p = _typed(self.params, RsiMeanReversionParams)
        strength = ind.rsi(candles.close, p.period)
        entries = ind.crossed_above(strength, p.oversold)
        exits = ind.crossed_above(strength, p.overbought)
        entries &= ~exits
        return Signals(entries=entries, exits=exits)


class MacdMomentum:
    """Momentum: enter when the MACD line crosses above its signal line, exit when it crosses below.

    MACD line = EMA(fast) - EMA(slow) of the close, signal line = EMA(signal) of the MACD line (as
    talib.MACD computes them). With only_below_zero, an entry also needs the MACD line below 0 at the
    cross: only turns that start while the trend is still down, the classic early-entry variant.
    Warm-up: slow + signal - 1 candles.
    """

    name: ClassVar[str] = "macd"
    Params: ClassVar[type[StrategyParams]] = MacdMomentumParams

    def __init__(self, params: MacdMomentumParams | None = None) -> None:
        p = MacdMomentumParams() if params is None else _typed(params, MacdMomentumParams)
        self.params: StrategyParams = p
        # All three MACD lines start at slow + signal - 2, so the first cross can be one candle later.
        self.warmup: int = p.slow + p.signal - 1

    def signals(self, candles: Candles) -> Signals:
        p = _typed(self.params, MacdMomentumParams)
        lines = ind.macd(candles.close, p.fast, p.slow, p.signal)
        entries = ind.crossed_above(lines.macd, lines.signal)
        if p.only_below_zero:
            entries &= lines.macd < 0
        exits = ind.crossed_below(lines.macd, lines.signal)
        entries &= ~exits
        return Signals(entries=entries, exits=exits)


class BollingerBreakout:
    """Volatility breakout: enter when the close breaks above the upper band, exit below the middle band.

    Bands: SMA(period) of the close ± stddev population standard deviations. Entry at candle i: the
    close crossed above the upper band (was at or below it on the previous candle). Exit: the close
    crossed below the middle band (the breakout has failed or faded).
    Warm-up: period candles.
    """

    name: ClassVar[str] = "bollinger_breakout"
    Params: ClassVar[type[StrategyParams]] = BollingerBreakoutParams

    def __init__(self, params: BollingerBreakoutParams | None = None) -> None:
        p = BollingerBreakoutParams() if params is None else _typed(params, BollingerBreakoutParams)
        self.params: StrategyParams = p
        # The bands are first defined at period - 1, so the first cross can be at `period`.
        self.warmup: int = p.period

    def signals(self, candles: Candles) -> Signals:
        p = _typed(self.params, BollingerBreakoutParams)
        bands = ind.bollinger(candles.close, p.period, p.stddev)
        entries = ind.crossed_above(candles.close, bands.upper)
        exits = ind.crossed_below(candles.close, bands.middle)
        entries &= ~exits
        return Signals(entries=entries, exits=exits)


class StrategyType(Protocol):
    """A strategy class as the registry sees it: a name, a Params model, built from a Params instance."""

    @property
    def name(self) -> str: ...

    @property
    def Params(self) -> type[StrategyParams]: ...

    def __call__(self, params: Any = None) -> Strategy: ...


STRATEGIES: dict[str, StrategyType] = {
    cls.name: cls for cls in (EmaCross, RsiMeanReversion, MacdMomentum, BollingerBreakout)
}
# Strategies that read a trained model: built from their parameters like the others, but evaluated
# only once the runner or the backtester hands them the model (`with_predictor`).
MODEL_STRATEGIES: dict[str, StrategyType] = {
    LightgbmStrategy.name: LightgbmStrategy,
    AiChartStrategy.name: AiChartStrategy,
}


def build_strategy(name: str, params: Mapping[str, Any] | None = None) -> Strategy:
    """The built-in strategy `name` with `params` (None or {}: all defaults).

    Raises ValueError for an unknown name (listing the known ones) or invalid parameters (naming each
    bad field and why, e.g. "slow: Input should be greater than or equal to 2").
    """
    cls = STRATEGIES.get(name) or MODEL_STRATEGIES.get(name)
    if cls is None:
        raise ValueError(
            f"unknown strategy {name!r}: choose one of {', '.join(sorted(STRATEGIES))}, "
            f"or a model's: {', '.join(sorted(MODEL_STRATEGIES))}"
        )
    try:
        validated = cls.Params.model_validate({} if params is None else params)
    except ValidationError as exc:
        raise ValueError(f"invalid parameters for strategy {name!r}: {_describe(exc)}") from None
    return cls(validated)


def _describe(exc: ValidationError) -> str:
    """Pydantic's errors as one line: 'field: message; other: message'."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "params"
        kind = error["type"]
        if kind == "extra_forbidden":
            message = "unknown parameter"
        elif kind == "value_error":  # our own checks: their text without pydantic's "Value error, "
            message = str(error.get("ctx", {}).get("error", error["msg"]))
        else:
            shown = repr(error["input"])
            message = f"{error['msg']}, got {shown if len(shown) <= 60 else shown[:57] + '...'}"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _typed(params: StrategyParams, kind: type[_P]) -> _P:
    """`params` checked to be a `kind` (a strategy given another strategy's parameters is a TypeError)."""
    if not isinstance(params, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(params).__name__}")
    return params


def _level(close: FloatArray, entries: BoolArray, pct: float | None, sign: float) -> FloatArray:
    """close × (1 + sign × pct / 100) on entry candles, NaN elsewhere (and everywhere when pct is None)."""
    levels = np.full(len(close), np.nan)
    if pct is not None:
        levels[entries] = close[entries] * (1.0 + sign * pct / 100.0)
    return levels
