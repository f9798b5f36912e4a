"""AI chart analysis over real HTTP, against the local fake OpenAI-compatible server: a user registers
an endpoint (key write-only) and prompt versions, publishes an `ai_chart` strategy; at a candle close
the server renders the chart, the model's BUY becomes a signal that a subscriber's paper account
trades; the analysis (with its image) is listed to its owner only; a restarted server does not pay
for the same candle again; a malformed answer twice is recorded failed and not traded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.e2e.api_clients import SignedUpUser
from tests.fakes.openai_api import KEY, FakeOpenAI
from tests.support import ServedRuntime, make_runtime
from tradewire.adapters.ai import LazyVision, render_chart
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.ai import SqlAi
from tradewire.services.chart_analyst import ChartAnalyst
from tradewire.services.strategy_runner import StrategyRunner

SYMBOL = "BTC/USDT"


@pytest.fixture
def served(tmp_path: Path, data_dir: Path) -> Iterator[ServedRuntime]:
    runtime = make_runtime(
        tmp_path,
        data_dir=data_dir,
        encryption_key=generate_key(),
        allow_private_ai_urls=True,
        feed_interval_s=3600,
        strategy_interval_s=3600,
    )
    with ServedRuntime(runtime, free_port()) as server:
        yield server


def _buy(close: Decimal) -> dict[str, Any]:
    return {
        "recommendation": "BUY",
        "entry": str(close),
        "stop_loss": str((close * Decimal("0.98")).quantize(Decimal("0.01"))),
        "take_profit": str((close * Decimal("1.06")).quantize(Decimal("0.01"))),
        "setup_quality": 0.9,
        "risk_reward_ratio": 0.8,
        "market_environment": 0.8,
        "reasoning": "higher lows above a rising EMA 50",
    }


def _last_close(served: ServedRuntime) -> Decimal:
    candles = served.runtime.feed.closed_candles(SYMBOL, "1m", 400)
    assert candles is not None and len(candles) > 61
    return Decimal(repr(float(candles.close[-1])))


def test_an_ai_strategy_s_buy_reaches_a_paper_subscriber_once(
    served: ServedRuntime, fake_openai: FakeOpenAI
) -> None:
    provider, trader, stranger = (
        SignedUpUser(served, "provider"),
        SignedUpUser(served, "trader"),
        SignedUpUser(served, "bob"),
    )
    body = {"name": "local", "base_url": fake_openai.base_url, "model": "vision-1", "api_key": KEY}
    created = provider.call("POST", "/api/v1/ai/endpoints", json=body)
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["has_api_key"] is True and KEY not in created.text
    assert KEY not in provider.call("GET", "/api/v1/ai/endpoints").text
    assert provider.call("POST", "/api/v1/ai/endpoints", json=body).status_code == 409
    assert stranger.call("GET", f"/api/v1/ai/endpoints/{endpoint['id']}").status_code == 404
    for text in ("Look for a long.", "Look for a swing long after a pullback."):
        assert (
            provider.call("POST", "/api/v1/ai/prompts", json={"name": "swing", "text": text}).status_code
            == 201
        )
    versions = provider.call("GET", "/api/v1/ai/prompts", params={"name": "swing"}).json()
    assert [p["version"] for p in versions] == [1, 2]

    definition = {
        "builtin": "ai_chart",
        "params": {"endpoint_id": endpoint["id"], "prompt": "swing", "min_risk_reward": "2"},
        "timeframe": "1m",
        "symbols": [SYMBOL],
    }
    theirs = stranger.call("POST", "/api/v1/strategies", json={"name": "x", "definition": definition})
    assert theirs.status_code == 422 and "no AI endpoint" in theirs.text
    strategy = provider.publish("AI BTC", definition)
    trader.subscribe_paper_account(strategy["id"])

    runtime = served.runtime
    for _ in range(150):
        runtime.feed.step()
    close = _last_close(served)
    fake_openai.answer(_buy(close))

    async def tick(runner: StrategyRunner) -> int:
        emitted = await runner.tick()
        await runtime.bus.drain()
        return emitted

    assert served.run(tick(runtime.strategies), timeout=60) == 1
    (seen,) = fake_openai.completions
    assert seen.body["model"] == "vision-1" and "Look for a swing long after a pullback." in seen.text
    assert f"last close {close}" in seen.text

    signals = provider.call("GET", "/api/v1/signals", params={"strategy_id": strategy["id"]}).json()
    (signal,) = signals
    assert signal["action"] == "buy"
    details = signal["details"]
    assert details["confidence"] == 0.84 and details["source"] == "ai_chart"
    assert Decimal(details["stop_loss"]) < close < Decimal(details["take_profit"])
    for _ in range(100):
        served.settle()
        orders = trader.call("GET", "/api/v1/orders").json()
        if orders and all(o["state"] in ("filled", "rejected") for o in orders):
            break
        time.sleep(0.1)
    assert [(o["side"], o["state"]) for o in orders] == [("buy", "filled")], json.dumps(orders)
    positions = trader.call("GET", "/api/v1/positions").json()
    assert Decimal(positions[0]["stop_loss"]) == Decimal(details["stop_loss"]), positions

    (analysis,) = provider.call("GET", "/api/v1/ai/analyses", params={"strategy_id": strategy["id"]}).json()
    assert analysis["id"] == details["analysis_id"] and analysis["signal_id"] == signal["id"]
    assert analysis["status"] == "ok" and analysis["reason"] == "proposed" and analysis["prompt_version"] == 2
    assert (
        analysis["confidence"] == "0.84" and analysis["tokens"] == 970 and analysis["recommendation"] == "BUY"
    )
    image = provider.call("GET", f"/api/v1/ai/analyses/{analysis['id']}/image.png")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert seen.images == [image.content]
    assert stranger.call("GET", "/api/v1/ai/analyses").json() == []
    assert stranger.call("GET", f"/api/v1/ai/analyses/{analysis['id']}/image.png").status_code == 404

    # A restarted server (same database, nothing in memory) on the same candle pays for nothing.
    analyst = ChartAnalyst(
        SqlAi(runtime.engine),
        LazyVision(allow_private=True),  # the fake endpoint is on this machine
        render_chart,
        runtime.secret_box,
        runtime.ingest,
        runtime.clock,
    )
    restarted = StrategyRunner(
        runtime.store, runtime.ingest, runtime.candles.for_name, runtime.clock, analyst=analyst
    )
    assert served.run(tick(restarted), timeout=60) == 0
    assert len(fake_openai.completions) == 1

    # The next candle: malformed twice is recorded failed and not traded.
    runtime.feed.step()
    fake_openai.malformed()
    fake_openai.malformed("BUY now!")
    assert served.run(tick(restarted), timeout=60) == 0
    newest = provider.call("GET", "/api/v1/ai/analyses").json()[0]
    assert newest["status"] == "failed" and newest["reason"].startswith("malformed answer twice")
    assert newest["raw_answer"] == "BUY now!" and newest["signal_id"] is None and newest["tokens"] == 2 * 970
    assert len(provider.call("GET", "/api/v1/signals", params={"strategy_id": strategy["id"]}).json()) == 1


def test_endpoints_need_an_encryption_key_and_a_callable_address(tmp_path: Path) -> None:
    without_key = make_runtime(tmp_path / "a")
    with ServedRuntime(without_key, free_port()) as served:
        alice = SignedUpUser(served, "alice")
        body = {"name": "x", "base_url": "https://api.example.com/v1", "model": "m", "api_key": "sk-1"}
        refused = alice.call("POST", "/api/v1/ai/endpoints", json=body)
        assert refused.status_code == 403 and "TRADEWIRE_ENCRYPTION_KEY" in refused.text
    guarded = make_runtime(tmp_path / "b", encryption_key=generate_key())  # private addresses refused
    with ServedRuntime(guarded, free_port()) as served:
        alice = SignedUpUser(served, "alice")
        cases = [
            ("http://127.0.0.1:8080/v1", 422, "https"),
            ("https://127.0.0.1/v1", 422, "not a public address"),
            ("https://user:pw@api.example.com/v1", 422, "credentials"),
            ("ftp://api.example.com/v1", 422, "http(s) URL"),
            ("https://api.example.com/v1?key=1", 422, "query"),
        ]
        for url, code, says in cases:
            answer = alice.call("POST", "/api/v1/ai/endpoints", json={**body, "base_url": url})
            assert answer.status_code == code and says in answer.text, (url, answer.text)
        assert alice.call("GET", "/api/v1/ai/endpoints").json() == []


def test_an_ai_strategy_is_backtested_on_its_stored_analyses_without_model_calls(
    served: ServedRuntime, fake_openai: FakeOpenAI, data_dir: Path
) -> None:
    from tradewire.adapters.candles_parquet import read_candles
    from tradewire.domain.ai.proposal import parse_answer
    from tradewire.ports.ai import AnalysisResult, AnalysisStatus, NewAnalysis

    alice, bob = SignedUpUser(served, "alice"), SignedUpUser(served, "bob")
    body = {"name": "local", "base_url": fake_openai.base_url, "model": "vision-1", "api_key": KEY}
    endpoint = alice.call("POST", "/api/v1/ai/endpoints", json=body).json()
    alice.call("POST", "/api/v1/ai/prompts", json={"name": "swing", "text": "Find a long."})
    definition = {
        "builtin": "ai_chart",
        "params": {"endpoint_id": endpoint["id"], "prompt": "swing", "min_risk_reward": "2"},
        "timeframe": "1h",
        "symbols": [SYMBOL],
    }
    strategy = alice.call("POST", "/api/v1/strategies", json={"name": "AI", "definition": definition}).json()

    # What the strategy's analyses said on real hourly candles (as the live cycle stores them).
    candles = read_candles(data_dir / "ohlcv/binance/BTC_USDT-1h.parquet", SYMBOL, "1h")
    ai = SqlAi(served.runtime.engine)
    analysed = range(100, len(candles) - 30, 40)
    for i in analysed:
        proposal = parse_answer(json.dumps(_buy(Decimal(repr(float(candles.close[i]))))))
        claim = NewAnalysis(
            strategy["id"],
            SYMBOL,
            "1h",
            int(candles.ts[i]),
            endpoint["id"],
            None,
            1,
            served.runtime.clock.now(),
            None,
        )
        analysis_id = ai.claim_analysis(claim)
        assert analysis_id is not None
        result = AnalysisResult(
            AnalysisStatus.OK, claim.created_at, 970, None, proposal, proposal.confidence, ""
        )
        ai.finish_analysis(analysis_id, result)

    assert bob.call("POST", "/api/v1/backtests", json={"strategy_id": strategy["id"]}).status_code == 404
    refused = alice.call(
        "POST",
        "/api/v1/backtests",
        json={"strategy": "ai_chart", "params": definition["params"], "symbols": [SYMBOL], "timeframe": "1h"},
    )
    assert refused.status_code == 422 and "strategy_id" in refused.text
    accepted = alice.call("POST", "/api/v1/backtests", json={"strategy_id": strategy["id"]})
    assert accepted.status_code == 202, accepted.text
    for _ in range(300):
        done = alice.call("GET", accepted.json()["url"]).json()
        if done["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert done["status"] == "done", done["error"]
    trades = done["result"]["trades"]
    assert len(trades) >= 3
    hour = 3_600_000
    assert {t["entry_time_ms"] - hour for t in trades} <= {int(candles.ts[i]) for i in analysed}
    assert fake_openai.completions == []  # no model was asked
