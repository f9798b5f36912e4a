"""How a built-in strategy is published: which one, its parameters, the pairs and timeframe it
watches, its multi-timeframe confirmation, and for a bot the schedule rules around its signals."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from tradewire.domain.candles import timeframe_ms
from tradewire.domain.strategies.base import Strategy
from tradewire.domain.strategies.builtin import MODEL_STRATEGIES, STRATEGIES, build_strategy
from tradewire.domain.strategies.confirmation import MtfParams

# A unified symbol as signals and orders store it (32 characters at most).
Symbol = Annotated[
    str, StringConstraints(pattern=r"^[A-Z0-9]{1,16}/[A-Z0-9]{1,16}(:[A-Z0-9]{1,16})?$", max_length=32)
]


class BotSettings(BaseModel):
    """A bot's rules around its strategy's signals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_temperature: int = Field(
        default=50, ge=0, le=100, description="signal strength (0-100) an entry needs to be taken"
    )
    confirmation_minutes: int = Field(default=5, ge=0, le=24 * 60, description="an entry must hold this long")
    cooldown_minutes: int = Field(default=15, ge=0, le=7 * 24 * 60, description="after a signal on a pair")


class StrategyDefinition(BaseModel):
    """A built-in strategy as the marketplace publishes it (the JSON kept on the strategy)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    builtin: str = Field(
        max_length=64, description=f"one of: {', '.join(sorted({*STRATEGIES, *MODEL_STRATEGIES}))}"
    )
    params: dict[str, Any] = Field(default_factory=dict)
    timeframe: str = Field(default="5m", max_length=8)
    symbols: list[Symbol] = Field(min_length=1, max_length=50, description="unified symbols, e.g. BTC/USDT")
    confirmation: MtfParams | None = Field(default=None, description="multi-timeframe confirmation")
    candles_from: str = Field(
        default="paper",
        pattern=r"^[a-z0-9]{2,32}$",
        description="where candles come from: 'paper' (the paper market) or a ccxt exchange id",
    )
    bot: BotSettings | None = Field(default=None, description="set for a bot: its schedule rules")
    enabled: bool = Field(default=True, description="false: the server stops evaluating it")

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str) -> str:
        timeframe_ms(value)
        return value

    @model_validator(mode="after")
    def _strategy(self) -> StrategyDefinition:
        self.build()  # unknown names and bad parameters are refused here, with the reason
        base = timeframe_ms(self.timeframe)
        for timeframe in self.confirmation.timeframes if self.confirmation else ():
            if timeframe_ms(timeframe) < base or timeframe_ms(timeframe) % base:
                raise ValueError(
                    f"confirmation timeframe {timeframe} must be {self.timeframe} or a multiple of it"
                )
        return self

    def build(self) -> Strategy:
        return build_strategy(self.builtin, self.params)

    @property
    def history(self) -> int:
        """Candles to read per evaluation: the warm-up several times over, so the indicators settle,
        and enough for the longest confirmation timeframe to have 60 candles of its own."""
        base = timeframe_ms(self.timeframe)
        widest = (
            max((timeframe_ms(t) for t in self.confirmation.timeframes), default=base)
            if self.confirmation
            else base
        )
        return max(200, self.build().warmup * 4, 60 * widest // base)
