"""The AI chart cycle (services/chart_analyst.py) through the strategy runner, on the in-memory
stores and a scripted vision model: proposals become ranked signals carrying their levels,
confidence and analysis; what is not traded is recorded with the reason; the daily token budget
stops the calls; a candle is never analysed twice (also after a restart); a paused endpoint is not
called and its candle is tried again; no more than `max_concurrent` calls at a time."""

from __future__ import annotations

import asyncio
import base64
import os
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from tests.fakes.memory_ai import MemoryAi
from tests.fakes.memory_exchange import Symbols
from tests.fakes.world import World, world
from tests.unit.test_confirmation import five_minute
from tradewire.adapters.secrets_box import SecretBox
from tradewire.domain.ai.proposal import ChartProposal, parse_answer
from tradewire.domain.candles import Candles
from tradewire.ports.ai import AnalysisStatus, EndpointAccess, NewAnalysis, VisionAnswer
from tradewire.services.chart_analyst import ChartAnalyst, key_context
from tradewire.services.ingest import SignalIngest
from tradewire.services.strategy_runner import StrategyRunner

FIVE_MINUTES = 300_000
T0 = 1_767_614_400_000  # 2026-01-05 12:00 UTC
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
COST = 970


def _series(symbol: str, n: int, level: float) -> Candles:
    x = np.arange(n, dtype=np.float64)
    candles = five_minute(level + np.sin(x / 7), T0 + np.arange(n, dtype=np.int64) * FIVE_MINUTES)
    return Candles(
        symbol=symbol,
        timeframe="5m",
        ts=candles.ts,
        open=candles.open,
        high=candles.high,
        low=candles.low,
        close=candles.close,
        volume=candles.volume,
    )


class Market:
    """Closed candles of every symbol up to `closed`."""

    def __init__(self, n: int = 200) -> None:
        self.series = {s: _series(s, n, 100.0 * (i + 1)) for i, s in enumerate(SYMBOLS)}
        self.closed = 120

    def close(self, symbol: str) -> Decimal:
        return Decimal(repr(float(self.series[symbol].close[self.closed - 1])))

    async def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        return self.series[symbol].rows(max(0, self.closed - limit), self.closed)


def buy(close: Decimal, quality: str = "0.9", stop_pct: str = "2", target_pct: str = "6") -> dict[str, Any]:
    return {
        "recommendation": "BUY",
        "entry": str(close),
        "stop_loss": str(close * (1 - Decimal(stop_pct) / 100)),
        "take_profit": str(close * (1 + Decimal(target_pct) / 100)),
        "setup_quality": quality,
        "risk_reward_ratio": "0.8",
        "market_environment": "0.8",
        "reasoning": "test",
    }


@dataclass
class Vision:
    """A scripted vision model: an answer per symbol (read from the prompt), or a failure."""

    answers: dict[str, dict[str, Any] | str] = field(default_factory=dict)
    paused_s: float = 0.0
    delay_s: float = 0.0
    calls: list[tuple[str, bytes]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    def ready_in(self, endpoint_id: int) -> float:
        return self.paused_s

    async def analyse(self, access: EndpointAccess, prompt: str, image_png: bytes) -> VisionAnswer:
        assert access.api_key == "sk-secret" and access.base_url == "http://ai.test/v1"
        symbol = next(s for s in SYMBOLS if f"Chart: {s}," in prompt)
        self.calls.append((symbol, image_png))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay_s)
        self.in_flight -= 1
        answer = self.answers.get(symbol, {"recommendation": "HOLD", **_scores("0.1")})
        if isinstance(answer, str):
            return VisionAnswer(None, None, COST, 1, answer)
        proposal: ChartProposal = parse_answer(_json(answer))
        return VisionAnswer(proposal, _json(answer), COST, 1)


def _scores(value: str) -> dict[str, str]:
    return {"setup_quality": value, "risk_reward_ratio": value, "market_environment": value}


def _json(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data)


@dataclass
class Setup:
    w: World
    ai: MemoryAi
    vision: Vision
    market: Market
    box: SecretBox

    def runner(self) -> StrategyRunner:
        """A fresh runner and analyst (what a restarted server has)."""
        ingest = SignalIngest(self.w.store, Symbols(), self.w.bus, self.w.clock, verify=lambda s, h: False)
        analyst = ChartAnalyst(
            self.ai, self.vision, lambda c, t: f"png:{c.symbol}".encode(), self.box, ingest, self.w.clock
        )
        return StrategyRunner(self.w.store, ingest, lambda name: self.market, self.w.clock, analyst=analyst)

    def define(self, **params: Any) -> None:
        definition = {
            "builtin": "ai_chart",
            "params": {"endpoint_id": 1, "prompt": "swing", **params},
            "timeframe": "5m",
            "symbols": SYMBOLS,
        }
        self.w.store.tables["strategies"][self.w.seeded.strategy_id]["definition"] = definition

    def analyses(self) -> list[dict[str, Any]]:
        return [self.ai.rows[i] for i in sorted(self.ai.rows)]


def _setup(**params: Any) -> Setup:
    w = world([])
    strategy_id = w.seeded.strategy_id
    owner = w.store.tables["strategies"][strategy_id]["owner_id"]
    ai = MemoryAi(lambda sid: w.store.tables["strategies"][sid]["owner_id"] if sid == strategy_id else None)
    box = SecretBox(os.urandom(32))
    endpoint_id = ai.add_endpoint(owner, "local", "http://ai.test/v1", "vision-1", w.clock.now())
    ai.seal_endpoint_key(endpoint_id, box.encrypt("sk-secret", key_context(endpoint_id)))
    ai.add_prompt(owner, "swing", "Find a swing long.", w.clock.now())
    setup = Setup(w, ai, Vision(), Market(), box)
    setup.define(**params)
    return setup


async def test_proposals_become_ranked_signals_with_their_levels_confidence_and_analysis() -> None:
    s = _setup(confidence_threshold="0.7", min_risk_reward="2")
    btc, eth = s.market.close("BTC/USDT"), s.market.close("ETH/USDT")
    s.vision.answers = {"BTC/USDT": buy(btc, quality="0.7"), "ETH/USDT": buy(eth, quality="0.95")}

    emitted = await s.runner().tick()

    assert emitted == 2
    signals = s.w.rows("signals")
    assert [r["symbol"] for r in signals] == ["ETH/USDT", "BTC/USDT"]  # higher confidence first
    eth_signal = signals[0]
    assert eth_signal["action"] == "buy"
    details = eth_signal["details"]
    # 0.40*0.95 + 0.25*0.8 + 0.35*0.8 = 0.86
    assert details["confidence"] == 0.86 and details["rank"] == 1 and details["source"] == "ai_chart"
    assert Decimal(details["entry"]) == eth
    assert Decimal(details["stop_loss"]) == eth * Decimal("0.98")
    assert Decimal(details["take_profit"]) == eth * Decimal("1.06")
    rows = {r["symbol"]: r for r in s.analyses()}
    assert details["analysis_id"] == rows["ETH/USDT"]["id"]
    assert rows["ETH/USDT"]["signal_id"] == eth_signal["id"]
    assert rows["ETH/USDT"]["status"] is AnalysisStatus.OK and rows["ETH/USDT"]["reason"] == "proposed"
    assert rows["ETH/USDT"]["image"] == b"png:ETH/USDT" and rows["ETH/USDT"]["prompt_version"] == 1
    assert rows["SOL/USDT"]["status"] is AnalysisStatus.OK and rows["SOL/USDT"]["signal_id"] is None
    assert rows["SOL/USDT"]["reason"] == "HOLD: nothing to do"
    assert s.ai.tokens_spent(s.w.seeded.strategy_id, s.w.clock.now().replace(hour=0)) == 3 * COST


async def test_what_is_not_traded_is_recorded_with_the_reason() -> None:
    s = _setup(confidence_threshold="0.8", min_risk_reward="2")
    btc, eth, sol = (s.market.close(x) for x in SYMBOLS)
    s.vision.answers = {
        "BTC/USDT": buy(btc, quality="0.5"),  # 0.2 + 0.2 + 0.28 = 0.68 < 0.8
        "ETH/USDT": buy(eth, stop_pct="4", target_pct="6"),  # reward/risk 1.5 < 2
        "SOL/USDT": {**buy(sol), "stop_loss": str(sol * Decimal("1.01"))},  # a long's stop above the price
    }
    assert await s.runner().tick() == 0
    assert s.w.rows("signals") == []
    reasons = {r["symbol"]: r["reason"] for r in s.analyses()}
    assert reasons["BTC/USDT"] == "not traded: confidence 0.680 below 0.8"
    assert reasons["ETH/USDT"] == "not traded: reward/risk 1.50 below 2"
    assert "stop_loss < entry < take_profit" in reasons["SOL/USDT"]


async def test_a_failed_analysis_is_recorded_failed_and_never_traded() -> None:
    s = _setup()
    s.vision.answers = {"BTC/USDT": "malformed answer twice: the answer is not JSON"}
    await s.runner().tick()
    row = next(r for r in s.analyses() if r["symbol"] == "BTC/USDT")
    assert row["status"] is AnalysisStatus.FAILED and row["reason"].startswith("malformed answer twice")
    assert row["signal_id"] is None and s.w.rows("signals") == []


async def test_the_day_s_token_budget_stops_the_calls_and_is_recorded_until_the_next_day() -> None:
    s = _setup(daily_token_budget=2 * COST, max_concurrent=1)
    runner = s.runner()
    await runner.tick()  # 3 symbols; the third finds 2 * COST spent
    statuses = [(r["symbol"], r["status"]) for r in s.analyses()]
    assert statuses[:2] == [("BTC/USDT", AnalysisStatus.OK), ("ETH/USDT", AnalysisStatus.OK)]
    assert statuses[2] == ("SOL/USDT", AnalysisStatus.SKIPPED)
    assert s.analyses()[2]["reason"] == f"daily token budget spent ({2 * COST} of {2 * COST} since 00:00 UTC)"
    assert len(s.vision.calls) == 2

    s.market.closed += 1
    await runner.tick()  # the next candle: nothing asked, each recorded skipped
    assert len(s.vision.calls) == 2
    assert [r["status"] for r in s.analyses()[3:]] == [AnalysisStatus.SKIPPED] * 3

    s.w.clock.advance(24 * 3600)  # a new UTC day: the budget is whole again
    s.market.closed += 1
    await runner.tick()
    assert len(s.vision.calls) == 4


async def test_a_candle_is_never_analysed_twice_not_even_after_a_restart() -> None:
    s = _setup()
    s.vision.answers = {"BTC/USDT": buy(s.market.close("BTC/USDT"))}
    assert await s.runner().tick() == 1
    runner = s.runner()
    assert await runner.tick() == 0  # a restarted server on the same candle
    assert await runner.tick() == 0
    assert len(s.vision.calls) == 3 and len(s.analyses()) == 3 and len(s.w.rows("signals")) == 1

    s.market.closed += 1  # the next candle is analysed
    await runner.tick()
    assert len(s.vision.calls) == 6


async def test_a_paused_endpoint_is_not_called_and_its_candle_waits() -> None:
    s = _setup()
    s.vision.paused_s = 30.0
    runner = s.runner()
    await runner.tick()
    assert s.vision.calls == [] and s.analyses() == []
    s.vision.paused_s = 0.0
    await runner.tick()  # the same candle, now analysed
    assert len(s.vision.calls) == 3


async def test_no_more_than_max_concurrent_calls_at_a_time() -> None:
    s = _setup(max_concurrent=2)
    s.vision.delay_s = 0.02
    await s.runner().tick()
    assert len(s.vision.calls) == 3 and s.vision.most_in_flight == 2


async def test_a_strategy_without_its_endpoint_or_prompt_is_skipped() -> None:
    s = _setup(prompt="missing")
    assert await s.runner().tick() == 0
    assert s.vision.calls == []
    s.define(endpoint_id=99)
    assert await s.runner().tick() == 0
    assert s.vision.calls == []


def test_the_sealed_key_is_bound_to_its_endpoint() -> None:
    box = SecretBox(os.urandom(32))
    sealed = box.encrypt("sk-secret", key_context(1))
    assert "sk-secret" not in sealed and "sk-secret" not in base64.b64decode(sealed.split(":")[2]).decode(
        "latin1"
    )
    try:
        box.decrypt(sealed, key_context(2))
    except ValueError:
        pass
    else:
        raise AssertionError("a key sealed for endpoint 1 opened for endpoint 2")


async def test_a_sell_is_an_exit_on_spot_and_a_hold_is_nothing() -> None:
    s = _setup(min_risk_reward="1")
    eth = s.market.close("ETH/USDT")
    s.vision.answers = {
        "ETH/USDT": {
            **buy(eth),
            "recommendation": "SELL",
            "stop_loss": str(eth * Decimal("1.02")),
            "take_profit": str(eth * Decimal("0.95")),
        }
    }
    assert await s.runner().tick() == 1
    (signal,) = s.w.rows("signals")
    assert signal["action"] == "exit" and signal["symbol"] == "ETH/USDT"
    assert signal["details"]["recommendation"] == "SELL"
    assert "stop_loss" not in signal["details"]  # an exit carries no levels for a position to open


async def test_a_client_that_raises_still_ends_its_analysis_failed() -> None:
    s = _setup()

    async def broken(access: EndpointAccess, prompt: str, image_png: bytes) -> VisionAnswer:
        raise RuntimeError("bug")

    s.vision.analyse = broken  # type: ignore[method-assign]
    assert await s.runner().tick() == 0
    assert {r["status"] for r in s.analyses()} == {AnalysisStatus.FAILED}
    assert s.analyses()[0]["reason"] == "unexpected error in the client: RuntimeError"


async def test_analyses_a_stopped_process_left_pending_are_failed_at_start_and_never_traded() -> None:
    s = _setup()
    now = s.w.clock.now()

    def claim(symbol: str, minutes_ago: int) -> int:
        claimed = NewAnalysis(
            s.w.seeded.strategy_id, symbol, "5m", 1, 1, 1, 1, now - timedelta(minutes=minutes_ago), None
        )
        made = s.ai.claim_analysis(claimed)
        assert made is not None
        return made

    orphan, in_flight = claim("BTC/USDT", 30), claim("ETH/USDT", 1)  # another process still asks this one
    runner = s.runner()
    assert runner.analyst is not None

    assert await runner.analyst.recover() == 1
    assert await runner.analyst.recover() == 0

    rows = s.ai.rows
    assert rows[orphan]["status"] == AnalysisStatus.FAILED
    assert rows[orphan]["reason"] == "the server stopped while the model was being asked: not traded"
    assert rows[in_flight]["status"] == AnalysisStatus.PENDING
    assert s.w.rows("signals") == [] and s.vision.calls == []
