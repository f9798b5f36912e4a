"""The multi-timeframe confirmation of a backtest: a strategy whose entries the confirmation accepts."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from tradewire.domain.candles import Candles, timeframe_ms
from tradewire.domain.strategies.base import Signals, Strategy, StrategyParams
from tradewire.domain.strategies.confirmation import MtfParams, confirm_all


class ConfirmationError(ValueError):
    """A confirmation timeframe the candles cannot build."""


def check_confirmation(mtf: MtfParams, timeframe: str) -> None:
    """Every confirmation timeframe must be built from the base candles: a whole multiple of them."""
    base = timeframe_ms(timeframe)
    for other in mtf.timeframes:
        step = timeframe_ms(other)
        if step < base or step % base:
            raise ConfirmationError(
                f"confirmation timeframe {other!r} is not a whole multiple of the candles' timeframe "
                f"{timeframe!r}"
            )


class Confirmed:
    """A strategy whose entries are kept only where the multi-timeframe confirmation accepts them."""

    name: ClassVar[str] = "confirmed"
    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init__(self, inner: Strategy, mtf: MtfParams) -> None:
        self.inner = inner
        self.mtf = mtf
        self.params: StrategyParams = inner.params
        self.warmup: int = inner.warmup

    def signals(self, candles: Candles) -> Signals:
        signals = self.inner.signals(candles)
        _, priorities = confirm_all(candles, self.mtf.timeframes)
        entries = np.asarray(signals.entries, dtype=np.bool_) & self.mtf.accepts_all(priorities)
        return dataclasses.replace(signals, entries=entries)
