"""Backtests for users of the server: checked and stored at once, run one at a time in a worker thread.

`BacktestService.submit` validates a request completely before anything is stored (the strategy and
its parameters, the costs and exit rules, candles for every symbol in the timeframe and the window),
stores it `queued` and hands it to the worker. The worker runs one backtest at a time in a thread
(`asyncio.to_thread`), writing its progress at most a few times per second, then the result
(`BacktestResult.to_json()`: report, trades, thinned equity curve) or the error. A backtest left
`queued` or `running` by a process that stopped is marked failed when the service starts again.

The helpers without a database (`BacktestRequest`, `locate`, `load`, `window`, `Confirmed`) are shared
with the `tradewire backtest` command, so this module imports no SQL or web code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tradewire.domain.ai.replay import ReplayedAiChart, StoredProposal
from tradewire.domain.ai.strategy import AiChartParams, AiChartStrategy
from tradewire.domain.backtest import BacktestConfig, BacktestResult, run_backtest
from tradewire.domain.candles import Candles, timeframe_ms
from tradewire.domain.exits import ExitRules
from tradewire.domain.ml.strategy import LightgbmParams, LightgbmStrategy, Predictor
from tradewire.domain.sizing import Sizing, SizingMode
from tradewire.domain.strategies.base import Strategy
from tradewire.domain.strategies.builtin import build_strategy
from tradewire.domain.strategies.confirmation import MtfParams
from tradewire.ports import Bus
from tradewire.ports.ai import StoredAnalyses
from tradewire.ports.archive import CandleArchive
from tradewire.ports.models import OwnerModels
from tradewire.services.backtest_confirmation import ConfirmationError, Confirmed, check_confirmation

log = logging.getLogger("tradewire.backtests")

INTERRUPTED = "interrupted by a restart"
BACKTEST_QUEUED = "backtest.queued"  # {"backtest_id": N}: accepted by an API process, for the worker
RESCAN_S = 30.0  # an idle worker looks for queued backtests this often (a lost hand-over)
MAX_SYMBOLS = 50
PROGRESS_EVERY_S = 0.25


# Where a `lightgbm` backtest finds its model: None when the params name none.
ModelLookup = Callable[[LightgbmParams], Predictor | None]
# Where an `ai_chart` backtest finds its strategy's stored proposals (strategy id, timeframe).
AnalysisLookup = Callable[[int, str], list[StoredProposal]]


class BacktestInputError(ValueError):
    """A backtest request that cannot run: the message says what to change."""


# -- the request ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestRequest:
    """What to backtest and how: a built-in strategy, the market data and the account's settings.

    `start` / `end` select candles opening at or after `start` and before `end` (UTC). `stake` is the
    quote amount of every entry (None: BacktestConfig's default). `confirmation` keeps only the entries
    the multi-timeframe confirmation accepts.
    """

    strategy: str
    params: Mapping[str, Any]
    symbols: tuple[str, ...]
    timeframe: str
    start: datetime | None = None
    end: datetime | None = None
    capital: float = 10_000.0
    fee: float = 0.001
    slippage: float = 0.0
    stake: float | None = None
    exit_rules: ExitRules = field(default_factory=ExitRules)
    confirmation: MtfParams | None = None
    strategy_id: int | None = None

    def build(
        self, models: ModelLookup | None = None, analyses: AnalysisLookup | None = None
    ) -> tuple[Strategy, BacktestConfig]:
        """The strategy and the engine's configuration; BacktestInputError says what is wrong.

        A `lightgbm` strategy gets its model from `models` (none there: BacktestInputError), an
        `ai_chart` strategy its stored analyses from `analyses`.
        """
        try:
            strategy: Strategy = build_strategy(self.strategy, self.params)
            config = self.config()
        except ValueError as exc:
            raise BacktestInputError(str(exc)) from None
        if isinstance(strategy, AiChartStrategy):
            if self.strategy_id is None or analyses is None:
                raise BacktestInputError(
                    "ai_chart replays a strategy's stored analyses: give its strategy_id"
                )
            assert isinstance(strategy.params, AiChartParams)
            strategy = ReplayedAiChart(strategy.params, analyses(self.strategy_id, self.timeframe))
        if isinstance(strategy, LightgbmStrategy):
            assert isinstance(strategy.params, LightgbmParams)
            predictor = None if models is None else models(strategy.params)
            if predictor is None:
                named = strategy.params.model_id or f"for {strategy.params.model_symbol}"
                raise BacktestInputError(f"lightgbm: no model {named} of yours")
            strategy = strategy.with_predictor(predictor)
        if self.confirmation is not None:
            try:
                check_confirmation(self.confirmation, self.timeframe)
            except ConfirmationError as exc:
                raise BacktestInputError(str(exc)) from None
            strategy = Confirmed(strategy, self.confirmation)
        return strategy, config

    def config(self) -> BacktestConfig:
        try:
            timeframe_ms(self.timeframe)
        except ValueError as exc:
            raise BacktestInputError(str(exc)) from None
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise BacktestInputError(
                f"end ({self.end.isoformat()}) must be after start ({self.start.isoformat()})"
            )
        sizing = (
            Sizing(SizingMode.FIXED_QUOTE, Decimal(repr(self.stake)))
            if self.stake is not None
            else BacktestConfig().sizing
        )
        return BacktestConfig(
            initial_capital=self.capital,
            fee_rate=self.fee,
            slippage=self.slippage,
            sizing=sizing,
            exit_rules=self.exit_rules,
            timeframe=self.timeframe,
        )

    def row(self) -> dict[str, Any]:
        """The stored form (the `backtests` columns it fills)."""
        mtf = self.confirmation
        return {
            "strategy_id": self.strategy_id,
            "strategy_name": self.strategy,
            "params": dict(self.params),
            "symbols": list(self.symbols),
            "timeframe": self.timeframe,
            "config": {
                "initial_capital": self.capital,
                "fee_rate": self.fee,
                "slippage": self.slippage,
                "stake": self.stake,
                "exit_rules": self.exit_rules.as_json(),
                "start": _iso(self.start),
                "end": _iso(self.end),
                "confirmation": None if mtf is None else mtf.model_dump(mode="json"),
            },
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> BacktestRequest:
        config = row["config"]
        confirmation = config.get("confirmation")
        return cls(
            strategy=row["strategy_name"],
            params=row["params"],
            symbols=tuple(row["symbols"]),
            timeframe=row["timeframe"],
            start=_parse_iso(config.get("start")),
            end=_parse_iso(config.get("end")),
            capital=float(config["initial_capital"]),
            fee=float(config["fee_rate"]),
            slippage=float(config["slippage"]),
            stake=None if config.get("stake") is None else float(config["stake"]),
            exit_rules=ExitRules.from_json(config.get("exit_rules")),
            confirmation=None if confirmation is None else MtfParams.model_validate(confirmation),
            strategy_id=row.get("strategy_id"),
        )

    def title(self) -> str:
        return f"{self.strategy} {', '.join(self.symbols)} {self.timeframe}"


def from_definition(definition: Mapping[str, Any] | None, strategy_id: int) -> dict[str, Any]:
    """A strategy's stored indicator definition as request fields (strategy, params, symbols, ...)."""
    if not definition or not definition.get("builtin"):
        raise BacktestInputError(
            f"strategy {strategy_id} has no indicator definition naming a built-in strategy "
            "(webhook strategies cannot be backtested); give a strategy name and params instead"
        )
    fields: dict[str, Any] = {
        "strategy": str(definition["builtin"]),
        "params": dict(definition.get("params") or {}),
    }
    if definition.get("timeframe"):
        fields["timeframe"] = str(definition["timeframe"])
    if definition.get("symbols"):
        fields["symbols"] = tuple(str(s) for s in definition["symbols"])
    if definition.get("confirmation"):
        try:
            fields["confirmation"] = MtfParams.model_validate(definition["confirmation"])
        except ValueError as exc:
            raise BacktestInputError(f"strategy {strategy_id}: invalid confirmation: {exc}") from None
    return fields


# -- market data ------------------------------------------------------------------------------------


def locate(archive: CandleArchive, symbols: Sequence[str], timeframe: str) -> dict[str, Path]:
    """Every symbol's candle file in `timeframe` in `archive`; BacktestInputError if one is missing."""
    if not symbols:
        raise BacktestInputError("give at least one symbol")
    if len(symbols) > MAX_SYMBOLS:
        raise BacktestInputError(f"at most {MAX_SYMBOLS} symbols per backtest, got {len(symbols)}")
    if len(set(symbols)) != len(symbols):
        raise BacktestInputError(f"symbols must be distinct, got {', '.join(symbols)}")
    found: dict[str, Path] = {}
    missing: list[str] = []
    for symbol in symbols:
        try:
            path = archive.find(symbol, timeframe)
        except ValueError as exc:
            raise BacktestInputError(str(exc)) from None
        if path is None:
            missing.append(symbol)
        else:
            found[symbol] = path
    if missing:
        raise BacktestInputError(f"no {timeframe} candles for {', '.join(missing)} on this server")
    return found


def load(
    archive: CandleArchive,
    paths: Mapping[str, Path],
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, Candles]:
    """Read every file and keep the window; BacktestInputError for an unreadable file or no candles."""
    series: dict[str, Candles] = {}
    for symbol, path in paths.items():
        try:
            candles = archive.read(path, symbol, timeframe)
        except ValueError as exc:
            raise BacktestInputError(str(exc)) from None
        except OSError as exc:
            raise BacktestInputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        series[symbol] = window(candles, start, end)
    if not any(len(c) for c in series.values()):
        raise BacktestInputError(f"no candles{_between(start, end)} for {', '.join(paths)}")
    return series


def window(candles: Candles, start: datetime | None, end: datetime | None) -> Candles:
    """The candles opening at or after `start` and before `end` (views, no copy)."""
    if start is None and end is None:
        return candles
    first = 0 if start is None else int(np.searchsorted(candles.ts, _ms(start), side="left"))
    stop = len(candles) if end is None else int(np.searchsorted(candles.ts, _ms(end), side="left"))
    return candles.rows(first, max(first, stop))


def utc(value: datetime) -> datetime:
    """A datetime in UTC; a naive one is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ms(value: datetime) -> int:
    return int(utc(value).timestamp() * 1000)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else utc(value).isoformat()


def _parse_iso(value: str | None) -> datetime | None:
    return None if value is None else utc(datetime.fromisoformat(value))


def _between(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return ""
    return f" between {_iso(start) or 'the start'} and {_iso(end) or 'the end'}"


# -- the service ------------------------------------------------------------------------------------


class BacktestRecords(Protocol):
    """What the service needs of the store (adapters/store/backtests.py: SqlBacktests)."""

    def create(self, values: dict[str, Any]) -> int: ...
    def get(self, user_id: int, backtest_id: int, with_result: bool = True) -> dict[str, Any]: ...
    def of_strategy(
        self, user_id: int, strategy_id: int, limit: int = 100, before_id: int | None = None
    ) -> list[dict[str, Any]]: ...
    def strategy_definition(self, user_id: int, strategy_id: int) -> dict[str, Any] | None: ...
    def claim(self, backtest_id: int, now: datetime) -> dict[str, Any] | None: ...
    def set_progress(self, backtest_id: int, progress: float, now: datetime) -> None: ...
    def finish(self, backtest_id: int, result: dict[str, Any], now: datetime) -> None: ...
    def fail(self, backtest_id: int, error: str, now: datetime) -> None: ...
    def fail_unfinished(self, error: str, now: datetime) -> int: ...
    def queued_ids(self, limit: int = 1000) -> list[int]: ...


class _Clock(Protocol):
    def now(self) -> datetime: ...


class _Aborted(Exception):
    """The service is stopping: the running backtest gives up (a restart marks it failed)."""


class BacktestService:
    """Accepts backtests and runs them in the background, one at a time per process."""

    def __init__(
        self,
        store: BacktestRecords,
        clock: _Clock,
        archive: CandleArchive | None,
        progress_every_s: float = PROGRESS_EVERY_S,
        models: OwnerModels | None = None,
        analyses: StoredAnalyses | None = None,
        runs_here: bool = True,
        bus: Bus | None = None,
        rescan_s: float = RESCAN_S,
    ) -> None:
        # False in an API process beside workers (TRADEWIRE_ROLE=api): it stores what it accepts and
        # hands it to the active worker on `bus`; the worker runs it (`on_queued`).
        self.runs_here = runs_here
        self.bus = bus
        self.rescan_s = rescan_s
        self._pending: set[int] = set()  # queued here, not finished
        self.store = store
        self.models = models
        self.analyses = analyses
        self.clock = clock
        self.archive = archive
        self.progress_every_s = progress_every_s
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._running: asyncio.Future[None] | None = None
        self._abort = threading.Event()

    async def start(self) -> None:
        """Fail what a previous process left running, queue what it accepted and never started, then
        start the worker (where backtests run: not in an API process beside workers)."""
        if not self.runs_here:
            return
        self._abort.clear()
        self._queue = asyncio.Queue()
        self._pending = set()
        left = await asyncio.to_thread(self.store.fail_unfinished, INTERRUPTED, self.clock.now())
        if left:
            log.warning("%d backtest(s) left running by the previous process marked failed", left)
        for backtest_id in await asyncio.to_thread(self.store.queued_ids):
            self._enqueue(backtest_id)
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def on_queued(self, message: Mapping[str, Any]) -> None:
        """An API process accepted a backtest: run it here (in turn)."""
        self._enqueue(int(message["backtest_id"]))

    def _enqueue(self, backtest_id: int) -> None:
        if backtest_id not in self._pending:
            self._pending.add(backtest_id)
            self._queue.put_nowait(backtest_id)

    async def stop(self) -> None:
        """Stop the worker; a backtest still running gives up at its next progress report."""
        self._abort.set()
        if self._running is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._running), timeout=30)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def resolve(self, user_id: int, strategy_id: int) -> dict[str, Any]:
        """The request fields a strategy's definition gives (NotFound for a strategy the user cannot see)."""
        definition = await asyncio.to_thread(self.store.strategy_definition, user_id, strategy_id)
        return from_definition(definition, strategy_id)

    async def submit(self, user_id: int, request: BacktestRequest) -> int:
        """Check the request completely, store it queued and queue it; its id.

        Raises BacktestInputError (nothing stored) when it cannot run.
        """
        await asyncio.to_thread(request.build, self._models_of(user_id), self._analyses_of(user_id))
        await asyncio.to_thread(self._candles, request)
        now = self.clock.now()
        values = {
            **request.row(),
            "user_id": user_id,
            "status": "queued",
            "progress": 0.0,
            "created_at": now,
            "updated_at": now,
        }
        backtest_id: int = await asyncio.to_thread(self.store.create, values)
        if self.runs_here:
            self._enqueue(backtest_id)
        elif self.bus is not None:  # a lost message: the worker finds it queued within rescan_s
            await self.bus.publish(BACKTEST_QUEUED, {"backtest_id": backtest_id})
        return backtest_id

    async def _work(self) -> None:
        # Ends when stopping (the abort), not only by cancellation: wait_for may swallow a cancel that
        # arrives as the queue hands out an item (Python 3.11), and what is left stays queued.
        while not self._abort.is_set():
            try:
                backtest_id = await asyncio.wait_for(self._queue.get(), self.rescan_s)
            except TimeoutError:  # idle: anything queued whose hand-over was lost
                for found in await asyncio.to_thread(self.store.queued_ids):
                    self._enqueue(found)
                continue
            if self._abort.is_set():
                return
            self._running = asyncio.ensure_future(asyncio.to_thread(self._run_one, backtest_id))
            try:
                # Shielded: cancelling the worker (stop) must not lose track of the thread still running.
                await asyncio.shield(self._running)
            except Exception:
                log.exception("backtest %d: the worker failed", backtest_id)
            finally:
                self._pending.discard(backtest_id)
                if self._running.done():
                    self._running = None

    def _run_one(self, backtest_id: int) -> None:
        """Run one backtest in this (worker) thread and store its outcome."""
        if self._abort.is_set():  # stopping: it stays queued for the next start, never begun
            return
        row = self.store.claim(backtest_id, self.clock.now())
        if row is None:
            return
        started = time.monotonic()
        try:
            request = BacktestRequest.from_row(row)
            user_id = row.get("user_id")
            strategy, config = request.build(self._models_of(user_id), self._analyses_of(user_id))
            candles = self._candles(request)
            result = run_backtest(strategy, candles, config, progress=self._progress(backtest_id))
        except _Aborted:
            log.info("backtest %d: interrupted by the shutdown", backtest_id)
            return
        except ValueError as exc:
            self.store.fail(backtest_id, str(exc), self.clock.now())
            return
        except Exception as exc:
            log.exception("backtest %d failed", backtest_id)
            self.store.fail(backtest_id, f"internal error: {type(exc).__name__}: {exc}", self.clock.now())
            return
        self.store.finish(backtest_id, result_json(result), self.clock.now())
        log.info(
            "backtest %d done in %.2f s: %d trades (%s path)",
            backtest_id,
            time.monotonic() - started,
            len(result.trades),
            result.path,
        )

    def _models_of(self, user_id: int | None) -> ModelLookup | None:
        """The user's models, for `lightgbm` backtests."""
        models = self.models
        if models is None or user_id is None:
            return None

        def lookup(params: LightgbmParams) -> Predictor | None:
            found = models.model_of_owner(user_id, params)
            return None if found is None else found.predictor

        return lookup

    def _analyses_of(self, user_id: int | None) -> AnalysisLookup | None:
        """The user's strategies' stored proposals, for `ai_chart` backtests."""
        store = self.analyses
        if store is None or user_id is None:
            return None
        return lambda strategy_id, timeframe: store.proposals(user_id, strategy_id, timeframe)

    def candles_of(self, row: Mapping[str, Any]) -> dict[str, Candles] | None:
        """The candles a stored backtest ran on, read again (for its chart); None when they are no
        longer on this server or no longer readable."""
        try:
            return self._candles(BacktestRequest.from_row(row))
        except ValueError as exc:
            log.info("backtest %s: its candles cannot be read again: %s", row.get("id"), exc)
            return None

    def _candles(self, request: BacktestRequest) -> dict[str, Candles]:
        if self.archive is None:
            raise BacktestInputError("no market data on this server: set TRADEWIRE_DATA_DIR")
        paths = locate(self.archive, request.symbols, request.timeframe)
        return load(self.archive, paths, request.timeframe, request.start, request.end)

    def _progress(self, backtest_id: int) -> Callable[[float], None]:
        last = [time.monotonic()]

        def report(fraction: float) -> None:
            if self._abort.is_set():
                raise _Aborted
            now = time.monotonic()
            if fraction < 1.0 and now - last[0] >= self.progress_every_s:
                last[0] = now
                self.store.set_progress(backtest_id, round(min(max(fraction, 0.0), 1.0), 4), self.clock.now())

        return report


def result_json(result: BacktestResult) -> dict[str, Any]:
    """What is stored of a result: report, trades and the equity curve thinned to about 2,000 points."""
    return result.to_json()
