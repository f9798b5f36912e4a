"""A published built-in strategy's definition is validated whole, with readable reasons."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tradewire.domain.strategies.definition import StrategyDefinition


def test_a_definition_builds_its_strategy_and_reads_enough_history() -> None:
    definition = StrategyDefinition(
        builtin="ema_cross",
        timeframe="5m",
        symbols=["ETH/BTC"],
        confirmation={"timeframes": ["5m", "15m", "1h"]},  # type: ignore[arg-type]
    )

    assert definition.build().name == "ema_cross"
    assert definition.history == 720  # 60 hourly candles of 5m candles


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"builtin": "astrology"}, "astrology"),
        ({"params": {"fast": 30, "slow": 8}}, "fast"),
        ({"timeframe": "7x"}, "timeframe"),
        ({"symbols": []}, "symbols"),
        ({"confirmation": {"timeframes": ["1m"]}}, "must be 5m or a multiple"),
        ({"confirmation": {"timeframes": ["7m"]}}, "must be 5m or a multiple"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_definitions_are_refused_with_the_reason(changes: dict[str, object], reason: str) -> None:
    raw = {"builtin": "ema_cross", "timeframe": "5m", "symbols": ["ETH/BTC"], **changes}

    with pytest.raises(ValidationError, match=reason):
        StrategyDefinition.model_validate(raw)
