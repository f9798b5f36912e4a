"""`tradewire.ports.ai.AiStore` in memory, for the chart analyst's unit tests.

It keeps the SQL store's rules: endpoints and prompts are their owner's (a strategy reaches only its
owner's), prompt versions count up per name, one analysis per strategy, symbol, timeframe and candle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tradewire.domain.ai.replay import StoredProposal
from tradewire.domain.members import Conflict, NotFound
from tradewire.ports.ai import AiEndpoint, Analysis, AnalysisResult, AnalysisStatus, NewAnalysis, Prompt


@dataclass
class MemoryAi:
    owner_of: Callable[[int], int | None]  # a strategy's owner, from the members store beside it
    endpoints_: dict[int, AiEndpoint] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)
    prompts_: list[Prompt] = field(default_factory=list)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    _next: int = 0

    def _id(self) -> int:
        self._next += 1
        return self._next

    def add_endpoint(self, user_id: int, name: str, base_url: str, model: str, now: datetime) -> int:
        if any(e.user_id == user_id and e.name == name for e in self.endpoints_.values()):
            raise Conflict(f"you already have an AI endpoint named {name!r}")
        endpoint_id = self._id()
        self.endpoints_[endpoint_id] = AiEndpoint(endpoint_id, user_id, name, base_url, model, now)
        return endpoint_id

    def seal_endpoint_key(self, endpoint_id: int, api_key_enc: str) -> None:
        self.keys[endpoint_id] = api_key_enc

    def endpoints(self, user_id: int) -> list[AiEndpoint]:
        return [e for e in self.endpoints_.values() if e.user_id == user_id]

    def endpoint(self, user_id: int, endpoint_id: int) -> AiEndpoint:
        found = self.endpoints_.get(endpoint_id)
        if found is None or found.user_id != user_id:
            raise NotFound(f"no AI endpoint {endpoint_id}")
        return found

    def delete_endpoint(self, user_id: int, endpoint_id: int) -> None:
        self.endpoint(user_id, endpoint_id)
        del self.endpoints_[endpoint_id]
        self.keys.pop(endpoint_id, None)
        for row in self.rows.values():  # the analyses stay, without their endpoint (SET NULL)
            if row["endpoint_id"] == endpoint_id:
                row["endpoint_id"] = None

    def endpoint_for_strategy(self, strategy_id: int, endpoint_id: int) -> tuple[AiEndpoint, str] | None:
        found = self.endpoints_.get(endpoint_id)
        if found is None or found.user_id != self.owner_of(strategy_id) or endpoint_id not in self.keys:
            return None
        return found, self.keys[endpoint_id]

    def add_prompt(self, user_id: int, name: str, text: str, now: datetime) -> Prompt:
        version = 1 + max((p.version for p in self.prompts(user_id, name)), default=0)
        prompt = Prompt(self._id(), user_id, name, version, text, now)
        self.prompts_.append(prompt)
        return prompt

    def prompts(self, user_id: int, name: str | None = None) -> list[Prompt]:
        return [p for p in self.prompts_ if p.user_id == user_id and name in (None, p.name)]

    def prompt_for_strategy(self, strategy_id: int, name: str, version: int | None) -> Prompt | None:
        owner = self.owner_of(strategy_id)
        found = [p for p in self.prompts(owner or -1, name) if version in (None, p.version)]
        return max(found, key=lambda p: p.version, default=None)

    def claim_analysis(self, new: NewAnalysis) -> int | None:
        key = (new.strategy_id, new.symbol, new.timeframe, new.candle_ts)
        if any(
            (r["strategy_id"], r["symbol"], r["timeframe"], r["candle_ts"]) == key for r in self.rows.values()
        ):
            return None
        analysis_id = self._id()
        self.rows[analysis_id] = {
            **{name: getattr(new, name) for name in NewAnalysis.__dataclass_fields__},
            "id": analysis_id,
            "tokens": 0,
            "signal_id": None,
            "result": None,
        }
        return analysis_id

    def finish_analysis(self, analysis_id: int, result: AnalysisResult) -> None:
        row = self.rows[analysis_id]
        row["status"], row["tokens"], row["result"] = result.status, result.tokens, result
        row["reason"] = result.reason

    def fail_stale_analyses(self, claimed_before: datetime, reason: str, now: datetime) -> int:
        stale = [
            row
            for row in self.rows.values()
            if row["status"] == AnalysisStatus.PENDING.value and row["created_at"] < claimed_before
        ]
        for row in stale:
            failed = AnalysisResult(AnalysisStatus.FAILED, now, row["tokens"], None, None, None, reason)
            self.finish_analysis(row["id"], failed)
        return len(stale)

    def link_signal(self, analysis_id: int, signal_id: int) -> None:
        self.rows[analysis_id]["signal_id"] = signal_id

    def tokens_spent(self, strategy_id: int, since: datetime) -> int:
        return sum(
            r["tokens"]
            for r in self.rows.values()
            if r["strategy_id"] == strategy_id and r["created_at"] >= since
        )

    def proposals(self, user_id: int, strategy_id: int, timeframe: str) -> list[StoredProposal]:
        found = []
        for row in self.rows.values():
            result: AnalysisResult | None = row["result"]
            mine = self.owner_of(row["strategy_id"]) == user_id and row["strategy_id"] == strategy_id
            if not mine or row["timeframe"] != timeframe or result is None or result.proposal is None:
                continue
            if result.status is AnalysisStatus.OK and result.proposal.recommendation.value != "HOLD":
                found.append(StoredProposal(row["symbol"], row["candle_ts"], result.proposal))
        return sorted(found, key=lambda p: p.candle_ts)

    def analyses(
        self, user_id: int, strategy_id: int | None, before_id: int | None, limit: int
    ) -> list[Analysis]:
        mine = [
            self.analysis(user_id, i)
            for i in sorted(self.rows, reverse=True)
            if self.owner_of(self.rows[i]["strategy_id"]) == user_id
            and strategy_id in (None, self.rows[i]["strategy_id"])
            and (before_id is None or i < before_id)
        ]
        return mine[:limit]

    def analysis(self, user_id: int, analysis_id: int) -> Analysis:
        row = self.rows.get(analysis_id)
        if row is None or self.owner_of(row["strategy_id"]) != user_id:
            raise NotFound(f"no analysis {analysis_id}")
        result: AnalysisResult | None = row["result"]
        p = None if result is None else result.proposal
        return Analysis(
            id=analysis_id,
            strategy_id=row["strategy_id"],
            symbol=row["symbol"],
            timeframe=row["timeframe"],
            candle_at=datetime.fromtimestamp(row["candle_ts"] / 1000, tz=UTC),
            status=AnalysisStatus(row["status"]),
            reason=row["reason"],
            prompt_id=row["prompt_id"],
            prompt_version=row["prompt_version"],
            endpoint_id=row["endpoint_id"],
            recommendation=None if p is None else p.recommendation.value,
            entry=None if p is None else p.entry,
            stop_loss=None if p is None else p.stop_loss,
            take_profit=None if p is None else p.take_profit,
            setup_quality=None if p is None else p.setup_quality,
            risk_reward_ratio=None if p is None else p.risk_reward_ratio,
            market_environment=None if p is None else p.market_environment,
            confidence=None if result is None else result.confidence,
            reasoning=None if p is None else p.reasoning,
            raw_answer=None if result is None else result.raw_answer,
            tokens=row["tokens"],
            signal_id=row["signal_id"],
            has_image=row["image"] is not None,
            created_at=row["created_at"],
            finished_at=None if result is None else result.finished_at,
        )

    def analysis_image(self, user_id: int, analysis_id: int) -> bytes | None:
        self.analysis(user_id, analysis_id)
        image: bytes | None = self.rows[analysis_id]["image"]
        return image
