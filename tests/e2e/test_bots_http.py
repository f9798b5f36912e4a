"""End to end over real HTTP: a trader creates a bot, the server runs it on the paper market's
closed candles and trades the trader's paper account; the bot is reconfigured without a restart,
stopped and started through the API. A provider publishes a built-in strategy the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.support import EMA_CROSS_BOT, PASSWORD, ServedRuntime, make_runtime

BOT = {**EMA_CROSS_BOT, "risk_limits": {"cooldown_s": 0}}


class Served:
    def __init__(self, served: ServedRuntime) -> None:
        self.served = served
        self.runtime = served.runtime
        self.http = httpx.Client(base_url=served.url, timeout=10)
        signup = self.http.post("/api/v1/users", json={"username": "trader", "password": PASSWORD})
        assert signup.status_code == 201
        self.headers = served.token("trader")

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers, **kwargs)

    def candles(self, n: int) -> int:
        """Close `n` more paper candles, running the strategies after each; returns signals emitted."""

        async def advance() -> int:
            emitted = 0
            for _ in range(n):
                self.runtime.feed.step()
                emitted += await self.runtime.strategies.tick()
            await self.runtime.bus.drain()
            return emitted

        return int(self.served.run(advance(), timeout=60))


@pytest.fixture
def served(tmp_path: Path, data_dir: Path) -> Iterator[Served]:
    # The test closes the candles itself; the background loops wait an hour.
    runtime = make_runtime(tmp_path, data_dir=data_dir, feed_interval_s=3600, strategy_interval_s=3600)
    with ServedRuntime(runtime, free_port()) as server:
        yield Served(server)


def test_a_bot_trades_the_paper_account_and_is_reconfigured_stopped_and_started(served: Served) -> None:
    created = served.call("POST", "/api/v1/bots", json=BOT)
    assert created.status_code == 201, created.text
    bot = created.json()
    assert bot["running"] is True and bot["mode"] == "paper"  # paper by default, on a new paper account
    assert bot["status"] == "ACTIVE"  # its subscription's

    assert served.candles(150) > 0
    orders = served.call("GET", "/api/v1/orders").json()
    assert orders and all(o["state"] == "filled" for o in orders)
    signals_before = len(served.call("GET", "/api/v1/intents").json())

    stopped = served.call("POST", f"/api/v1/bots/{bot['id']}/stop")
    assert stopped.json()["running"] is False and stopped.json()["status"] == "PAUSED"
    assert served.candles(100) == 0
    assert len(served.call("GET", "/api/v1/intents").json()) == signals_before

    slower = {**BOT["definition"], "params": {"fast": 12, "slow": 26}}
    changed = served.call("PATCH", f"/api/v1/bots/{bot['id']}", json={"definition": slower})
    assert changed.status_code == 200 and changed.json()["definition"]["params"] == {"fast": 12, "slow": 26}
    assert changed.json()["running"] is False  # a change does not start a stopped bot
    started = served.call("POST", f"/api/v1/bots/{bot['id']}/start")
    assert started.json()["running"] is True and started.json()["status"] == "ACTIVE"
    served.candles(200)
    intents = served.call("GET", "/api/v1/intents").json()
    assert len(intents) > signals_before


def test_bad_bot_definitions_are_refused_with_the_reason(served: Served) -> None:
    cases = [
        ({**BOT["definition"], "builtin": "astrology"}, "astrology"),
        ({**BOT["definition"], "params": {"fast": 30, "slow": 8}}, "fast"),
        ({**BOT["definition"], "symbols": ["NOPE/USDT"]}, "unknown pairs"),
        ({**BOT["definition"], "timeframe": "7x"}, "timeframe"),
    ]
    for definition, reason in cases:
        response = served.call("POST", "/api/v1/bots", json={**BOT, "definition": definition})
        assert response.status_code == 422 and reason in response.text, response.text
    assert served.call("GET", "/api/v1/bots").json() == []


def test_a_provider_publishes_a_built_in_strategy_that_emits_signals_to_subscribers(served: Served) -> None:
    created = served.call(
        "POST",
        "/api/v1/strategies",
        json={
            "name": "EMA cross BTC",
            "is_public": True,
            "definition": {**BOT["definition"], "bot": None},
        },
    )
    assert created.status_code == 201, created.text
    strategy = created.json()
    assert strategy["source"] == "indicator" and strategy["webhook_url"] is None
    assert strategy["passphrase"] is None
    webhook = served.http.post(
        f"/api/v1/webhooks/tradingview/{strategy['slug']}",
        json={"passphrase": "whatever1", "ticker": "BTCUSDT", "action": "buy"},
    )
    assert webhook.status_code == 404  # a built-in strategy has no webhook

    assert served.candles(150) > 0
    signals = served.call("GET", "/api/v1/signals", params={"strategy_id": strategy["id"]}).json()
    assert signals and {s["action"] for s in signals} <= {"buy", "exit"}

    # Its recipe (indicators, parameters) is the provider's: shown to it, not to the marketplace.
    own = served.call("GET", f"/api/v1/strategies/{strategy['id']}").json()
    assert own["definition"]["builtin"] == "ema_cross" and own["definition"]["params"]["fast"] == 3
    signup = served.http.post("/api/v1/users", json={"username": "follower", "password": PASSWORD})
    assert signup.status_code == 201
    follower = served.served.token("follower")
    listed = served.http.get("/api/v1/strategies", headers=follower).json()
    seen = next(s for s in listed if s["id"] == strategy["id"])
    assert seen["is_owner"] is False and seen["source"] == "indicator" and seen["definition"] is None
    one = served.http.get(f"/api/v1/strategies/{strategy['id']}", headers=follower).json()
    assert one["definition"] is None and one["name"] == "EMA cross BTC"
