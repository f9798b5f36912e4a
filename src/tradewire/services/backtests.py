"""Backtests for users of the server: checked and stored at once, run one at a time in a worker thread.

`BacktestService.submit` validates a request completely before anything is stored (the strategy and
its parameters, the costs and exit rules, candles for every symbol in the timeframe and the window),
stores it `queued` and hands it to the worker. The worker runs one backtest at a time in a thread
(`asyncio.to_thread`), writing its progress at most a few times per second, then the result
(`BacktestResult.to_json()`: report, trades, thinned equity curve) or the error. A backtest left
`queued` or `running` by a process that stopped is marked failed when the service starts again.

The request and its market data (`BacktestRequest`, `locate`, `load`, `window`) need no database: they
live in `tradewire.services.backtest_request`, shared with the `tradewire backtest` command, and are
re-exported here (with `Confirmed`, from `tradewire.services.backtest_confirmation`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from tradewire.domain.backtest import BacktestResult, run_backtest
from tradewire.domain.candles import Candles
from tradewire.domain.ml.strategy import LightgbmParams, Predictor
from tradewire.ports import Bus
from tradewire.ports.ai import StoredAnalyses
from tradewire.ports.archive import CandleArchive
from tradewire.ports.models import OwnerModels
from tradewire.services.backtest_confirmation import Confirmed
from tradewire.services.backtest_request import (
    MAX_SYMBOLS,
    AnalysisLookup,
    BacktestInputError,
    BacktestRequest,
    ModelLookup,
    from_definition,
    load,
    locate,
    utc,
    window,
)

__all__ = [
    "BACKTEST_QUEUED",
    "INTERRUPTED",
    "MAX_SYMBOLS",
    "PROGRESS_EVERY_S",
    "RESCAN_S",
    "AnalysisLookup",
    "BacktestInputError",
    "BacktestRecords",
    "BacktestRequest",
    "BacktestService",
    "Confirmed",
    "ModelLookup",
    "from_definition",
    "load",
    "locate",
    "result_json",
    "utc",
    "window",
]

log = logging.getLogger("tradewire.backtests")

INTERRUPTED = "interrupted by a restart"
BACKTEST_QUEUED = "backtest.queued"  # {"backtest_id": N}: accepted by an API process, for the worker
RESCAN_S = 30.0  # an idle worker looks for queued backtests this often (a lost hand-over)
PROGRESS_EVERY_S = 0.25

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
