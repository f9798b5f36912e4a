"""The runner evaluates a `lightgbm` strategy with its model: buy signals carry the probability as
confidence, a new model version applies at the next candle, no model means no signals."""

from __future__ import annotations

import numpy as np

from tests.fakes.memory_exchange import Symbols
from tests.fakes.world import world
from tests.unit.test_service_strategy_runner import Replay, _candles, _define
from tradewire.domain.ml.features import FEATURE_SET
from tradewire.domain.ml.strategy import LightgbmParams
from tradewire.ports.models import LoadedModel
from tradewire.services.ingest import SignalIngest
from tradewire.services.strategy_runner import StrategyRunner


class Constant:
    feature_names = FEATURE_SET.names

    def __init__(self, by_row: np.ndarray) -> None:
        self.by_row = by_row

    def predict(self, rows: np.ndarray) -> np.ndarray:
        # rows are candles warmup..n-1 of the window the runner read
        return self.by_row[: len(rows)]


class Models:
    def __init__(self) -> None:
        self.version = 1
        self.predictors: dict[int, Constant] = {}
        self.asked: list[LightgbmParams] = []

    def model_for(self, strategy_id: int, params: LightgbmParams) -> LoadedModel | None:
        self.asked.append(params)
        predictor = self.predictors.get(self.version)
        return None if predictor is None else LoadedModel(7, self.version, predictor)


async def test_a_lightgbm_strategy_signals_with_its_model_s_probability_and_swaps_versions() -> None:
    w = world([])
    _define(
        w.store,
        w.seeded.strategy_id,
        {"builtin": "lightgbm", "params": {"model_id": 7, "threshold": 0.6}, "symbols": ["BTC/USDT"]},
    )
    candles = _candles(300)
    replay = Replay(candles, 100)
    models = Models()
    ingest = SignalIngest(w.store, Symbols(), w.bus, w.clock, verify=lambda secret, stored: False)
    runner = StrategyRunner(w.store, ingest, lambda source: replay, w.clock, models=models)

    assert await runner.tick() == 0  # no model yet: skipped
    # Version 1: low everywhere but the last row of each window (the newest candle).
    low = np.full(400, 0.2)
    models.predictors[1] = Constant(low)
    replay.closed = 101
    assert await runner.tick() == 0
    # Version 2 crosses the threshold on the newest candle: applied at the next candle.
    high = np.full(400, 0.2)
    high[101 - FEATURE_SET.warmup] = 0.83  # candle 101, the newest of the 102 the runner reads
    models.predictors[2] = Constant(high)
    models.version = 2
    replay.closed = 102
    emitted = await runner.tick()

    signals = w.rows("signals")
    assert emitted == 1 and len(signals) == 1
    assert signals[0]["action"] == "buy"
    assert signals[0]["details"]["confidence"] == 0.83
    assert models.asked[-1].model_id == 7
