"""The `ai_chart` strategy: a vision model reads a chart of each symbol at every candle close.

Its parameters name the endpoint and prompt and set the filters; its signals cannot be computed from
candles alone (each needs a model call), so `signals()` refuses, and the runner hands the strategy to
the chart analyst (services/chart_analyst.py) instead. Spot semantics: a BUY proposal is an entry, a
SELL proposal an exit of the position the strategy's subscribers hold (nothing when they hold none),
a HOLD nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field

from tradewire.domain.ai.proposal import ChartProposal, Recommendation, level_problem
from tradewire.domain.candles import Candles
from tradewire.domain.strategies.base import Signals, StrategyParams

TRADED = "proposed"  # the verdict of a proposal that becomes a signal

CHART_WARMUP = 60  # candles before the EMA 50 of the chart means anything


class AiChartParams(StrategyParams):
    """Which endpoint and prompt, and which proposals become signals."""

    endpoint_id: int = Field(strict=True, ge=1, description="one of your AI endpoints")
    prompt: str = Field(min_length=1, max_length=64, description="the name of one of your prompts")
    prompt_version: int | None = Field(
        default=None, strict=True, ge=1, le=1_000_000, description="a version of it (default: the latest)"
    )
    confidence_threshold: Decimal = Field(
        default=Decimal("0.7"),
        ge=0,
        le=1,
        max_digits=4,
        decimal_places=3,
        description="lowest confidence traded",
    )
    min_risk_reward: Decimal = Field(
        default=Decimal("1.5"),
        ge=0,
        le=100,
        max_digits=8,
        decimal_places=4,
        description="lowest (target - entry) / (entry - stop) of the proposal's levels",
    )
    max_concurrent: int = Field(default=2, strict=True, ge=1, le=16, description="analyses at the same time")
    daily_token_budget: int = Field(
        default=200_000, strict=True, ge=1, le=1_000_000_000, description="tokens per UTC day; then no calls"
    )
    max_entry_gap_pct: Decimal = Field(
        default=Decimal(5), gt=0, le=50, max_digits=6, decimal_places=3, description="entry vs. close, %"
    )


class AiChartStrategy:
    name: ClassVar[str] = "ai_chart"
    Params: ClassVar[type[StrategyParams]] = AiChartParams

    def __init__(self, params: AiChartParams | None = None) -> None:
        if not isinstance(params, AiChartParams):
            raise ValueError("ai_chart needs endpoint_id and prompt")
        self.params: StrategyParams = params
        self.warmup: int = CHART_WARMUP

    def signals(self, candles: Candles) -> Signals:
        raise ValueError("ai_chart proposals come from a vision model at each candle close, not from candles")


def verdict(proposal: ChartProposal, params: AiChartParams, close: Decimal) -> str:
    """TRADED for a proposal that becomes a signal at a candle closing at `close`; otherwise why not.
    The same rule live (services/chart_analyst.py) and in backtests replaying stored analyses."""
    if proposal.recommendation is Recommendation.HOLD:
        return "HOLD: nothing to do"
    problem = level_problem(proposal, close, params.max_entry_gap_pct / 100)
    if problem is not None:
        return f"not traded: {problem}"
    if proposal.confidence < params.confidence_threshold:
        return f"not traded: confidence {proposal.confidence} below {params.confidence_threshold}"
    ratio = proposal.reward_to_risk
    if ratio is None or ratio < params.min_risk_reward:
        return f"not traded: reward/risk {ratio:.2f} below {params.min_risk_reward}"
    return TRADED
