"""The server runs the platform's own strategies: on every closed candle of each published indicator
strategy (and bot), compute its signals on the candles so far and emit the new one as a signal,
routed to its subscribers exactly like a TradingView alert."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import numpy as np
from pydantic import ValidationError

from tradewire.domain.ai.strategy import AiChartStrategy
from tradewire.domain.candles import Candles, timeframe_ms
from tradewire.domain.ml.strategy import LightgbmParams, LightgbmStrategy
from tradewire.domain.signals import SignalAction
from tradewire.domain.strategies.base import Signals, Strategy
from tradewire.domain.strategies.confirmation import Confirmation, confirm
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.ports import CandleSource, Clock, SignalStore
from tradewire.ports.models import ModelSource
from tradewire.ports.ownership import Ownership
from tradewire.services.chart_analyst import ChartAnalyst
from tradewire.services.ingest import SignalIngest
from tradewire.services.loops import every
from tradewire.services.ownership import AllMine

log = logging.getLogger("tradewire.strategies")

RECOVERY_CANDLES = 3  # after a start, the candles re-evaluated for signals missed while down
SECONDS = "1s"  # the timeframe built from exchanges' public trade streams (adapters/live/trade_candles.py)


@dataclass
class PendingEntry:
    """A bot's entry waiting out its confirmation period."""

    candle_ts: int
    since: datetime
    price: Decimal
    temperature: int
    details: dict[str, Any]


@dataclass
class _Loaded:
    definition: StrategyDefinition
    strategy: Strategy
    raw: dict[str, Any]
    model: tuple[int, int] | None = None  # a lightgbm strategy's (model id, version) in use


class _Series(NamedTuple):
    """One strategy's signals on one symbol's candles."""

    strategy_id: int
    definition: StrategyDefinition
    symbol: str
    candles: Candles
    signals: Signals


@dataclass(slots=True, eq=False)
class StrategyRunner:
    """Evaluates every published built-in strategy on the candles it watches, once per closed candle.

    Definitions are read again on every tick, so a changed bot or strategy applies at once, without a
    restart. A signal's dedup key is the strategy, pair, timeframe, candle and action: evaluating the
    same candle again (after a restart) finds the signal already stored and sends nothing twice.
    Bots add their rules: an entry needs `min_temperature` (its multi-timeframe score), must hold for
    `confirmation_minutes` (no exit signal meanwhile), and waits out `cooldown_minutes` after the
    bot's last signal on the pair. Exits go at once.
    """

    store: SignalStore
    ingest: SignalIngest
    candles: Callable[[str], CandleSource | None]
    clock: Clock
    interval_s: float = 5.0
    models: ModelSource | None = None  # where `lightgbm` strategies get their model
    analyst: ChartAnalyst | None = None  # what runs `ai_chart` strategies
    # Told, on every load, which symbols of which exchange the enabled 1 s strategies watch, so only
    # those are streamed: {exchange id: symbols}.
    follow_trades: Callable[[Mapping[str, frozenset[str]]], None] | None = None
    seconds_interval_s: float = 0.5  # how often 1 s strategies look for newly closed candles
    # Several active workers: a strategy on an exchange's candles is evaluated by the owner of its
    # partition (strategy id % partitions), one on the paper market's by the leader (whose market it is).
    ownership: Ownership = field(default_factory=AllMine)
    _loaded: dict[int, _Loaded] = field(init=False, default_factory=dict)
    # The last candle evaluated per (strategy, pair), and entries waiting out their confirmation.
    _seen: dict[tuple[int, str], int] = field(init=False, default_factory=dict)
    _pending: dict[tuple[int, str], PendingEntry] = field(init=False, default_factory=dict)
    _broken: dict[int, str] = field(init=False, default_factory=dict)  # invalid definitions, logged once

    async def tick(self) -> int:
        """One round over every strategy and pair; returns how many signals were emitted."""
        return await self._round(await self._load(), None)

    async def tick_seconds(self) -> int:
        """One round over the 1 s strategies only, on the definitions last loaded (the slower round
        reloads them), so each closed second is evaluated soon after it closes."""
        return await self._round(dict(self._loaded), True)

    async def _round(self, strategies: dict[int, _Loaded], seconds: bool | None) -> int:
        """Evaluate `strategies`: only the 1 s ones (`seconds` True), all but them (False), or all."""
        emitted = 0
        mine = await self._mine()
        for strategy_id, loaded in strategies.items():
            definition = loaded.definition
            if not definition.enabled or not mine(strategy_id, definition):
                continue
            if seconds is not None and (definition.timeframe == SECONDS) != seconds:
                continue
            if definition.timeframe == SECONDS and definition.candles_from == "paper":
                if self._broken.get(strategy_id) != "paper seconds":
                    log.error(
                        "strategy %s: 1s candles come from an exchange's trade stream; paper has none, "
                        "skipped",
                        strategy_id,
                    )
                    self._broken[strategy_id] = "paper seconds"
                continue
            source = self.candles(definition.candles_from)
            if source is None:
                continue
            if isinstance(loaded.strategy, AiChartStrategy):
                emitted += await self._ai_cycle(strategy_id, definition, source)
                continue
            for symbol in definition.symbols:
                try:
                    emitted += await self._evaluate(strategy_id, loaded, source, symbol)
                except Exception:
                    log.exception("strategy %s on %s: evaluation failed", strategy_id, symbol)
        return emitted

    async def _ai_cycle(self, strategy_id: int, definition: StrategyDefinition, source: CandleSource) -> int:
        """An `ai_chart` strategy's look at its symbols (services/chart_analyst.py)."""
        if self.analyst is None:
            if self._broken.get(strategy_id) != "no analyst":
                log.error("strategy %s: AI chart analysis is not available on this server", strategy_id)
                self._broken[strategy_id] = "no analyst"
            return 0
        try:
            return await self.analyst.cycle(strategy_id, definition, source)
        except Exception:
            log.exception("strategy %s: AI chart cycle failed", strategy_id)
            return 0

    async def run(self, stop: asyncio.Event) -> None:
        async def others() -> int:
            return await self._round(await self._load(), False)

        await asyncio.gather(
            every(self.interval_s, stop, others, "strategy runner tick", log),
            every(self.seconds_interval_s, stop, self.tick_seconds, "strategy runner 1s tick", log),
        )

    async def _load(self) -> dict[int, _Loaded]:
        rows = await asyncio.to_thread(self.store.strategy_definitions)
        loaded: dict[int, _Loaded] = {}
        for strategy_id, raw in rows:
            known = self._loaded.get(strategy_id)
            if known is not None and known.raw == raw:
                loaded[strategy_id] = known
                continue
            try:
                definition = StrategyDefinition.model_validate(raw)
                loaded[strategy_id] = _Loaded(definition, definition.build(), raw)
            except (ValidationError, ValueError) as exc:
                if self._broken.get(strategy_id) != str(exc):
                    log.error("strategy %s: its definition is not valid, skipped: %s", strategy_id, exc)
                    self._broken[strategy_id] = str(exc)
                continue
            if known is not None:
                log.info("strategy %s: definition changed, applied", strategy_id)
                self._forget(strategy_id)
        self._loaded = loaded
        await self._follow(loaded)
        return loaded

    async def _mine(self) -> Callable[[int, StrategyDefinition], bool]:
        """Which strategies this process evaluates now (every one, unless workers share them)."""
        async with self.ownership.hold() as partitions:
            leader = self.ownership.leader
        if partitions is None:
            return lambda _strategy_id, _definition: True

        def mine(strategy_id: int, definition: StrategyDefinition) -> bool:
            if definition.candles_from == "paper":
                return leader
            return strategy_id % partitions.count in partitions.owned

        return mine

    async def _follow(self, loaded: dict[int, _Loaded]) -> None:
        if self.follow_trades is None:
            return
        mine = await self._mine()
        wanted: dict[str, set[str]] = {}
        for strategy_id, item in loaded.items():
            definition = item.definition
            if not mine(strategy_id, definition):
                continue
            if definition.enabled and definition.timeframe == SECONDS and definition.candles_from != "paper":
                wanted.setdefault(definition.candles_from, set()).update(definition.symbols)
        try:
            self.follow_trades({name: frozenset(symbols) for name, symbols in wanted.items()})
        except Exception:
            log.exception("could not start or stop trade streams for 1s strategies")

    def _forget(self, strategy_id: int) -> None:
        for key in [k for k in self._seen if k[0] == strategy_id]:
            del self._seen[key]
        for key in [k for k in self._pending if k[0] == strategy_id]:
            del self._pending[key]

    async def _model(self, strategy_id: int, loaded: _Loaded) -> bool:
        """A `lightgbm` strategy with its model's current version (looked up on every evaluation, so
        pointing it at a new version applies at the next candle); False when it has none."""
        strategy = loaded.strategy
        if not isinstance(strategy, LightgbmStrategy):
            return True
        params = strategy.params
        assert isinstance(params, LightgbmParams)
        found = (
            None
            if self.models is None
            else await asyncio.to_thread(self.models.model_for, strategy_id, params)
        )
        if found is None:
            if self._broken.get(strategy_id) != "no model":
                log.error("strategy %s: its model is not available, skipped", strategy_id)
                self._broken[strategy_id] = "no model"
            return False
        if loaded.model != (found.model_id, found.version):
            if loaded.model is not None:
                log.info(
                    "strategy %s: model %s version %s applied", strategy_id, found.model_id, found.version
                )
            loaded.strategy = strategy.with_predictor(found.predictor)
            loaded.model = (found.model_id, found.version)
        self._broken.pop(strategy_id, None)
        return True

    async def _evaluate(self, strategy_id: int, loaded: _Loaded, source: CandleSource, symbol: str) -> int:
        definition = loaded.definition
        if not await self._model(strategy_id, loaded):
            return 0
        key = (strategy_id, symbol)
        candles = await source.closed_candles(symbol, definition.timeframe, definition.history)
        if candles is None or len(candles) <= loaded.strategy.warmup:
            return 0
        last = int(candles.ts[-1])
        seen = self._seen.get(key)
        fresh = seen != last
        self._seen[key] = last
        if not fresh and key not in self._pending:
            return 0
        series = _Series(strategy_id, definition, symbol, candles, loaded.strategy.signals(candles))
        emitted = 0
        if fresh:
            # Every candle closed since the last look, in order (a slow round or a fast market may
            # close several); after a start, the last few, so a signal due while the server was down
            # still goes (once: the dedup key finds those already sent).
            first = (
                int(np.searchsorted(candles.ts, seen, side="right"))
                if seen is not None
                else len(candles) - RECOVERY_CANDLES
            )
            for i in range(max(first, loaded.strategy.warmup), len(candles)):
                emitted += await self._on_candle(series, i)
        if key in self._pending:
            emitted += await self._confirm_pending(series)
        return emitted

    async def _on_candle(self, series: _Series, i: int) -> int:
        strategy_id, definition, symbol, candles, signals = series
        price = Decimal(repr(float(candles.close[i])))
        closed_at = datetime.fromtimestamp(
            (int(candles.ts[i]) + timeframe_ms(definition.timeframe)) / 1000, tz=UTC
        )
        details: dict[str, Any] = {
            "source": "strategy",
            "builtin": definition.builtin,
            "timeframe": definition.timeframe,
            "candle": datetime.fromtimestamp(int(candles.ts[i]) / 1000, tz=UTC).isoformat(),
        }
        if signals.confidence is not None and signals.confidence[i] == signals.confidence[i]:
            details["confidence"] = round(min(max(float(signals.confidence[i]), 0.0), 1.0), 4)
        if bool(signals.exits[i]):
            self._pending.pop((strategy_id, symbol), None)
            return await self._emit(series, SignalAction.EXIT, price, closed_at, details, i)
        if not bool(signals.entries[i]):
            return 0
        for name, levels in (("stop_loss", signals.stop_loss), ("take_profit", signals.take_profit)):
            if levels is not None and levels[i] == levels[i]:  # NaN: no level
                details[name] = str(Decimal(repr(float(levels[i]))))
        verdict = self._confirmation(definition, candles, i)
        if verdict is not None:
            details["confirmation"] = verdict.as_json()
            if definition.confirmation is not None and not definition.confirmation.accepts(verdict):
                log.info("strategy %s %s: entry skipped, %s priority", strategy_id, symbol, verdict.priority)
                return 0
        bot = definition.bot
        if bot is None:
            return await self._emit(series, SignalAction.BUY, price, closed_at, details, i)
        temperature = verdict.score if verdict is not None else 0
        details["temperature"] = temperature
        if temperature < bot.min_temperature:
            log.info(
                "bot %s %s: entry too cold (%s < %s)", strategy_id, symbol, temperature, bot.min_temperature
            )
            return 0
        # The confirmation period runs from the candle's close, not from when the server saw it: a
        # restart rebuilds the same pending entry from the candles and keeps its clock.
        self._pending[(strategy_id, symbol)] = PendingEntry(
            int(candles.ts[i]), closed_at, price, temperature, details
        )
        return 0

    async def _confirm_pending(self, series: _Series) -> int:
        """A bot's entry goes once it has held for the confirmation period and the cooldown is over."""
        strategy_id, definition, symbol, candles, signals = series
        key = (strategy_id, symbol)
        pending = self._pending[key]
        bot = definition.bot
        assert bot is not None
        after = candles.ts > pending.candle_ts
        if bool(signals.exits[after].any()):
            del self._pending[key]
            log.info("bot %s %s: entry did not hold (an exit signal followed)", strategy_id, symbol)
            return 0
        now = self.clock.now()
        if now - pending.since < timedelta(minutes=bot.confirmation_minutes):
            return 0
        last = await asyncio.to_thread(self.store.last_signal_at, strategy_id, symbol)
        if last is not None and now - last < timedelta(minutes=bot.cooldown_minutes):
            return 0  # still pending: it goes when the cooldown ends, if it still holds
        del self._pending[key]
        details = {**pending.details, "held_minutes": round((now - pending.since).total_seconds() / 60, 1)}
        return await self._emit(
            series, SignalAction.BUY, pending.price, pending.since, details, candle_ts=pending.candle_ts
        )

    def _confirmation(self, definition: StrategyDefinition, candles: Candles, i: int) -> Confirmation | None:
        timeframes = (
            tuple(definition.confirmation.timeframes)
            if definition.confirmation is not None
            else (definition.timeframe,)
            if definition.bot is not None
            else None
        )
        if timeframes is None:
            return None
        return confirm(candles, i, timeframes)

    async def _emit(
        self,
        series: _Series,
        action: SignalAction,
        price: Decimal,
        at: datetime,
        details: dict[str, Any],
        index: int | None = None,
        candle_ts: int | None = None,
    ) -> int:
        strategy_id, _, symbol, candles, _ = series
        ts = candle_ts if candle_ts is not None else int(candles.ts[-1 if index is None else index])
        material = f"strategy:{strategy_id}:{symbol}:{candles.timeframe}:{ts}:{action.value}"
        ingested = await self.ingest.receive_strategy_signal(
            strategy_id, action, symbol, price, at, details, material
        )
        return 0 if ingested.duplicate else 1
