"""AI chart analysis' tables on SQLite and PostgreSQL: endpoints and prompts scoped to their owner,
prompt versions counting up per name, one analysis per strategy, symbol, timeframe and candle, the
day's tokens, and analyses listed (newest first) and their image served to the owner only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.fakes.memory_ai import MemoryAi
from tests.fakes.memory_members import MemoryMembers
from tests.support import add_private_strategy
from tradewire.adapters.store.ai import SqlAi
from tradewire.adapters.store.members import SqlMembers
from tradewire.domain.ai.proposal import parse_answer
from tradewire.domain.members import Conflict, NotFound
from tradewire.ports.ai import AiStore, AnalysisResult, AnalysisStatus, NewAnalysis

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ANSWER = (
    '{"recommendation": "BUY", "entry": 100.5, "stop_loss": 97, "take_profit": 110, "setup_quality": 0.8,'
    ' "risk_reward_ratio": 0.9, "market_environment": 0.7, "reasoning": "retest"}'
)


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def stores(request: pytest.FixtureRequest) -> tuple[Any, AiStore]:
    """A members store and the AI store beside it: SqlAi on SQLite, then PostgreSQL, then the
    in-memory twin (held to the same assertions, so it cannot drift from SQL)."""
    if request.param == "memory":
        members = MemoryMembers()

        def owner_of(strategy_id: int) -> int | None:
            stored = members.strategies_.get(strategy_id)
            return None if stored is None else stored.new.owner_id

        return members, MemoryAi(owner_of)
    engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "postgres_engine")
    return SqlMembers(engine), SqlAi(engine)


def _strategy(members: Any, owner: int) -> int:
    return add_private_strategy(
        members, owner, "ai-test", "ai", {"builtin": "ema_cross", "symbols": ["BTC/USDT"]}, NOW
    )


def test_endpoints_prompts_and_analyses(stores: tuple[Any, AiStore]) -> None:
    members, ai = stores
    owner, stranger = (members.create_user(name, "hash", NOW) for name in ("owner", "stranger"))
    strategy_id = _strategy(members, owner)

    endpoint_id = ai.add_endpoint(owner, "local", "https://ai.example.com/v1", "vision-1", NOW)
    with pytest.raises(Conflict):
        ai.add_endpoint(owner, "local", "https://other.example.com/v1", "m", NOW)
    assert ai.endpoint_for_strategy(strategy_id, endpoint_id) is None  # no key sealed yet
    ai.seal_endpoint_key(endpoint_id, "v1:abc:sealed")
    found = ai.endpoint_for_strategy(strategy_id, endpoint_id)
    assert found is not None and found[1] == "v1:abc:sealed" and found[0].model == "vision-1"
    assert [e.id for e in ai.endpoints(owner)] == [endpoint_id] and ai.endpoints(stranger) == []
    with pytest.raises(NotFound):
        ai.endpoint(stranger, endpoint_id)
    with pytest.raises(NotFound):
        ai.delete_endpoint(stranger, endpoint_id)

    first = ai.add_prompt(owner, "swing", "v1 text", NOW)
    second = ai.add_prompt(owner, "swing", "v2 text", NOW)
    ai.add_prompt(stranger, "swing", "not yours", NOW)
    assert (first.version, second.version) == (1, 2)
    latest = ai.prompt_for_strategy(strategy_id, "swing", None)
    assert latest is not None and latest.text == "v2 text"
    pinned = ai.prompt_for_strategy(strategy_id, "swing", 1)
    assert pinned is not None and pinned.text == "v1 text"
    assert ai.prompt_for_strategy(strategy_id, "swing", 3) is None
    assert [p.version for p in ai.prompts(owner, "swing")] == [1, 2]

    claim = NewAnalysis(
        strategy_id, "BTC/USDT", "1h", 1_700_000_000_000, endpoint_id, second.id, 2, NOW, b"png"
    )
    analysis_id = ai.claim_analysis(claim)
    assert analysis_id is not None
    assert ai.claim_analysis(claim) is None  # that candle is taken
    other = ai.claim_analysis(
        NewAnalysis(strategy_id, "ETH/USDT", "1h", 1_700_000_000_000, endpoint_id, second.id, 2, NOW, None,
                    status=AnalysisStatus.SKIPPED, reason="daily token budget spent")
    )  # fmt: skip
    assert other is not None
    proposal = parse_answer(ANSWER)
    ai.finish_analysis(
        analysis_id,
        AnalysisResult(AnalysisStatus.OK, NOW, 970, ANSWER, proposal, proposal.confidence, "proposed"),
    )
    assert ai.tokens_spent(strategy_id, NOW - timedelta(hours=12)) == 970
    assert ai.tokens_spent(strategy_id, NOW + timedelta(seconds=1)) == 0

    listed = ai.analyses(owner, strategy_id, None, 10)
    assert [a.id for a in listed] == [other, analysis_id]
    done = ai.analysis(owner, analysis_id)
    assert done.status is AnalysisStatus.OK and done.recommendation == "BUY"
    assert done.entry == Decimal("100.5") and done.confidence == Decimal("0.790")
    assert done.setup_quality == Decimal("0.8") and done.tokens == 970 and done.has_image
    assert done.candle_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert ai.analysis(owner, other).reason == "daily token budget spent"
    assert ai.analysis_image(owner, analysis_id) == b"png" and ai.analysis_image(owner, other) is None
    assert ai.analyses(stranger, None, None, 10) == []
    with pytest.raises(NotFound):
        ai.analysis_image(stranger, analysis_id)
    assert [a.id for a in ai.analyses(owner, None, analysis_id + 1, 1)] == [analysis_id]

    (replayable,) = ai.proposals(owner, strategy_id, "1h")  # the ok BUY; not the skipped one
    assert (
        replayable.symbol == "BTC/USDT"
        and replayable.candle_ts == 1_700_000_000_000
        and replayable.proposal == proposal
    )
    assert ai.proposals(owner, strategy_id, "5m") == [] and ai.proposals(stranger, strategy_id, "1h") == []

    ai.delete_endpoint(owner, endpoint_id)  # the analyses stay, without their endpoint
    assert ai.analysis(owner, analysis_id).endpoint_id is None


def test_analyses_left_pending_before_a_time_are_failed_and_no_others(stores: tuple[Any, AiStore]) -> None:
    members, ai = stores
    owner = members.create_user("owner", "hash", NOW)
    strategy_id = _strategy(members, owner)
    endpoint_id = ai.add_endpoint(owner, "local", "https://ai.example.com/v1", "vision-1", NOW)
    prompt = ai.add_prompt(owner, "swing", "v1", NOW)

    def claim(symbol: str, at: datetime, **status: Any) -> int:
        made = ai.claim_analysis(
            NewAnalysis(strategy_id, symbol, "1h", 1, endpoint_id, prompt.id, 1, at, None, **status)
        )
        assert made is not None
        return made

    old = claim("BTC/USDT", NOW - timedelta(minutes=30))
    recent = claim("ETH/USDT", NOW)
    skipped = claim("SOL/USDT", NOW - timedelta(hours=1), status=AnalysisStatus.SKIPPED, reason="budget")

    assert ai.fail_stale_analyses(NOW - timedelta(minutes=10), "stopped: not traded", NOW) == 1
    assert ai.fail_stale_analyses(NOW - timedelta(minutes=10), "stopped: not traded", NOW) == 0
    found = {a.id: a for a in ai.analyses(owner, strategy_id, None, 10)}
    assert (found[old].status, found[old].reason) == (AnalysisStatus.FAILED, "stopped: not traded")
    assert found[old].finished_at == NOW
    assert found[recent].status is AnalysisStatus.PENDING
    assert (found[skipped].status, found[skipped].reason) == (AnalysisStatus.SKIPPED, "budget")
