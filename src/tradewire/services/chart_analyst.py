"""The AI chart cycle: at each candle close of an `ai_chart` strategy, a vision model reads a chart
of every symbol not analysed yet for that candle, and the best proposals become signals.

Per symbol and candle: the day's token budget is checked (spent: the analysis is recorded `skipped`
and no call is made), the chart is rendered, the candle is claimed in the database (unique per
strategy, symbol, timeframe and candle: a restart or a second process finds it taken and pays for
nothing), and the model is asked, at most `max_concurrent` at a time. A proposal is traded when it
parses, its levels make sense at the close, its confidence reaches the threshold and its levels'
reward/risk the floor. Those of one candle are ranked by confidence and emitted in that order, each
signal carrying entry, stop, target, confidence and the analysis id; from there the signal fans out
to subscribers, risk and sizing like any other. On spot, BUY is an entry, SELL an exit (the
subscribers' open position, if any), HOLD nothing.

The budget is checked before each call, so up to `max_concurrent - 1` calls in flight may overshoot
it by their cost. An analysis whose process dies mid-call is not asked again: at the next start, one
still pending after `stale_after_s` is marked failed, never traded.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from tradewire.domain.ai.proposal import ChartProposal, Recommendation
from tradewire.domain.ai.strategy import TRADED, AiChartParams, verdict
from tradewire.domain.candles import Candles, timeframe_ms
from tradewire.domain.signals import SignalAction
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.ports import CandleSource, Clock
from tradewire.ports.ai import (
    AiStore,
    AnalysisResult,
    AnalysisStatus,
    ChartRenderer,
    EndpointAccess,
    NewAnalysis,
    Prompt,
    VisionAnswer,
    VisionModel,
)
from tradewire.ports.two_factor import SecretSealer
from tradewire.services.ingest import SignalIngest

log = logging.getLogger("tradewire.ai")


def key_context(endpoint_id: int) -> str:
    """What an endpoint's sealed key is bound to (so it cannot be moved to another row)."""
    return f"ai_endpoint:{endpoint_id}:api_key"


@dataclass(frozen=True, slots=True)
class _Setup:
    strategy_id: int
    definition: StrategyDefinition
    params: AiChartParams
    access: EndpointAccess
    prompt: Prompt


@dataclass(frozen=True, slots=True)
class _Proposal:
    analysis_id: int
    symbol: str
    candles: Candles
    proposal: ChartProposal
    confidence: Decimal


@dataclass(slots=True, eq=False)
class ChartAnalyst:
    """Runs the cycle of `ai_chart` strategies for the strategy runner."""

    store: AiStore
    vision: VisionModel
    render: ChartRenderer
    sealer: SecretSealer | None
    ingest: SignalIngest
    clock: Clock
    # The newest candle handled per (strategy, symbol): saves a query per tick; the database decides.
    _done: dict[tuple[int, str], int] = field(init=False, default_factory=dict)
    _broken: dict[int, str] = field(init=False, default_factory=dict)
    # A call takes the vision timeout at most (twice: a malformed answer is asked again): a pending
    # analysis older than this has no process waiting for it any more.
    stale_after_s: float = 600.0

    async def recover(self) -> int:
        """At start: analyses a dead process left pending are marked failed (they were not traded)."""
        now = self.clock.now()
        cutoff = now - timedelta(seconds=self.stale_after_s)
        why = "the server stopped while the model was being asked: not traded"
        failed = await asyncio.to_thread(self.store.fail_stale_analyses, cutoff, why, now)
        if failed:
            log.warning("%d AI analyses left pending by a stopped process marked failed", failed)
        return failed

    async def cycle(self, strategy_id: int, definition: StrategyDefinition, source: CandleSource) -> int:
        """One look at every symbol of the strategy; returns how many signals were emitted."""
        params = definition.build().params
        assert isinstance(params, AiChartParams)
        fresh: list[Candles] = []
        for symbol in definition.symbols:
            candles = await source.closed_candles(symbol, definition.timeframe, definition.history)
            if candles is None or len(candles) <= definition.build().warmup:
                continue
            if self._done.get((strategy_id, symbol)) != int(candles.ts[-1]):
                fresh.append(candles)
        if not fresh:
            return 0
        setup = await self._setup(strategy_id, definition, params)
        if setup is None:
            return 0
        gate = asyncio.Semaphore(params.max_concurrent)
        found = await asyncio.gather(*(self._analyse(setup, candles, gate) for candles in fresh))
        ranked = sorted((p for p in found if p is not None), key=lambda p: p.confidence, reverse=True)
        emitted = 0
        for rank, proposal in enumerate(ranked, start=1):
            emitted += await self._emit(setup, proposal, rank)
        return emitted

    async def _setup(
        self, strategy_id: int, definition: StrategyDefinition, params: AiChartParams
    ) -> _Setup | None:
        """The endpoint (key decrypted) and prompt the strategy names; None (logged once) without."""
        endpoint = await asyncio.to_thread(self.store.endpoint_for_strategy, strategy_id, params.endpoint_id)
        prompt = await asyncio.to_thread(
            self.store.prompt_for_strategy, strategy_id, params.prompt, params.prompt_version
        )
        problem = None
        if endpoint is None:
            problem = f"its owner has no AI endpoint {params.endpoint_id} with a key"
        elif prompt is None:
            problem = (
                f"its owner has no prompt {params.prompt!r} (version {params.prompt_version or 'latest'})"
            )
        elif self.sealer is None:
            problem = "the server has no TRADEWIRE_ENCRYPTION_KEY to open the endpoint's key"
        if problem is not None or endpoint is None or prompt is None or self.sealer is None:
            if self._broken.get(strategy_id) != problem:
                log.error("ai strategy %s: skipped, %s", strategy_id, problem)
                self._broken[strategy_id] = problem or ""
            return None
        self._broken.pop(strategy_id, None)
        info, sealed = endpoint
        try:
            key = self.sealer.decrypt(sealed, key_context(info.id))
        except ValueError as exc:
            log.error("ai strategy %s: the endpoint's key cannot be opened: %s", strategy_id, exc)
            return None
        return _Setup(
            strategy_id, definition, params, EndpointAccess(info.id, info.base_url, info.model, key), prompt
        )

    async def _analyse(self, setup: _Setup, candles: Candles, gate: asyncio.Semaphore) -> _Proposal | None:
        async with gate:
            try:
                return await self._analyse_one(setup, candles)
            except Exception:
                log.exception("ai strategy %s on %s: analysis failed", setup.strategy_id, candles.symbol)
                return None

    async def _analyse_one(self, setup: _Setup, candles: Candles) -> _Proposal | None:
        if self.vision.ready_in(setup.access.endpoint_id) > 0:
            return None  # paused (breaker or 429): the candle stays unclaimed, tried on a later tick
        strategy_id, params, symbol = setup.strategy_id, setup.params, candles.symbol
        ts = int(candles.ts[-1])
        now = self.clock.now()
        claim = NewAnalysis(
            strategy_id,
            symbol,
            setup.definition.timeframe,
            ts,
            setup.access.endpoint_id,
            setup.prompt.id,
            setup.prompt.version,
            now,
            image=None,
        )
        midnight = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
        spent = await asyncio.to_thread(self.store.tokens_spent, strategy_id, midnight)
        if spent >= params.daily_token_budget:
            reason = f"daily token budget spent ({spent} of {params.daily_token_budget} since 00:00 UTC)"
            skipped = replace(claim, status=AnalysisStatus.SKIPPED, reason=reason)
            if await asyncio.to_thread(self.store.claim_analysis, skipped) is not None:
                log.warning("ai strategy %s on %s: %s", strategy_id, symbol, reason)
            self._done[(strategy_id, symbol)] = ts
            return None
        title = f"{symbol} {setup.definition.timeframe}"
        image = await asyncio.to_thread(self.render, candles, title)
        analysis_id = await asyncio.to_thread(self.store.claim_analysis, replace(claim, image=image))
        self._done[(strategy_id, symbol)] = ts
        if analysis_id is None:
            return None  # analysed already (before a restart, or by another process)
        close = Decimal(repr(float(candles.close[-1])))
        try:
            answer = await self.vision.analyse(setup.access, self._prompt(setup, candles, close), image)
        except Exception as exc:  # the claim must end: a pending row would never be asked again
            log.exception("ai strategy %s on %s: the vision client failed", strategy_id, symbol)
            answer = VisionAnswer(None, None, 0, 1, f"unexpected error in the client: {type(exc).__name__}")
        judged = self._verdict(answer, params, close)
        proposal = answer.proposal
        await asyncio.to_thread(
            self.store.finish_analysis,
            analysis_id,
            AnalysisResult(
                AnalysisStatus.FAILED if proposal is None else AnalysisStatus.OK,
                self.clock.now(),
                answer.tokens,
                answer.raw,
                proposal,
                None if proposal is None else proposal.confidence,
                judged,
            ),
        )
        if proposal is None or judged != TRADED:
            log.info("ai strategy %s on %s: analysis %s, %s", strategy_id, symbol, analysis_id, judged)
            return None
        return _Proposal(analysis_id, symbol, candles, proposal, proposal.confidence)

    @staticmethod
    def _prompt(setup: _Setup, candles: Candles, close: Decimal) -> str:
        closed = datetime.fromtimestamp(
            (int(candles.ts[-1]) + timeframe_ms(candles.timeframe)) / 1000, tz=UTC
        ).isoformat()
        return (
            f"{setup.prompt.text}\n\nChart: {candles.symbol}, {candles.timeframe} candles, EMA 20 and 50, "
            f"volume, RSI 14. Last candle closed at {closed}; last close {close}."
        )

    @staticmethod
    def _verdict(answer: VisionAnswer, params: AiChartParams, close: Decimal) -> str:
        """TRADED for a proposal to trade; otherwise why not (stored with the analysis)."""
        if answer.proposal is None:
            return answer.failure or "no proposal"
        return verdict(answer.proposal, params, close)

    async def _emit(self, setup: _Setup, found: _Proposal, rank: int) -> int:
        p = found.proposal
        action = SignalAction.BUY if p.recommendation is Recommendation.BUY else SignalAction.EXIT
        candles, timeframe = found.candles, setup.definition.timeframe
        ts = int(candles.ts[-1])
        details: dict[str, Any] = {
            "source": "ai_chart",
            "builtin": "ai_chart",
            "timeframe": timeframe,
            "candle": datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat(),
            "analysis_id": found.analysis_id,
            "prompt_version": setup.prompt.version,
            "confidence": float(found.confidence),
            "rank": rank,
            "recommendation": p.recommendation.value,
        }
        if action is SignalAction.BUY:
            details |= {
                "entry": str(p.entry),
                "stop_loss": str(p.stop_loss),
                "take_profit": str(p.take_profit),
            }
        at = datetime.fromtimestamp((ts + timeframe_ms(timeframe)) / 1000, tz=UTC)
        price = Decimal(repr(float(candles.close[-1])))
        material = f"strategy:{setup.strategy_id}:{found.symbol}:{timeframe}:{ts}:{action.value}"
        ingested = await self.ingest.receive_strategy_signal(
            setup.strategy_id, action, found.symbol, price, at, details, material
        )
        await asyncio.to_thread(self.store.link_signal, found.analysis_id, ingested.signal_id)
        return 0 if ingested.duplicate else 1
