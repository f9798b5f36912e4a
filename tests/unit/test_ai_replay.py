"""Backtesting `ai_chart` (domain/ai/replay.py): stored proposals become signals on their candles,
judged again with the backtest's parameters, with no model call; the engine trades them with their
stop and target. A backtest of ai_chart without a strategy to replay is refused with the reason."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from tradewire.domain.ai.proposal import ChartProposal
from tradewire.domain.ai.replay import ReplayedAiChart, StoredProposal, replay_signals
from tradewire.domain.ai.strategy import AiChartParams
from tradewire.domain.backtest import BacktestConfig, run_backtest
from tradewire.domain.candles import Candles
from tradewire.services.backtests import BacktestInputError, BacktestRequest

PARAMS = AiChartParams(
    endpoint_id=1, prompt="p", confidence_threshold=Decimal("0.7"), min_risk_reward=Decimal(2)
)


def _proposal(close: float, kind: str = "BUY", quality: str = "0.9") -> ChartProposal:
    c = Decimal(repr(close))
    stop, target = (
        (c * Decimal("0.97"), c * Decimal("1.09"))
        if kind == "BUY"
        else (c * Decimal("1.03"), c * Decimal("0.91"))
    )
    return ChartProposal.model_validate(
        {
            "recommendation": kind,
            "entry": c,
            "stop_loss": stop,
            "take_profit": target,
            "setup_quality": quality,
            "risk_reward_ratio": "0.8",
            "market_environment": "0.8",
        }
    )


def test_stored_proposals_are_signals_on_their_candles_judged_with_the_backtest_s_parameters(
    candles: Candles,
) -> None:
    i, j, k = 200, 300, 400
    close = candles.close
    proposals = {
        int(candles.ts[i]): _proposal(float(close[i])),
        int(candles.ts[j]): _proposal(float(close[j]), quality="0.3"),  # 0.12 + 0.2 + 0.28 = 0.6 < 0.7
        int(candles.ts[k]): _proposal(float(close[k]), kind="SELL"),
        12345: _proposal(100.0),  # a candle these candles do not have
    }
    signals = replay_signals(candles, proposals, PARAMS)

    assert np.flatnonzero(signals.entries).tolist() == [i]
    assert np.flatnonzero(signals.exits).tolist() == [k]
    assert signals.stop_loss is not None and signals.take_profit is not None
    assert signals.stop_loss[i] == pytest.approx(close[i] * 0.97)
    assert signals.take_profit[i] == pytest.approx(close[i] * 1.09)
    assert signals.confidence is not None and signals.confidence[i] == 0.84
    looser = replay_signals(
        candles, proposals, PARAMS.model_copy(update={"confidence_threshold": Decimal("0.5")})
    )
    assert np.flatnonzero(looser.entries).tolist() == [i, j]


def test_the_engine_trades_replayed_analyses_with_their_levels(candles: Candles) -> None:
    stored = [
        StoredProposal(candles.symbol, int(candles.ts[i]), _proposal(float(candles.close[i])))
        for i in range(100, len(candles) - 30, 40)
    ]
    result = run_backtest(ReplayedAiChart(PARAMS, stored), {candles.symbol: candles}, BacktestConfig())
    assert len(result.trades) >= 3
    entries = {int(candles.ts[i]) for i in range(100, len(candles) - 30, 40)}
    step = int(candles.ts[1] - candles.ts[0])
    for trade in result.trades:  # each entry fills at the open after an analysed candle
        assert trade.entry_time_ms - step in entries
        assert trade.exit_reason in ("SL", "TP", "END"), trade


def test_an_ai_chart_backtest_needs_a_strategy_to_replay() -> None:
    request = BacktestRequest("ai_chart", {"endpoint_id": 1, "prompt": "p"}, ("BTC/USDT",), "1h")
    with pytest.raises(BacktestInputError, match="give its strategy_id"):
        request.build(analyses=lambda strategy_id, timeframe: [])
