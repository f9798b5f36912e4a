"""A vision model's trade proposal: the strict schema its answer must parse into, its confidence, and
the sanity checks on its levels. Pure: text in, a checked proposal (or the reason it is refused) out.

The answer is JSON (optionally inside one ```json fence, as chat models like to write it). Numbers are
read as exact decimals, so the confidence of 0.8 / 0.9 / 0.7 is computed on 0.8, 0.9 and 0.7, not on
their nearest binary floats.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from tradewire.domain.money import STORABLE_LIMIT

MAX_ANSWER_CHARS = 16_000  # an answer longer than this is malformed (and kept truncated to it)
MAX_REASONING_CHARS = 4_000

# Weights of the confidence score (the autotrader this replaces used the same).
W_SETUP = Decimal("0.40")
W_RISK_REWARD = Decimal("0.25")
W_ENVIRONMENT = Decimal("0.35")
_THOUSANDTH = Decimal("0.001")


def _places(places: int) -> AfterValidator:
    """Rounded half even to `places` decimals (what storage keeps), not refused: a model that writes
    a price to 19 places means the same price."""
    step = Decimal(1).scaleb(-places)
    return AfterValidator(lambda value: value.quantize(step, rounding=ROUND_HALF_EVEN))


Score = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False), _places(9)]
Level = Annotated[Decimal, Field(gt=0, lt=STORABLE_LIMIT, allow_inf_nan=False), _places(18)]


class Recommendation(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


class MalformedAnswer(ValueError):
    """The answer is not the JSON object the schema asks for (the message says what is wrong)."""


class ChartProposal(BaseModel):
    """What the model must answer. BUY and SELL carry their three levels; HOLD may leave them out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recommendation: Recommendation
    entry: Level | None = None
    stop_loss: Level | None = None
    take_profit: Level | None = None
    setup_quality: Score
    risk_reward_ratio: Score
    market_environment: Score
    reasoning: str = Field(default="", max_length=MAX_REASONING_CHARS)

    @model_validator(mode="after")
    def _levels(self) -> ChartProposal:
        if self.recommendation is Recommendation.HOLD:
            return self
        if self.entry is None or self.stop_loss is None or self.take_profit is None:
            raise ValueError(f"a {self.recommendation.value} needs entry, stop_loss and take_profit")
        return self

    @property
    def confidence(self) -> Decimal:
        return confidence(self.setup_quality, self.risk_reward_ratio, self.market_environment)

    @property
    def reward_to_risk(self) -> Decimal | None:
        """The levels' own ratio: distance to target over distance to stop (None without levels)."""
        if self.entry is None or self.stop_loss is None or self.take_profit is None:
            return None
        risk = abs(self.entry - self.stop_loss)
        return None if risk == 0 else abs(self.take_profit - self.entry) / risk


def confidence(setup_quality: Decimal, risk_reward: Decimal, market_environment: Decimal) -> Decimal:
    """0.40·setup_quality + 0.25·risk_reward + 0.35·market_environment, rounded half up to 3 places."""
    total = W_SETUP * setup_quality + W_RISK_REWARD * risk_reward + W_ENVIRONMENT * market_environment
    return total.quantize(_THOUSANDTH, rounding=ROUND_HALF_UP)


_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(?P<body>.*)\n\s*```\s*$", re.DOTALL | re.IGNORECASE)


def parse_answer(text: str | None) -> ChartProposal:
    """The proposal in a model's answer; MalformedAnswer when it is not exactly the schema."""
    if text is None or not text.strip():
        raise MalformedAnswer("the answer is empty")
    if len(text) > MAX_ANSWER_CHARS:
        raise MalformedAnswer(f"the answer is longer than {MAX_ANSWER_CHARS} characters")
    fenced = _FENCE.match(text)
    body = fenced.group("body") if fenced else text
    try:
        data: Any = json.loads(body, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise MalformedAnswer(f"the answer is not JSON: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise MalformedAnswer("the answer is not a JSON object")
    if isinstance(data.get("recommendation"), str):
        data["recommendation"] = data["recommendation"].strip().upper()
    try:
        return ChartProposal.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
            for e in exc.errors(include_url=False)[:5]
        )
        raise MalformedAnswer(f"the answer does not fit the schema: {problems}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def level_problem(proposal: ChartProposal, close: Decimal, max_entry_gap: Decimal) -> str | None:
    """Why the proposal's levels cannot be traded at the candle's close (None: they can).

    A long (BUY) needs stop < entry < target, and the market price (the close) between its stop and
    its target; a SELL the mirror image. The entry may differ from the close by at most
    `max_entry_gap` (a fraction: 0.05 is 5 %), so a model reading the wrong price scale is caught.
    """
    entry, stop, target = proposal.entry, proposal.stop_loss, proposal.take_profit
    if proposal.recommendation is Recommendation.HOLD or entry is None or stop is None or target is None:
        return None
    if proposal.recommendation is Recommendation.BUY:
        if not stop < entry < target:
            return f"a long needs stop_loss < entry < take_profit (got {stop}, {entry}, {target})"
        if not stop < close < target:
            return f"the price {close} is not between the stop {stop} and the target {target}"
    else:
        if not target < entry < stop:
            return f"a short needs take_profit < entry < stop_loss (got {target}, {entry}, {stop})"
        if not target < close < stop:
            return f"the price {close} is not between the target {target} and the stop {stop}"
    if abs(entry - close) > close * max_entry_gap:
        return f"the entry {entry} is more than {max_entry_gap * 100:g} % away from the price {close}"
    return None
