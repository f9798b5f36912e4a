"""A 1 s strategy on a served runtime: published over HTTP with candles from Binance (the fake), the
server streams that symbol's public trades through ccxt pro, builds 1 s candles, and the strategy's
signal on a closed second reaches a paper subscriber. On the paper market, 1 s is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import free_port
from tests.e2e.api_clients import SignedUpUser
from tests.fakes.exchange import FakeExchange
from tests.support import ServedRuntime, make_runtime, until
from tradewire.domain.strategies.builtin import build_strategy

BTC = "BTC/USDT"
DEFINITION: dict[str, Any] = {
    "builtin": "macd",
    "timeframe": "1s",
    "symbols": [BTC],
    "candles_from": "binance",
}


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    with FakeExchange("binance") as server:
        yield server


@pytest.fixture
def served(tmp_path: Path, fake: FakeExchange) -> Iterator[ServedRuntime]:
    urls = {**fake.ccxt_urls(), "ws.spot": fake.ccxt_ws_urls()["spot"]}
    runtime = make_runtime(
        tmp_path,
        candles_urls={"binance": urls},
        strategy_interval_s=0.2,
        seconds_strategy_interval_s=0.1,
        # Seconds close when a later trade arrives, not by the clock: the test pushes four minutes of
        # past trades at once, which the wall clock would otherwise find late.
        second_candles_grace_ms=600_000,
        feed_interval_s=3600,
    )
    with ServedRuntime(runtime, free_port()) as server:
        yield server


def test_a_1s_strategy_on_an_exchange_trade_stream_signals_to_its_subscribers(
    served: ServedRuntime, fake: FakeExchange
) -> None:
    provider, trader = SignedUpUser(served, "provider"), SignedUpUser(served, "trader")
    on_paper = provider.call(
        "POST",
        "/api/v1/strategies",
        json={"name": "paper 1s", "definition": {**DEFINITION, "candles_from": "paper"}},
    )
    assert on_paper.status_code == 422, on_paper.text
    assert "paper market has none" in on_paper.text
    assert fake.trade_subscribers(BTC) == 0  # nothing asks for 1 s candles yet

    strategy = provider.publish("MACD 1s", DEFINITION)
    trader.subscribe_paper_account(strategy["id"], risk_limits={"cooldown_s": 0})
    until(lambda: fake.trade_subscribers(BTC) == 1, "the server to follow BTC/USDT's trades", 20)

    # Four minutes of a falling market (the strategy reads 200 candles), then one trade up, and the
    # next second's trade that closes it.
    now = int(time.time() * 1000)
    start = now - now % 1000 - 240_000
    for i in range(240):
        fake.push_trade(BTC, str(30_000 - i), "0.01", "sell", time_ms=start + i * 1_000 + 500)
    fake.push_trade(BTC, "29900", "0.5", "buy", time_ms=start + 240_000)
    fake.push_trade(BTC, "29910", "0.5", "buy", time_ms=start + 241_000)

    def buys() -> list[dict[str, Any]]:
        rows = provider.call("GET", "/api/v1/signals", params={"strategy_id": strategy["id"]}).json()
        return [s for s in rows if s["action"] == "buy"]

    until(lambda: bool(buys()), "a buy signal", 20)
    signal = buys()[0]
    assert signal["symbol"] == BTC and signal["details"]["timeframe"] == "1s"
    # The signal is the strategy's own entry on the candles the server built from the trades.
    source = served.runtime.candles.for_name("binance")
    assert source is not None
    candles = served.run(source.closed_candles(BTC, "1s", 241))
    assert candles is not None
    entries = build_strategy("macd", {}).signals(candles).entries
    candle_ms = int(datetime.fromisoformat(signal["details"]["candle"]).timestamp() * 1000)
    assert candle_ms == start + 240_000 == int(candles.ts[-1])
    assert [int(candles.ts[i]) for i in np.flatnonzero(entries)] == [candle_ms]
    assert signal["price"] == "29900"
    served.settle()
    intents = trader.call("GET", "/api/v1/intents").json()
    assert signal["id"] in {i["signal_id"] for i in intents}

    # The strategy turned off: the server stops streaming its symbol.
    changed = provider.call(
        "PATCH", f"/api/v1/strategies/{strategy['id']}", json={"definition": {**DEFINITION, "enabled": False}}
    )
    assert changed.status_code == 200, changed.text
    until(lambda: fake.trade_subscribers(BTC) == 0, "the server to stop following BTC/USDT", 20)
