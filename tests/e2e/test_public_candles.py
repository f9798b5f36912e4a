"""Closed candles from an exchange's public API through the real ccxt client (the fake Binance):
what the server's strategies read when a definition names an exchange instead of the paper market."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.fakes.exchange import FakeExchange
from tests.support import make_runtime
from tradewire.adapters.live.candles import PublicCandles


async def test_only_closed_candles_are_returned_oldest_first() -> None:
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "100"}) as fake:
        candles = PublicCandles("binance", fake.ccxt_urls())
        try:
            got = await candles.closed_candles("BTC/USDT", "1m", 50)
        finally:
            await candles.close()

    assert got is not None and 49 <= len(got) <= 50
    assert got.timeframe == "1m" and got.symbol == "BTC/USDT"
    assert (got.ts[1:] - got.ts[:-1] == 60_000).all()
    assert int(got.ts[-1]) + 60_000 <= time.time() * 1000  # the forming candle is left out
    assert float(got.close[-1]) == 60000.0


async def test_an_unreachable_exchange_gives_no_candles_rather_than_an_error() -> None:
    candles = PublicCandles("binance", {"public": "http://127.0.0.1:9/api/v3"}, timeout_ms=500)
    try:
        assert await candles.closed_candles("BTC/USDT", "1m", 10) is None
    finally:
        await candles.close()


def test_only_a_known_exchange_and_its_own_url_keys_give_a_candle_source(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A strategy naming ccxt's base class, or an operator's misspelt url key (which would send the
    requests to the exchange's public host instead of the proxy), gets no source and a log line."""
    runtime = make_runtime(tmp_path, candles_urls={"binance": {"publc": "http://127.0.0.1:9/api/v3"}})
    try:
        with caplog.at_level(logging.ERROR, logger="tradewire"):
            assert runtime.candles.for_name("Exchange") is None
            assert runtime.candles.for_name("binance") is None
            assert runtime.candles.for_name("okx") is not None
    finally:
        runtime.engine.dispose()

    assert "ccxt does not know the exchange 'Exchange'" in caplog.text
    assert "binance has no API url key 'publc'" in caplog.text
