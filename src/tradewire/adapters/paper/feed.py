"""The paper market-data feed: replays real candles where we have them, simulates prices where we do not."""

from __future__ import annotations

import asyncio
import logging
import math
import zlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

import numpy as np

from tradewire.adapters.candles_parquet import find_series, read_candles, timeframe_of
from tradewire.adapters.paper.catalog import SIMULATED_START_PRICES
from tradewire.domain.candles import Candles, timeframe_ms
from tradewire.domain.markets import Market
from tradewire.domain.money import to_decimal
from tradewire.domain.strategies.confirmation import resample

log = logging.getLogger("tradewire.feed")

DEFAULT_ANNUAL_VOLATILITY = 0.60
_YEAR_MS = 365 * 86_400_000  # crypto trades every day of the year
_NORMALS_PER_BLOCK = 4096
# Far below any start price, and only reachable after absurd runs; keeps "never <= 0" unconditional.
_FLOOR_FRACTION = 1e-9


class PriceSource(Protocol):
    """One symbol's price series: a current close that moves forward one candle per step()."""

    @property
    def label(self) -> str:
        """Where the prices come from, for logs and the UI."""
        ...

    @property
    def simulated(self) -> bool:
        """True if the prices are synthetic rather than recorded market data."""
        ...

    def current(self) -> float:
        """The close of the current candle."""
        ...

    def step(self) -> None:
        """Move to the next candle."""
        ...


class ReplaySource:
    """Walks the closes of real candles in order, looping at the end; gaps simply go to the next row."""

    simulated = False

    def __init__(self, candles: Candles, label: str | None = None) -> None:
        closes = candles.close
        usable = np.isfinite(closes) & (closes > 0)
        if not bool(usable.any()):
            raise ValueError(f"{candles.symbol} {candles.timeframe}: no candle has a usable close")
        # Python floats, not numpy scalars: their repr is the shortest exact text, which Decimal reads,
        # and indexing a list is the cheapest step.
        self._closes: list[float] = closes[usable].tolist()
        self._ts: list[int] = candles.ts[usable].tolist()
        self._candles = Candles(
            symbol=candles.symbol,
            timeframe=candles.timeframe,
            **{c: getattr(candles, c)[usable] for c in ("ts", "open", "high", "low", "close", "volume")},
        )
        # Each loop replays the series shifted by its span, so time only moves forward.
        self._span = int(self._ts[-1] - self._ts[0]) + timeframe_ms(candles.timeframe)
        self._index = 0
        self.loops = 0
        self.label = label or f"candles:{candles.symbol}-{candles.timeframe}"

    def __len__(self) -> int:
        return len(self._closes)

    @property
    def ts(self) -> int:
        """Open time (ms) of the current candle."""
        return self._ts[self._index]

    def current(self) -> float:
        """The close of the current candle."""
        return self._closes[self._index]

    def history(self, limit: int) -> list[float]:
        """The closes of the last `limit` candles up to the current one (none from the future)."""
        return self._closes[max(0, self._index + 1 - limit) : self._index + 1]

    def candles(self, limit: int) -> Candles:
        """The last `limit` candles up to the current one (closed as far as the paper market goes)."""
        window = self._candles.rows(max(0, self._index + 1 - limit), self._index + 1)
        return replace(window, ts=window.ts + self.loops * self._span) if self.loops else window

    def step(self) -> None:
        """Next candle; after the last one, start again from the first."""
        self._index += 1
        if self._index == len(self._closes):
            self._index = 0
            self.loops += 1


class SimulatedSource:
    """Seeded geometric Brownian motion (zero drift) with a crypto-like volatility. Not market data."""

    simulated = True

    def __init__(
        self,
        symbol: str,
        start: float,
        seed: int,
        *,
        timeframe: str = "1m",
        annual_volatility: float = DEFAULT_ANNUAL_VOLATILITY,
    ) -> None:
        if not math.isfinite(start) or start <= 0:
            raise ValueError(f"{symbol}: start price must be positive, got {start}")
        if not math.isfinite(annual_volatility) or annual_volatility < 0:
            raise ValueError(f"{symbol}: volatility must be >= 0, got {annual_volatility}")
        dt = timeframe_ms(timeframe) / _YEAR_MS
        self._sigma = annual_volatility * math.sqrt(dt)
        # Zero drift in the price itself: the log-price drifts by -sigma^2/2 per step.
        self._drift = -0.5 * self._sigma * self._sigma
        # crc32, not hash(): str hashes change between processes, and a seed must replay identically.
        self._rng = np.random.default_rng([seed, zlib.crc32(symbol.encode())])
        self._normals: list[float] = []
        self._next = 0
        self._price = float(start)
        self._floor = float(start) * _FLOOR_FRACTION
        self.seed = seed
        self.timeframe = timeframe
        self.annual_volatility = annual_volatility
        self.label = f"simulated (seed {seed})"

    def current(self) -> float:
        """The simulated close of the current step."""
        return self._price

    def step(self) -> None:
        """One more step of the random walk."""
        if self._next == len(self._normals):
            # Drawing in blocks is much cheaper than one numpy call per step, and just as deterministic.
            self._normals = self._rng.standard_normal(_NORMALS_PER_BLOCK).tolist()
            self._next = 0
        shock = self._normals[self._next]
        self._next += 1
        price = self._price * math.exp(self._drift + self._sigma * shock)
        self._price = price if math.isfinite(price) and price > self._floor else self._floor


class ReplayFeed:
    """Paper market data (the MarketData port): one PriceSource per symbol, advanced together by step().

    last_price() is a dict lookup: the Decimal for each symbol is computed once per step() or set_price().
    """

    def __init__(
        self, sources: Mapping[str, PriceSource], markets: Mapping[str, Market] | None = None
    ) -> None:
        self._sources: dict[str, PriceSource] = dict(sources)
        self._markets: Mapping[str, Market] = markets or {}
        self._pinned: dict[str, Decimal] = {}
        self._live: dict[str, str] = {}  # symbols following a real market: the source's label
        self._prices: dict[str, Decimal] = {}
        for symbol in self._sources:
            self._refresh(symbol)

    def last_price(self, symbol: str) -> Decimal | None:
        """The current close (rounded to the market's tick), a pinned price, or None if unknown."""
        return self._prices.get(symbol)

    def symbols(self) -> list[str]:
        return list(self._prices)

    def source(self, symbol: str) -> str:
        """Where the symbol's prices come from, e.g. 'candles:binance/BTC_USDT-1m.parquet'."""
        if symbol in self._live:
            return self._live[symbol]
        found = self._sources.get(symbol)
        if found is not None:
            return found.label
        if symbol in self._pinned:
            return "pinned"
        raise KeyError(f"no price source for {symbol!r}")

    def is_simulated(self, symbol: str) -> bool:
        """True if the symbol's series is synthetic (a symbol that only has a pinned price is not)."""
        if symbol in self._live:
            return False
        found = self._sources.get(symbol)
        if found is not None:
            return found.simulated
        if symbol in self._pinned:
            return False
        raise KeyError(f"no price source for {symbol!r}")

    def closed_candles(self, symbol: str, timeframe: str, limit: int) -> Candles | None:
        """The replayed candles up to now in `timeframe` (the series' own or a multiple of it, built from
        completed candles only); None for a simulated series or a finer timeframe."""
        found = self._sources.get(symbol)
        if not isinstance(found, ReplaySource):
            return None
        base = found.candles(1)
        base_ms, want_ms = timeframe_ms(base.timeframe), timeframe_ms(timeframe)
        if want_ms == base_ms:
            return found.candles(limit)
        if want_ms < base_ms or want_ms % base_ms:
            return None
        ratio = want_ms // base_ms
        series = resample(found.candles((limit + 1) * ratio), timeframe)
        # The last bucket is complete only once its last base candle has closed.
        if len(series) and series.ts[-1] + want_ms > int(base.ts[-1]) + base_ms:
            series = series.rows(stop=-1)
        return series.rows(max(0, len(series) - limit))

    def recent_closes(self, symbol: str, limit: int) -> list[float] | None:
        """Closes of the replayed candles up to now; None for a simulated or unknown series."""
        found = self._sources.get(symbol)
        return found.history(limit) if isinstance(found, ReplaySource) else None

    def is_pinned(self, symbol: str) -> bool:
        """True while set_price() holds the symbol's price."""
        return symbol in self._pinned

    def step(self) -> None:
        """Advance every series by one candle; pinned symbols keep moving underneath but stay pinned."""
        for symbol, found in self._sources.items():
            found.step()
            if symbol not in self._pinned:
                self._prices[symbol] = self._to_price(symbol, found.current())

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        """Call step() every `interval_s` seconds until `stop` is set."""
        if interval_s <= 0:
            raise ValueError(f"interval must be positive, got {interval_s}")
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval_s)
            except TimeoutError:
                self.step()

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Hold `symbol` at exactly `price` (not rounded) until unpin(); unknown symbols are added."""
        value = to_decimal(price)
        if value <= 0:
            raise ValueError(f"price must be positive, got {price}")
        self._pinned[symbol] = value
        self._prices[symbol] = value

    def unpin(self, symbol: str) -> None:
        """Let the symbol follow its series again (a symbol with no series loses its price)."""
        self._pinned.pop(symbol, None)
        self._live.pop(symbol, None)
        self._refresh(symbol)

    def adopt(self, prices: Mapping[str, Decimal], sources: Mapping[str, str] | None = None) -> None:
        """Take these prices as the current ones (another process runs the market: an API process
        shows the worker's prices, adapters/paper/shared_prices.py); symbols not named keep theirs. A
        source following a real market (`live:<exchange>`) is shown as such, as the worker shows it."""
        for symbol, price in prices.items():
            if price > 0:
                self._prices[symbol] = price
                label = (sources or {}).get(symbol, "")
                if label.startswith("live:"):
                    self._live[symbol] = label
                else:
                    self._live.pop(symbol, None)

    def follow_live(self, symbol: str, price: Decimal, label: str) -> None:
        """Hold `symbol` at a real market price from `label` (e.g. 'live:binance') until unpin()."""
        self.set_price(symbol, price)
        self._live[symbol] = label

    def _refresh(self, symbol: str) -> None:
        found = self._sources.get(symbol)
        if symbol in self._pinned:
            self._prices[symbol] = self._pinned[symbol]
        elif found is not None:
            self._prices[symbol] = self._to_price(symbol, found.current())
        else:
            self._prices.pop(symbol, None)

    def _to_price(self, symbol: str, close: float) -> Decimal:
        price = Decimal(repr(close))
        market = self._markets.get(symbol)
        if market is None:
            return price
        rounded = market.price_to_precision(price)
        # A price below half a tick would round to zero, which no order can use; one tick is the floor.
        return rounded if rounded > 0 else market.price_step


def build_demo_feed(
    data_dir: Path | None,
    markets: Mapping[str, Market],
    seed: int = 7,
    start_prices: Mapping[str, float] = SIMULATED_START_PRICES,
) -> ReplayFeed:
    """A feed for every market: real candles where `data_dir` has them, else a labelled simulation.

    A market with neither candles nor a start price gets no price (logged) rather than an invented one.
    """
    sources: dict[str, PriceSource] = {}
    for symbol in markets:
        path = find_series(data_dir, symbol) if data_dir is not None else None
        if path is not None:
            try:
                replay = ReplaySource(
                    read_candles(path, symbol, timeframe_of(path)),
                    label=f"candles:{path.parent.name}/{path.name}",
                )
            except (OSError, ValueError) as exc:
                log.warning("%s: cannot replay %s (%s); falling back to simulated prices", symbol, path, exc)
            else:
                sources[symbol] = replay
                log.info(
                    "%s: prices from %s (%d candles from %s, replayed in a loop)",
                    symbol,
                    replay.label,
                    len(replay),
                    _iso(replay.ts),
                )
                continue
        start = start_prices.get(symbol)
        if start is None:
            log.warning("%s: no candles and no simulated start price; this market has no price", symbol)
            continue
        simulated = SimulatedSource(symbol, start, seed)
        sources[symbol] = simulated
        log.info(
            "%s: SIMULATED prices, not market data (random walk, %.0f%% annual volatility, %s steps, "
            "seed %d, start %s)",
            symbol,
            simulated.annual_volatility * 100,
            simulated.timeframe,
            seed,
            repr(start),
        )
    return ReplayFeed(sources, markets)


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
