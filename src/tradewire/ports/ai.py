"""AI chart analysis: the vision model, the chart renderer, and what is kept (endpoints with their
sealed keys, versioned prompts, analyses). Implemented in adapters/ai/ and adapters/store/ai.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from tradewire.domain.ai.proposal import ChartProposal
from tradewire.domain.ai.replay import StoredProposal
from tradewire.domain.candles import Candles


@dataclass(frozen=True, slots=True)
class EndpointAccess:
    """What a call to an endpoint needs; the key is decrypted only for the call and never printed."""

    endpoint_id: int
    base_url: str
    model: str
    api_key: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class VisionAnswer:
    """One analysis as the model gave it: a proposal, or the reason there is none (`failure`).

    `raw` is the last answer's text (bounded), `tokens` what every attempt cost together."""

    proposal: ChartProposal | None
    raw: str | None
    tokens: int
    attempts: int
    failure: str | None = None


class VisionModel(Protocol):
    def ready_in(self, endpoint_id: int) -> float:
        """Seconds before the endpoint may be called again (its circuit breaker is open or it asked
        to wait with retry-after); 0 when it may be called now."""
        ...

    async def analyse(self, access: EndpointAccess, prompt: str, image_png: bytes) -> VisionAnswer:
        """Ask for a proposal on the chart; a malformed answer is asked again once. Never raises for
        what the endpoint answers (the failure says why)."""
        ...


class ChartRenderer(Protocol):
    def __call__(self, candles: Candles, title: str) -> bytes:
        """The PNG a vision model reads; the same candles give the same bytes."""
        ...


class AnalysisStatus(StrEnum):
    PENDING = "pending"  # claimed, the model not answered yet (or the process died meanwhile)
    OK = "ok"  # a proposal; `verdict` says whether it was traded
    FAILED = "failed"  # no usable answer; never traded
    SKIPPED = "skipped"  # not asked: the day's token budget was spent


@dataclass(frozen=True, slots=True)
class AiEndpoint:
    """An OpenAI-compatible endpoint a user registered (the key stays sealed in the store)."""

    id: int
    user_id: int
    name: str
    base_url: str
    model: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Prompt:
    """One version of a named prompt; creating a prompt with a known name adds a version."""

    id: int
    user_id: int
    name: str
    version: int
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewAnalysis:
    """A claim on one candle of one symbol for a strategy: unique, so nothing is analysed twice."""

    strategy_id: int
    symbol: str
    timeframe: str
    candle_ts: int  # the analysed candle's open time, ms
    endpoint_id: int
    prompt_id: int
    prompt_version: int
    created_at: datetime
    image: bytes | None
    status: AnalysisStatus = AnalysisStatus.PENDING
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """What a claimed analysis came to."""

    status: AnalysisStatus
    finished_at: datetime
    tokens: int
    raw_answer: str | None
    proposal: ChartProposal | None
    confidence: Decimal | None
    reason: str | None  # why it failed, or why an ok proposal was (not) traded


@dataclass(frozen=True, slots=True)
class Analysis:
    """An analysis as its owner reads it."""

    id: int
    strategy_id: int
    symbol: str
    timeframe: str
    candle_at: datetime
    status: AnalysisStatus
    reason: str | None
    prompt_id: int | None  # None once the prompt or endpoint was deleted
    prompt_version: int
    endpoint_id: int | None
    recommendation: str | None
    entry: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    setup_quality: Decimal | None
    risk_reward_ratio: Decimal | None
    market_environment: Decimal | None
    confidence: Decimal | None
    reasoning: str | None
    raw_answer: str | None
    tokens: int
    signal_id: int | None
    has_image: bool
    created_at: datetime
    finished_at: datetime | None


class StoredAnalyses(Protocol):
    def proposals(self, user_id: int, strategy_id: int, timeframe: str) -> list[StoredProposal]:
        """The BUY and SELL proposals of the user's strategy's ok analyses in `timeframe`."""
        ...


class AiStore(StoredAnalyses, Protocol):
    # -- endpoints ----------------------------------------------------------------------------------
    def add_endpoint(self, user_id: int, name: str, base_url: str, model: str, now: datetime) -> int:
        """A new endpoint (Conflict when the user has one of that name); its key is sealed next."""
        ...

    def seal_endpoint_key(self, endpoint_id: int, api_key_enc: str) -> None: ...

    def endpoints(self, user_id: int) -> list[AiEndpoint]: ...

    def endpoint(self, user_id: int, endpoint_id: int) -> AiEndpoint:
        """One of the user's endpoints (NotFound otherwise)."""
        ...

    def delete_endpoint(self, user_id: int, endpoint_id: int) -> None: ...

    def endpoint_for_strategy(self, strategy_id: int, endpoint_id: int) -> tuple[AiEndpoint, str] | None:
        """The endpoint and its sealed key, when it belongs to the strategy's owner."""
        ...

    # -- prompts -----------------------------------------------------------------------------------
    def add_prompt(self, user_id: int, name: str, text: str, now: datetime) -> Prompt:
        """The next version of the user's prompt `name` (version 1 for a new name)."""
        ...

    def prompts(self, user_id: int, name: str | None = None) -> list[Prompt]: ...

    def prompt_for_strategy(self, strategy_id: int, name: str, version: int | None) -> Prompt | None:
        """That version (None: the latest) of the strategy owner's prompt `name`."""
        ...

    # -- analyses ----------------------------------------------------------------------------------
    def claim_analysis(self, new: NewAnalysis) -> int | None:
        """Keep `new` and return its id; None when the strategy already has an analysis of that
        symbol, timeframe and candle (whoever made it: this process before a restart, or another)."""
        ...

    def finish_analysis(self, analysis_id: int, result: AnalysisResult) -> None: ...

    def fail_stale_analyses(self, claimed_before: datetime, reason: str, now: datetime) -> int:
        """Mark `failed` (with `reason`) every analysis still pending that was claimed before
        `claimed_before`: its process died during the call. How many."""
        ...

    def link_signal(self, analysis_id: int, signal_id: int) -> None: ...

    def tokens_spent(self, strategy_id: int, since: datetime) -> int:
        """Tokens the strategy's analyses created at or after `since` used."""
        ...

    def analyses(
        self, user_id: int, strategy_id: int | None, before_id: int | None, limit: int
    ) -> list[Analysis]:
        """The user's strategies' analyses, newest first."""
        ...

    def analysis(self, user_id: int, analysis_id: int) -> Analysis:
        """One analysis of the user's strategies (NotFound otherwise)."""
        ...

    def analysis_image(self, user_id: int, analysis_id: int) -> bytes | None: ...
