"""SignalIngest against the in-memory store: an alert is stored once (for ever with a time of its
own, within the strategy's window without), announced on the bus, and a request it refuses (unknown
slug, wrong passphrase, unknown ticker, bad body) stores nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.fakes.memory_exchange import Symbols
from tests.fakes.world import World, world
from tradewire.domain.signals import SignalAction
from tradewire.services.ingest import SIGNAL_RECEIVED, IngestRejected, SignalIngest

PASSPHRASE = "right passphrase"


def _ingest(symbols: Symbols | None = None) -> tuple[World, SignalIngest, list[Mapping[str, Any]]]:
    """A strategy whose passphrase is PASSPHRASE (checked without scrypt), and what reaches the bus."""
    w = world()
    w.store.tables["strategies"][w.seeded.strategy_id]["passphrase_hash"] = f"plain:{PASSPHRASE}"
    published: list[Mapping[str, Any]] = []

    async def publish(topic: str, message: Mapping[str, Any]) -> None:
        published.append({"topic": topic, **message})

    w.bus.publish = publish  # type: ignore[method-assign]
    ingest = SignalIngest(w.store, symbols or Symbols(), w.bus, w.clock, _plain_check)
    return w, ingest, published


def _plain_check(secret: str, stored: str) -> bool:
    return stored == f"plain:{secret}"


def _body(**fields: Any) -> bytes:
    alert = {"passphrase": PASSPHRASE, "ticker": "BINANCE:BTCUSDT", "action": "buy", "contracts": "0.5"}
    return json.dumps({**alert, **fields}).encode()


async def test_an_alert_is_stored_once_with_its_symbol_and_announced_once() -> None:
    w, ingest, published = _ingest()
    body = _body(time="2026-01-05T11:59:00Z", stop_loss="90")

    first = await ingest.receive_tradingview("tv-test", body, "application/json", None, "10.0.0.1")
    w.clock.advance(3600)
    again = await ingest.receive_tradingview("tv-test", body, "application/json", None, "10.0.0.1")

    assert (first.signal_id, first.duplicate, first.symbol, first.action) == (1, False, "BTC/USDT", "buy")
    assert (again.signal_id, again.duplicate) == (1, True)
    [signal] = w.rows("signals")
    assert (signal["symbol"], signal["ticker"], signal["contracts"], signal["status"]) == (
        "BTC/USDT",
        "BINANCE:BTCUSDT",
        Decimal("0.5"),
        "received",
    )
    assert signal["details"]["stop_loss"] == "90" and "passphrase" not in json.dumps(signal["details"])
    assert published == [{"topic": SIGNAL_RECEIVED, "signal_id": 1}]


async def test_an_alert_without_a_time_is_a_duplicate_only_within_the_strategy_window() -> None:
    w, ingest, published = _ingest()
    body = _body()

    ids = []
    for wait in (0, 30, 29, 2):  # at 0, 30, 59 and 61 s: the window is 60 s from the stored one
        w.clock.advance(wait)
        ingested = await ingest.receive_tradingview("tv-test", body, "application/json", None)
        ids.append((ingested.signal_id, ingested.duplicate))

    assert ids == [(1, False), (1, True), (1, True), (2, False)]
    assert len(w.rows("signals")) == 2 and len(published) == 2


@pytest.mark.parametrize(
    ("slug", "body", "status"),
    [
        ("nobody", _body(), 404),
        ("tv-test", _body(passphrase="wrong passphrase"), 401),
        ("tv-test", _body(passphrase=""), 401),
        ("tv-test", _body(ticker="NOPE"), 422),
        ("tv-test", b"{not json", 400),
    ],
)
async def test_a_refused_request_stores_nothing(slug: str, body: bytes, status: int) -> None:
    w, ingest, published = _ingest()

    with pytest.raises(IngestRejected) as refused:
        await ingest.receive_tradingview(slug, body, "application/json", None)

    assert refused.value.status == status
    assert w.rows("signals") == [] and published == []


async def test_a_ticker_a_loading_market_list_may_have_is_stored_unresolved_for_routing() -> None:
    w, ingest, _published = _ingest(Symbols(listed=(), loading=True))

    ingested = await ingest.receive_tradingview("tv-test", _body(ticker="SOLUSDT"), "application/json", None)

    assert ingested.symbol is None
    assert w.column("signals", "ticker", "symbol") == [("SOLUSDT", "")]


async def test_a_strategy_signal_is_stored_once_per_candle() -> None:
    w, ingest, published = _ingest()
    at = w.clock.now() - timedelta(minutes=5)

    args = (w.seeded.strategy_id, SignalAction.BUY, "BTC/USDT", Decimal(100), at, {"rsi": "28"}, "s1|5m|123")
    first = await ingest.receive_strategy_signal(*args)
    again = await ingest.receive_strategy_signal(*args)

    assert (first.duplicate, again.duplicate, again.signal_id) == (False, True, first.signal_id)
    assert w.column("signals", "symbol", "price", "signal_time") == [("BTC/USDT", Decimal(100), at)]
    assert len(published) == 1
