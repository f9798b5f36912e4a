"""Backtesting an `ai_chart` strategy: its stored analyses replayed as signals, with no model calls.

Each stored proposal is judged again at its candle's close with the parameters of the backtest (the
same `verdict` as live), so a stricter threshold or floor can be tried on what the model already
said. A BUY that passes is an entry at that candle with its stop and target as the position's
levels, a SELL an exit; candles without an analysis have no signal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

import numpy as np

from tradewire.domain.ai.proposal import ChartProposal, Recommendation
from tradewire.domain.ai.strategy import TRADED, AiChartParams, verdict
from tradewire.domain.candles import Candles
from tradewire.domain.strategies.base import Signals, StrategyParams


@dataclass(frozen=True, slots=True)
class StoredProposal:
    """A stored analysis' proposal on one candle of one symbol."""

    symbol: str
    candle_ts: int  # the analysed candle's open time, ms
    proposal: ChartProposal


def replay_signals(
    candles: Candles, proposals: Mapping[int, ChartProposal], params: AiChartParams
) -> Signals:
    """Signals on `candles` from the proposals keyed by their candle's open time."""
    n = len(candles)
    entries = np.zeros(n, dtype=np.bool_)
    exits = np.zeros(n, dtype=np.bool_)
    stops, targets, confidence = (np.full(n, np.nan) for _ in range(3))
    at = {int(ts): i for i, ts in enumerate(candles.ts)}
    for ts, proposal in proposals.items():
        i = at.get(ts)
        if i is None:
            continue
        close = Decimal(repr(float(candles.close[i])))
        if verdict(proposal, params, close) != TRADED:
            continue
        confidence[i] = float(proposal.confidence)
        if proposal.recommendation is Recommendation.BUY:
            assert proposal.stop_loss is not None and proposal.take_profit is not None
            entries[i] = True
            stops[i], targets[i] = float(proposal.stop_loss), float(proposal.take_profit)
        else:
            exits[i] = True
    return Signals(entries, exits, stops, targets, confidence)


class ReplayedAiChart:
    """An `ai_chart` strategy whose signals are its stored analyses (see the module's docstring)."""

    name: ClassVar[str] = "ai_chart"
    Params: ClassVar[type[StrategyParams]] = AiChartParams

    def __init__(self, params: AiChartParams, stored: list[StoredProposal]) -> None:
        self.params: StrategyParams = params
        self.warmup: int = 0  # the model saw the history when it answered
        self.by_symbol: dict[str, dict[int, ChartProposal]] = {}
        for item in stored:
            self.by_symbol.setdefault(item.symbol, {})[item.candle_ts] = item.proposal

    def signals(self, candles: Candles) -> Signals:
        assert isinstance(self.params, AiChartParams)
        return replay_signals(candles, self.by_symbol.get(candles.symbol, {}), self.params)
