"""The `lightgbm` strategy: a trained classifier's probability on the candle features, as signals.

Entry at candle i: the probability crossed up through `threshold` (below it, or undefined, on candle
i - 1; at or above it now): one entry per move, like the built-ins' crossings. Exit: the probability
crossed down through `exit_threshold` (default: `threshold`), or `max_hold_candles` after an entry
with no exit in between. `stop_loss_pct` / `take_profit_pct` put absolute levels on entry candles as
EmaCross does. The probability of every candle travels as `Signals.confidence`.

The model comes from outside (a `Predictor`: rows of features in, probabilities out); the strategy
built from its parameters alone has none and refuses to evaluate. Features are computed once over the
whole series and predicted in one batch; value i uses candles 0..i only.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import numpy as np
from pydantic import Field, model_validator

from tradewire.domain.candles import Candles
from tradewire.domain.ml.features import FEATURE_SET, compute_features
from tradewire.domain.strategies.base import FloatArray, Signals, StrategyParams


class Predictor(Protocol):
    """A trained model: one probability (0..1) per row of `FEATURE_SET` features."""

    @property
    def feature_names(self) -> tuple[str, ...]: ...

    def predict(self, rows: FloatArray) -> FloatArray: ...


class LightgbmParams(StrategyParams):
    """Which model (`model_id`, or the latest version for `model_symbol`) and how to read it."""

    model_id: int | None = Field(default=None, strict=True, ge=1, description="a registered model's id")
    model_symbol: str | None = Field(
        default=None,
        pattern=r"^[A-Z0-9]{1,16}/[A-Z0-9]{1,16}(:[A-Z0-9]{1,16})?$",
        description="use the latest version of the owner's model for this symbol",
    )
    threshold: float = Field(default=0.6, gt=0, lt=1, allow_inf_nan=False, description="entry probability")
    exit_threshold: float | None = Field(
        default=None, ge=0, lt=1, allow_inf_nan=False, description="exit below this (default: threshold)"
    )
    stop_loss_pct: float | None = Field(default=None, gt=0, lt=100, allow_inf_nan=False)
    take_profit_pct: float | None = Field(default=None, gt=0, le=10_000, allow_inf_nan=False)
    max_hold_candles: int | None = Field(default=None, strict=True, ge=1, le=100_000)

    @model_validator(mode="after")
    def _one_model(self) -> LightgbmParams:
        if (self.model_id is None) == (self.model_symbol is None):
            raise ValueError("give exactly one of model_id and model_symbol (its latest version)")
        if self.exit_threshold is not None and self.exit_threshold > self.threshold:
            raise ValueError(
                f"exit_threshold ({self.exit_threshold}) must not be above threshold ({self.threshold})"
            )
        return self


class LightgbmStrategy:
    name: ClassVar[str] = "lightgbm"
    Params: ClassVar[type[StrategyParams]] = LightgbmParams

    def __init__(self, params: LightgbmParams | None = None, predictor: Predictor | None = None) -> None:
        if params is None:
            raise ValueError("lightgbm needs model_id or model_symbol")
        if not isinstance(params, LightgbmParams):
            raise TypeError(f"expected LightgbmParams, got {type(params).__name__}")
        self.params: StrategyParams = params
        self.predictor = predictor
        self.warmup: int = FEATURE_SET.warmup + 1  # the first crossing needs two probabilities

    def with_predictor(self, predictor: Predictor) -> LightgbmStrategy:
        assert isinstance(self.params, LightgbmParams)
        return LightgbmStrategy(self.params, predictor)

    def probabilities(self, candles: Candles) -> FloatArray:
        """The model's probability per candle (NaN during the warm-up), in one batch."""
        if self.predictor is None:
            raise ValueError("lightgbm: no model loaded for this strategy")
        if tuple(self.predictor.feature_names) != FEATURE_SET.names:
            raise ValueError(f"lightgbm: the model's features are not {FEATURE_SET.key}")
        out = np.full(len(candles), np.nan)
        start = FEATURE_SET.warmup
        if len(candles) > start:
            rows = compute_features(candles, candles.buy_volume)[start:]
            out[start:] = np.clip(np.asarray(self.predictor.predict(rows), dtype=np.float64), 0.0, 1.0)
        return out

    def signals(self, candles: Candles) -> Signals:
        p = self.params
        assert isinstance(p, LightgbmParams)
        proba = self.probabilities(candles)
        before = np.concatenate(([np.nan], proba[:-1]))
        entries = (proba >= p.threshold) & ~(before >= p.threshold)  # NaN compares False
        exit_at = p.threshold if p.exit_threshold is None else p.exit_threshold
        exits = (proba < exit_at) & (before >= exit_at)
        if p.max_hold_candles is not None:
            exits |= _timed_exits(entries, exits, p.max_hold_candles)
        entries &= ~exits
        close = candles.close
        levels = []
        for pct, sign in ((p.stop_loss_pct, -1.0), (p.take_profit_pct, 1.0)):
            column = np.full(len(close), np.nan)
            if pct is not None:
                column[entries] = close[entries] * (1.0 + sign * pct / 100.0)
            levels.append(column)
        return Signals(entries, exits, levels[0], levels[1], confidence=proba)


def _timed_exits(entries: np.ndarray, exits: np.ndarray, hold: int) -> np.ndarray:
    """An exit `hold` candles after each entry that no exit has closed by then."""
    timed = np.zeros(len(entries), dtype=np.bool_)
    exit_count = np.cumsum(exits)
    for i in np.flatnonzero(entries):
        j = i + hold
        if j < len(entries) and exit_count[j - 1] == exit_count[i]:
            timed[j] = True
    return timed
