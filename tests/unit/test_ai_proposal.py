"""AI chart analysis, the pure part: the strict answer schema, the confidence score with exact
decimals, and the sanity checks on a proposal's levels."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tradewire.domain.ai.proposal import (
    MAX_ANSWER_CHARS,
    ChartProposal,
    MalformedAnswer,
    Recommendation,
    confidence,
    level_problem,
    parse_answer,
)

BUY = {
    "recommendation": "BUY",
    "entry": 100.5,
    "stop_loss": 97,
    "take_profit": 110,
    "setup_quality": 0.8,
    "risk_reward_ratio": 0.9,
    "market_environment": 0.7,
    "reasoning": "higher lows above the EMA 50, RSI turning up from 40",
}


def test_confidence_is_the_weighted_sum_rounded_to_three_decimals_exactly() -> None:
    # 0.40·0.8 + 0.25·0.9 + 0.35·0.7 = 0.32 + 0.225 + 0.245 = 0.790 exactly.
    assert confidence(Decimal("0.8"), Decimal("0.9"), Decimal("0.7")) == Decimal("0.790")
    # The "0.795" is what the same three numbers give as setup 0.7, risk/reward 0.8,
    # environment 0.9: 0.28 + 0.2 + 0.315.
    assert confidence(Decimal("0.7"), Decimal("0.8"), Decimal("0.9")) == Decimal("0.795")
    # Half up at the third decimal, where binary floats would round 0.0005 steps either way.
    assert confidence(Decimal("0.00125"), Decimal("0"), Decimal("0")) == Decimal("0.001")
    assert confidence(Decimal("1"), Decimal("1"), Decimal("1")) == Decimal("1.000")


def test_an_answer_parses_into_exact_decimals_and_carries_its_confidence() -> None:
    proposal = parse_answer(json.dumps(BUY))
    assert proposal.recommendation is Recommendation.BUY
    assert proposal.entry == Decimal("100.5") and proposal.stop_loss == Decimal("97")
    assert proposal.setup_quality == Decimal("0.8")  # not 0.8000000000000000444
    assert proposal.confidence == Decimal("0.790")
    assert proposal.reward_to_risk == Decimal("9.5") / Decimal("3.5")


def test_a_fenced_answer_and_a_lower_case_recommendation_are_read() -> None:
    text = "```json\n" + json.dumps({**BUY, "recommendation": "buy"}) + "\n```"
    assert parse_answer(text).recommendation is Recommendation.BUY


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (None, "empty"),
        ("   ", "empty"),
        ("I think BTC goes up", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({**BUY, "setup_quality": 1.2}), "setup_quality"),
        (json.dumps({**BUY, "market_environment": -0.1}), "market_environment"),
        (json.dumps({**BUY, "recommendation": "SHORT"}), "recommendation"),
        (json.dumps({**BUY, "leverage": 20}), "leverage"),
        (json.dumps({k: v for k, v in BUY.items() if k != "stop_loss"}), "stop_loss"),
        (json.dumps({**BUY, "entry": 1e21}), "entry"),
        (json.dumps({**BUY, "reasoning": "x" * 5000}), "reasoning"),
        ('{"recommendation": "BUY", "entry": NaN}', "not JSON"),
        ("x" * (MAX_ANSWER_CHARS + 1), "longer than"),
    ],
)
def test_anything_but_the_schema_is_malformed_and_says_why(text: str | None, says: str) -> None:
    with pytest.raises(MalformedAnswer, match=says):
        parse_answer(text)


def test_a_hold_needs_no_levels() -> None:
    hold = {k: v for k, v in BUY.items() if k not in ("entry", "stop_loss", "take_profit")}
    proposal = parse_answer(json.dumps({**hold, "recommendation": "HOLD"}))
    assert proposal.recommendation is Recommendation.HOLD and proposal.reward_to_risk is None
    assert level_problem(proposal, Decimal(100), Decimal("0.05")) is None


def _proposal(**changes: object) -> ChartProposal:
    return ChartProposal.model_validate({**BUY, **changes})


@pytest.mark.parametrize(
    ("changes", "close", "says"),
    [
        ({}, "100", None),
        ({"stop_loss": 101}, "100", "stop_loss < entry < take_profit"),  # a long's stop above its entry
        ({"take_profit": 99}, "100", "stop_loss < entry < take_profit"),
        ({}, "96", "not between"),  # the market is already below the stop
        ({}, "111", "not between"),
        ({"entry": 104, "stop_loss": 90}, "98", "away from the price"),  # 6 % from the close
        ({"recommendation": "SELL", "stop_loss": 104, "take_profit": 90}, "100", None),
        ({"recommendation": "SELL"}, "100", "take_profit < entry < stop_loss"),
    ],
)
def test_levels_must_make_sense_at_the_close(
    changes: dict[str, object], close: str, says: str | None
) -> None:
    problem = level_problem(_proposal(**changes), Decimal(close), Decimal("0.05"))
    if says is None:
        assert problem is None
    else:
        assert problem is not None and says in problem
