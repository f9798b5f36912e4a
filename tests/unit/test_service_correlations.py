"""Correlations against an exchange double serving fixed hourly closes: the open pairs moving with an
entry's pair above the threshold are named, highest first; closes are asked once per exchange and
symbol while cached (`ttl_s`, on the monotonic clock, moved by the test), an exchange that cannot
answer leaves the pair unmeasured and is asked again next time."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from tests.fakes.memory_exchange import FixedClock, MemoryExchange
from tradewire.ports import ExchangeError, ExchangeUnavailable
from tradewire.services.correlations import Correlations


def _closes(start: float, returns: list[float]) -> list[float]:
    closes = [start]
    for r in returns:
        closes.append(closes[-1] * (1 + r))
    return closes


# 30 hourly closes: ETH moves as BTC does (twice as far), SOL against it, DOGE its own way, AVAX partly
# as BTC and partly as DOGE.
MOVES = [0.01 * math.sin(1.7 * i) for i in range(29)]
BTC = _closes(100.0, MOVES)
ETH = _closes(50.0, [2 * r for r in MOVES])
SOL = _closes(20.0, [-r for r in MOVES])
DOGE_MOVES = [0.01 * math.cos(2.3 * i + 0.5) for i in range(29)]
DOGE = _closes(0.1, DOGE_MOVES)
AVAX = _closes(30.0, [r + d / 2 for r, d in zip(MOVES, DOGE_MOVES, strict=True)])  # partly


@dataclass
class Candles(MemoryExchange):
    """Closes by symbol; `errors` are raised instead for their symbols."""

    closes: dict[str, list[float]] = field(
        default_factory=lambda: {
            "BTC/USDT": BTC,
            "ETH/USDT": ETH,
            "SOL/USDT": SOL,
            "DOGE/USDT": DOGE,
            "AVAX/USDT": AVAX,
        }
    )
    errors: dict[str, Exception] = field(default_factory=dict)
    asked: list[tuple[str, str, int]] = field(default_factory=list)

    async def recent_closes(self, symbol: str, timeframe: str, limit: int) -> list[float]:
        self.asked.append((symbol, timeframe, limit))
        if symbol in self.errors:
            raise self.errors[symbol]
        return self.closes[symbol]


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The monotonic clock the cache reads (only the cache's: the event loop keeps the real one); the
    test moves it (`[0] += seconds`)."""
    now = [1000.0]
    monkeypatch.setattr("tradewire.services.correlations.time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


async def test_the_open_pairs_moving_with_the_entry_s_pair_are_named_highest_first(
    monotonic: list[float],
) -> None:
    exchange = Candles()
    measure = Correlations(FixedClock(), timeframe="1h", limit=100)

    found = await measure.correlated(
        exchange, "binance", "BTC/USDT", ["SOL/USDT", "AVAX/USDT", "ETH/USDT", "DOGE/USDT"], 0.7
    )
    tighter = await measure.correlated(exchange, "binance", "BTC/USDT", ["AVAX/USDT", "ETH/USDT"], 0.9)
    none = await measure.correlated(exchange, "binance", "BTC/USDT", ["SOL/USDT", "DOGE/USDT"], 0.7)
    own = await measure.correlated(exchange, "binance", "BTC/USDT", ["BTC/USDT"], 0.7)

    assert found == (("ETH/USDT", 1.0), ("AVAX/USDT", 0.8859))
    assert tighter == (("ETH/USDT", 1.0),)
    assert (none, own) == ((), ())
    assert exchange.asked[0] == ("BTC/USDT", "1h", 100)


async def test_closes_are_asked_once_per_exchange_and_symbol_while_cached(monotonic: list[float]) -> None:
    binance, bybit = Candles(), Candles()
    measure = Correlations(FixedClock(), ttl_s=900)

    for _ in range(3):  # many subscribers entering the same pair
        await measure.correlated(binance, "binance", "BTC/USDT", ["ETH/USDT"], 0.7)
    await measure.correlated(bybit, "bybit", "BTC/USDT", ["ETH/USDT"], 0.7)
    monotonic[0] += 899
    await measure.correlated(binance, "binance", "ETH/USDT", ["BTC/USDT"], 0.7)
    asked_within = len(binance.asked)
    monotonic[0] += 1
    again = await measure.correlated(binance, "binance", "BTC/USDT", ["ETH/USDT"], 0.7)

    assert asked_within == 2 and [s for s, _, _ in bybit.asked] == ["BTC/USDT", "ETH/USDT"]
    assert [s for s, _, _ in binance.asked[2:]] == ["BTC/USDT", "ETH/USDT"]  # expired: asked again
    assert [symbol for symbol, _ in again] == ["ETH/USDT"]


async def test_a_pair_the_exchange_cannot_give_candles_for_is_left_out_and_asked_again(
    monotonic: list[float],
) -> None:
    exchange = Candles(errors={"ETH/USDT": ExchangeUnavailable("timeout")})
    measure = Correlations(FixedClock())

    unmeasured = await measure.correlated(exchange, "binance", "BTC/USDT", ["ETH/USDT"], 0.7)
    exchange.errors = {"BTC/USDT": ExchangeError("bad symbol")}  # BTC's closes are cached by now
    measured = await measure.correlated(exchange, "binance", "BTC/USDT", ["ETH/USDT"], 0.7)
    exchange.errors = {"ETH/USDT": ExchangeError("no candles")}
    cached = await measure.correlated(exchange, "binance", "BTC/USDT", ["ETH/USDT"], 0.7)

    assert unmeasured == ()
    assert [symbol for symbol, _ in measured] == ["ETH/USDT"] == [symbol for symbol, _ in cached]
    assert [s for s, _, _ in exchange.asked] == ["BTC/USDT", "ETH/USDT", "ETH/USDT"]


async def test_an_exchange_without_candles_measures_nothing_and_is_not_asked_while_cached(
    monotonic: list[float],
) -> None:
    measure = Correlations(FixedClock())
    plain = MemoryExchange()  # no recent_closes

    found = await measure.correlated(plain, "paper", "BTC/USDT", ["ETH/USDT"], 0.0)
    later = Candles()
    cached = await measure.correlated(later, "paper", "BTC/USDT", ["ETH/USDT"], 0.0)

    assert (found, cached, later.asked) == ((), (), [])
