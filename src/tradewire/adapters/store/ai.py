"""AI chart analysis in the database: users' endpoints (keys sealed by the caller, never read back to
a user), versioned prompts, and analyses, unique per strategy, symbol, timeframe and candle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from tradewire.adapters.store.ai_tables import ai_analyses, ai_endpoints, ai_prompts
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.member_rows import MemberRows, owned
from tradewire.adapters.store.tables import strategies
from tradewire.domain.ai.proposal import ChartProposal
from tradewire.domain.ai.replay import StoredProposal
from tradewire.domain.members import Conflict, NotFound
from tradewire.ports.ai import AiEndpoint, Analysis, AnalysisResult, AnalysisStatus, NewAnalysis, Prompt

_ENDPOINT = [c for c in ai_endpoints.c if c.name != "api_key_enc"]
_LISTED = [c for c in ai_analyses.c if c.name != "image"]


def _endpoint(r: Any) -> AiEndpoint:
    return AiEndpoint(r["id"], r["user_id"], r["name"], r["base_url"], r["model"], r["created_at"])


def _prompt(r: Any) -> Prompt:
    return Prompt(r["id"], r["user_id"], r["name"], r["version"], r["text"], r["created_at"])


def _analysis(r: Any) -> Analysis:
    names = (
        "id", "strategy_id", "symbol", "timeframe", "reason", "prompt_id", "prompt_version", "endpoint_id",
        "recommendation", "entry", "stop_loss", "take_profit", "setup_quality", "risk_reward_ratio",
        "market_environment", "confidence", "reasoning", "raw_answer", "tokens", "signal_id", "created_at",
        "finished_at",
    )  # fmt: skip
    return Analysis(
        **{name: r[name] for name in names},
        candle_at=datetime.fromtimestamp(r["candle_ts"] / 1000, tz=UTC),
        status=AnalysisStatus(r["status"]),
        has_image=bool(r["has_image"]),
    )


class SqlAi(MemberRows):
    """`ports.ai.AiStore` over ai_endpoints, ai_prompts and ai_analyses."""

    # -- endpoints ----------------------------------------------------------------------------------

    def add_endpoint(self, user_id: int, name: str, base_url: str, model: str, now: datetime) -> int:
        values = {"user_id": user_id, "name": name, "base_url": base_url, "model": model, "created_at": now}
        return self._insert(ai_endpoints, values, f"you already have an AI endpoint named {name!r}")

    def seal_endpoint_key(self, endpoint_id: int, api_key_enc: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(ai_endpoints).where(ai_endpoints.c.id == endpoint_id).values(api_key_enc=api_key_enc)
            )

    def endpoints(self, user_id: int) -> list[AiEndpoint]:
        query = select(*_ENDPOINT).where(ai_endpoints.c.user_id == user_id).order_by(ai_endpoints.c.id)
        return self._records(query, _endpoint)

    def endpoint(self, user_id: int, endpoint_id: int) -> AiEndpoint:
        query = select(*_ENDPOINT).where(owned(ai_endpoints, endpoint_id, user_id))
        return self._record(query, _endpoint, f"no AI endpoint {endpoint_id}")

    def delete_endpoint(self, user_id: int, endpoint_id: int) -> None:
        with write_transaction(self.engine) as conn:
            gone = conn.execute(delete(ai_endpoints).where(owned(ai_endpoints, endpoint_id, user_id)))
        if not gone.rowcount:
            raise NotFound(f"no AI endpoint {endpoint_id}")

    def sealed_endpoint_keys(self) -> list[tuple[int, str]]:
        """Every endpoint's sealed key (for key rotation); never leaves the server."""
        query = select(ai_endpoints.c.id, ai_endpoints.c.api_key_enc).where(
            ai_endpoints.c.api_key_enc.is_not(None)
        )
        with self.engine.connect() as conn:
            return [(int(r.id), str(r.api_key_enc)) for r in conn.execute(query)]

    def endpoint_for_strategy(self, strategy_id: int, endpoint_id: int) -> tuple[AiEndpoint, str] | None:
        query = (
            select(ai_endpoints)
            .join(strategies, strategies.c.owner_id == ai_endpoints.c.user_id)
            .where(strategies.c.id == strategy_id, ai_endpoints.c.id == endpoint_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None or row.api_key_enc is None:
            return None
        return _endpoint(row._mapping), str(row.api_key_enc)

    # -- prompts ------------------------------------------------------------------------------------

    def add_prompt(self, user_id: int, name: str, text: str, now: datetime) -> Prompt:
        for _ in range(5):  # another request may take the same version number: read it again
            try:
                with write_transaction(self.engine) as conn:
                    last = conn.execute(
                        select(func.max(ai_prompts.c.version)).where(
                            ai_prompts.c.user_id == user_id, ai_prompts.c.name == name
                        )
                    ).scalar()
                    version = int(last or 0) + 1
                    values = {"user_id": user_id, "name": name, "version": version, "text": text}
                    inserted = ai_prompts.insert().values({**values, "created_at": now})
                    key = conn.execute(inserted).inserted_primary_key
                assert key is not None
                return Prompt(int(key[0]), user_id, name, version, text, now)
            except IntegrityError:
                continue
        raise Conflict(f"another request took the next version of prompt {name!r}; try again")

    def prompts(self, user_id: int, name: str | None = None) -> list[Prompt]:
        query = select(ai_prompts).where(ai_prompts.c.user_id == user_id)
        if name is not None:
            query = query.where(ai_prompts.c.name == name)
        return self._records(query.order_by(ai_prompts.c.name, ai_prompts.c.version), _prompt)

    def prompt_for_strategy(self, strategy_id: int, name: str, version: int | None) -> Prompt | None:
        query = (
            select(ai_prompts)
            .join(strategies, strategies.c.owner_id == ai_prompts.c.user_id)
            .where(strategies.c.id == strategy_id, ai_prompts.c.name == name)
        )
        if version is not None:
            query = query.where(ai_prompts.c.version == version)
        query = query.order_by(ai_prompts.c.version.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _prompt(row._mapping)

    # -- analyses -----------------------------------------------------------------------------------

    def claim_analysis(self, new: NewAnalysis) -> int | None:
        values = {
            "strategy_id": new.strategy_id,
            "symbol": new.symbol,
            "timeframe": new.timeframe,
            "candle_ts": new.candle_ts,
            "endpoint_id": new.endpoint_id,
            "prompt_id": new.prompt_id,
            "prompt_version": new.prompt_version,
            "status": new.status.value,
            "reason": new.reason,
            "image": new.image,
            "created_at": new.created_at,
            "finished_at": None if new.status is AnalysisStatus.PENDING else new.created_at,
        }
        try:
            with write_transaction(self.engine) as conn:
                key = conn.execute(ai_analyses.insert().values(values)).inserted_primary_key
        except IntegrityError:
            return None  # that candle is taken
        assert key is not None
        return int(key[0])

    def finish_analysis(self, analysis_id: int, result: AnalysisResult) -> None:
        p = result.proposal
        values: dict[str, Any] = {
            "status": result.status.value,
            "finished_at": result.finished_at,
            "tokens": result.tokens,
            "raw_answer": result.raw_answer,
            "confidence": result.confidence,
            "reason": None if result.reason is None else result.reason[:500],
        }
        if p is not None:
            values |= {
                "recommendation": p.recommendation.value,
                "entry": p.entry,
                "stop_loss": p.stop_loss,
                "take_profit": p.take_profit,
                "setup_quality": p.setup_quality,
                "risk_reward_ratio": p.risk_reward_ratio,
                "market_environment": p.market_environment,
                "reasoning": p.reasoning,
            }
        with write_transaction(self.engine) as conn:
            conn.execute(update(ai_analyses).where(ai_analyses.c.id == analysis_id).values(values))

    def fail_stale_analyses(self, claimed_before: datetime, reason: str, now: datetime) -> int:
        a = ai_analyses.c
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(ai_analyses)
                .where(a.status == AnalysisStatus.PENDING.value, a.created_at < claimed_before)
                .values(status=AnalysisStatus.FAILED.value, finished_at=now, reason=reason[:500])
            )
        return int(done.rowcount or 0)

    def link_signal(self, analysis_id: int, signal_id: int) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(ai_analyses).where(ai_analyses.c.id == analysis_id).values(signal_id=signal_id)
            )

    def tokens_spent(self, strategy_id: int, since: datetime) -> int:
        query = select(func.coalesce(func.sum(ai_analyses.c.tokens), 0)).where(
            ai_analyses.c.strategy_id == strategy_id, ai_analyses.c.created_at >= since
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def proposals(self, user_id: int, strategy_id: int, timeframe: str) -> list[StoredProposal]:
        query = (
            select(ai_analyses)
            .join(strategies, strategies.c.id == ai_analyses.c.strategy_id)
            .where(
                strategies.c.owner_id == user_id,
                ai_analyses.c.strategy_id == strategy_id,
                ai_analyses.c.timeframe == timeframe,
                ai_analyses.c.status == AnalysisStatus.OK.value,
                ai_analyses.c.recommendation.in_(("BUY", "SELL")),
            )
            .order_by(ai_analyses.c.candle_ts)
        )
        fields = list(ChartProposal.model_fields)
        found = []
        for row in self._records(query, dict):
            try:
                proposal = ChartProposal.model_validate(
                    {name: row[name] for name in fields if row[name] is not None}
                )
            except ValueError:  # stored before a stricter schema: not replayed
                continue
            found.append(StoredProposal(row["symbol"], int(row["candle_ts"]), proposal))
        return found

    def _owned_analyses(self, user_id: int) -> Any:
        return (
            select(*_LISTED, ai_analyses.c.image.is_not(None).label("has_image"))
            .join(strategies, strategies.c.id == ai_analyses.c.strategy_id)
            .where(strategies.c.owner_id == user_id)
        )

    def analyses(
        self, user_id: int, strategy_id: int | None, before_id: int | None, limit: int
    ) -> list[Analysis]:
        query = self._owned_analyses(user_id)
        if strategy_id is not None:
            query = query.where(ai_analyses.c.strategy_id == strategy_id)
        if before_id is not None:
            query = query.where(ai_analyses.c.id < before_id)
        return self._records(query.order_by(ai_analyses.c.id.desc()).limit(limit), _analysis)

    def analysis(self, user_id: int, analysis_id: int) -> Analysis:
        query = self._owned_analyses(user_id).where(ai_analyses.c.id == analysis_id)
        return self._record(query, _analysis, f"no analysis {analysis_id}")

    def analysis_image(self, user_id: int, analysis_id: int) -> bytes | None:
        query = (
            select(ai_analyses.c.image)
            .join(strategies, strategies.c.id == ai_analyses.c.strategy_id)
            .where(strategies.c.owner_id == user_id, ai_analyses.c.id == analysis_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no analysis {analysis_id}")
        return None if row.image is None else bytes(row.image)
