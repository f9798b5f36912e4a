"""Models over real HTTP: a model trained with `tradewire ml train` is uploaded (checked in a child
process), listed, read, downloaded and deleted by its owner only; a `lightgbm` strategy names one of
its owner's models, and its signals on the paper market become a subscriber's orders."""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import free_port
from tests.e2e.api_clients import SignedUpUser
from tests.support import ServedRuntime, make_runtime, train_model
from tradewire.adapters.ml.lightgbm_model import load_predictor

DEFINITION: dict[str, Any] = {
    "builtin": "lightgbm",
    "params": {"threshold": 0.5},
    "timeframe": "1m",
    "symbols": ["BTC/USDT"],
}


@pytest.fixture(scope="module")
def trained(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    """model.txt and manifest.json from the training command, on a small real candle file."""
    out = tmp_path_factory.mktemp("model")
    train_model(data_dir, out)
    return (out / "model.txt").read_bytes(), (out / "manifest.json").read_text()


class Client(SignedUpUser):
    def upload(self, content: bytes, **fields: str) -> httpx.Response:
        return self.call("POST", "/api/v1/models", files={"file": ("model.txt", content)}, data=fields)


@pytest.fixture
def served(tmp_path: Path, data_dir: Path) -> Iterator[ServedRuntime]:
    runtime = make_runtime(tmp_path, data_dir=data_dir, feed_interval_s=3600, strategy_interval_s=3600)
    with ServedRuntime(runtime, free_port()) as server:
        yield server


def test_models_are_uploaded_checked_versioned_and_kept_to_their_owner(
    served: ServedRuntime, trained: tuple[bytes, str]
) -> None:
    text, manifest = trained
    alice, bob = Client(served, "alice"), Client(served, "bob")

    first = alice.upload(text, manifest=manifest)
    assert first.status_code == 201, first.text
    model = first.json()
    assert model["symbol"] == "ETH/BTC" and model["version"] == 1 and model["feature_set"] == "candles@1"
    assert model["size"] == len(text) and model["manifest"]["horizon"] == 12
    second = alice.upload(text, symbol="ETH/BTC", feature_set="candles@1").json()
    assert second["version"] == 2
    assert [m["id"] for m in alice.call("GET", "/api/v1/models").json()] == [model["id"], second["id"]]
    assert alice.call("GET", f"/api/v1/models/{model['id']}").json() == model
    download = alice.call("GET", f"/api/v1/models/{model['id']}/file")
    assert download.status_code == 200 and download.content == text

    # Another user's model answers like one that does not exist, and cannot be named by a strategy.
    assert bob.call("GET", "/api/v1/models").json() == []
    for method, path in (("GET", ""), ("GET", "/file"), ("DELETE", "")):
        assert bob.call(method, f"/api/v1/models/{model['id']}{path}").status_code == 404
    theirs = {**DEFINITION, "params": {"model_id": model["id"]}}
    refused = bob.call("POST", "/api/v1/strategies", json={"name": "x", "definition": theirs})
    assert refused.status_code == 422 and "no model" in refused.text
    nothing = {**DEFINITION, "params": {"model_symbol": "ETH/BTC"}}
    refused = bob.call("POST", "/api/v1/bots", json={"name": "x", "definition": nothing})
    assert refused.status_code == 422 and "no model for ETH/BTC" in refused.text

    # A model in use is not deleted; an unused one is.
    by_id = {**DEFINITION, "params": {"model_id": model["id"]}}
    published = alice.call("POST", "/api/v1/strategies", json={"name": "ml", "definition": by_id})
    assert published.status_code == 201, published.text
    busy = alice.call("DELETE", f"/api/v1/models/{model['id']}")
    assert busy.status_code == 409 and str(published.json()["id"]) in busy.text
    assert alice.call("DELETE", f"/api/v1/models/{second['id']}").status_code == 204
    assert alice.call("GET", f"/api/v1/models/{second['id']}").status_code == 404


def test_uploads_that_are_not_usable_models_are_refused_with_the_reason(
    served: ServedRuntime, trained: tuple[bytes, str]
) -> None:
    text, manifest = trained
    alice = Client(served, "alice")
    names = next(line for line in text.decode().splitlines() if line.startswith("feature_names="))
    renamed = text.decode().replace(names, "feature_names=" + " ".join(f"f{i}" for i in range(28)))
    fields = {"symbol": "ETH/BTC", "feature_set": "candles@1"}
    cases: list[tuple[bytes, dict[str, str], str]] = [
        (b"garbage\x00\xff", fields, "not a LightGBM text model"),
        (pickle.dumps({"trees": [1, 2, 3]}), fields, "not a LightGBM text model"),
        (renamed.encode(), fields, "feature names"),
        (text, {"symbol": "ETH/BTC"}, "feature_set"),
        (text, {"feature_set": "candles@1"}, "symbol"),
        (text, {**fields, "feature_set": "candles@9"}, "feature_set"),
        (text, {"manifest": "{not json"}, "manifest"),
        (text, {"manifest": "[1, 2]"}, "manifest"),
        (text, {"manifest": manifest, "symbol": "BTC/USDT"}, "the manifest says"),
        (text + b"\n", {"manifest": manifest}, "sha256"),
        (b"", fields, "empty"),
    ]
    for content, data, reason in cases:
        response = alice.upload(content, **data)
        assert response.status_code == 422 and reason in response.text, (data, response.text)
    huge = alice.upload(b"tree\n" + b"x" * (9 * 1024 * 1024), **fields)
    assert huge.status_code == 413
    assert alice.call("GET", "/api/v1/models").json() == []


def test_a_lightgbm_strategy_trades_a_subscribers_paper_account(
    served: ServedRuntime, trained: tuple[bytes, str]
) -> None:
    text, manifest = trained
    provider, trader = Client(served, "provider"), Client(served, "trader")
    model = provider.upload(text, manifest=manifest).json()
    # A threshold the model's probabilities cross on the paper market's candles (they are not the
    # candles it was trained on): their median over the candles the runner will read.
    runtime = served.runtime
    for _ in range(150):
        runtime.feed.step()
    candles = runtime.feed.closed_candles("BTC/USDT", "1m", 400)
    assert candles is not None
    from tradewire.domain.ml.strategy import LightgbmParams, LightgbmStrategy

    probabilities = LightgbmStrategy(LightgbmParams(model_id=1), load_predictor(text.decode())).probabilities(
        candles
    )
    threshold = round(float(np.nanmedian(probabilities)), 4)
    definition = {**DEFINITION, "params": {"model_id": model["id"], "threshold": threshold}}
    strategy = provider.publish("ML BTC", definition)
    trader.subscribe_paper_account(strategy["id"], risk_limits={"cooldown_s": 0})

    async def advance(n: int) -> int:
        emitted = 0
        for _ in range(n):
            runtime.feed.step()
            emitted += await runtime.strategies.tick()
        await runtime.bus.drain()
        return emitted

    assert int(served.run(advance(200), timeout=120)) > 0
    signals = provider.call("GET", "/api/v1/signals", params={"strategy_id": strategy["id"]}).json()
    buys = [s for s in signals if s["action"] == "buy"]
    assert buys
    for _ in range(100):  # the last signal's order may still be on its way
        served.settle()
        orders = trader.call("GET", "/api/v1/orders").json()
        if orders and all(o["state"] in ("filled", "rejected") for o in orders):
            break
        time.sleep(0.1)
    entries = [o for o in orders if o["side"] == "buy"]
    assert entries and all(o["state"] == "filled" for o in orders), json.dumps(orders)
    intents = trader.call("GET", "/api/v1/intents").json()
    assert {i["signal_id"] for i in intents} & {s["id"] for s in buys}
    details = json.dumps(buys[0])
    assert "confidence" in details, details


def test_a_lightgbm_strategy_is_backtested_with_its_owner_s_model(
    served: ServedRuntime, trained: tuple[bytes, str]
) -> None:
    text, manifest = trained
    alice, bob = Client(served, "alice"), Client(served, "bob")
    model = alice.upload(text, manifest=manifest).json()
    body = {
        "strategy": "lightgbm",
        "params": {"model_symbol": "ETH/BTC", "threshold": 0.55},
        "symbols": ["ETH/BTC"],
        "timeframe": "5m",
    }
    assert bob.call("POST", "/api/v1/backtests", json=body).status_code == 422  # not bob's model
    accepted = alice.call("POST", "/api/v1/backtests", json=body)
    assert accepted.status_code == 202, accepted.text
    url = accepted.json()["url"]
    for _ in range(300):
        done = alice.call("GET", url).json()
        if done["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert done["status"] == "done", done["error"]
    assert len(done["result"]["trades"]) > 0

    definition = {
        **DEFINITION,
        "params": {"model_id": model["id"]},
        "symbols": ["ETH/BTC"],
        "timeframe": "5m",
    }
    strategy = alice.call("POST", "/api/v1/strategies", json={"name": "ml", "definition": definition}).json()
    by_strategy = alice.call("POST", "/api/v1/backtests", json={"strategy_id": strategy["id"]})
    assert by_strategy.status_code == 202, by_strategy.text
