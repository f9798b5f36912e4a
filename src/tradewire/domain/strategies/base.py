"""The strategy interface: candles in, entry and exit signals out, the same in backtests and live.

A strategy is a class with a pydantic `Params` model and a `signals(candles)` method computed over
whole arrays. Signal i may use candles 0..i only (the value at the close of candle i); the engine
acts on it at the next candle's open. Live trading evaluates the same method on the candles so far
and reads the last value, so a strategy that peeks ahead would trade differently live than in its
backtest: `tests/unit/test_strategies.py` proves for every built-in that truncating the data never
changes an earlier signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from tradewire.domain.candles import Candles

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: typed, validated, immutable, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, eq=False)
class Signals:
    """Per-candle decisions at each candle's close.

    `entries[i]`: open a long at the next open. `exits[i]`: close it at the next open. Optional
    `stop_loss` / `take_profit` give absolute levels per entry candle (NaN: none); the engine turns
    them into the position's exit levels, like a TradingView alert's sl/tp fields. `confidence`: a
    model's probability per candle, which live signals carry (the `lightgbm` strategy).
    """

    entries: BoolArray
    exits: BoolArray
    stop_loss: FloatArray | None = None
    take_profit: FloatArray | None = None
    confidence: FloatArray | None = None  # a model's probability per candle (0..1, NaN: none)

    def __post_init__(self) -> None:
        n = len(self.entries)
        for name in ("exits", "stop_loss", "take_profit", "confidence"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"signals: {name} has {len(value)} rows, entries has {n}")

    def __len__(self) -> int:
        return len(self.entries)


class Strategy(Protocol):
    """What the backtester, the live signal emitter and the marketplace need of a strategy."""

    name: ClassVar[str]  # the registry key, e.g. "ema_cross"
    Params: ClassVar[type[StrategyParams]]
    params: StrategyParams
    warmup: int  # candles needed before the first signal can be trusted

    def signals(self, candles: Candles) -> Signals:
        """Entries and exits for every candle (value i from candles 0..i only)."""
        ...
