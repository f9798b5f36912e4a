"""AI setup without a database: an endpoint's key sealed to its row (none without an encryption key),
its address checked before anything is kept, each user's endpoints, prompts and analyses their own,
prompt versions counting up, and an `ai_chart` definition refused unless its endpoint and prompt exist."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fakes.memory_ai import MemoryAi
from tests.fakes.memory_exchange import FixedClock
from tradewire.adapters.secrets_box import SecretBox, SecretsError, decode_key, generate_key
from tradewire.domain.members import Conflict, Forbidden, Invalid, NotFound
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.ports.ai import NewAnalysis
from tradewire.services.ai_setup import AiSetup, EndpointRequest, check_ai
from tradewire.services.chart_analyst import key_context

ALICE, BOB = 1, 2
STRATEGY = 10  # alice's
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
REQUEST = EndpointRequest("local", "https://models.example/v1", "vision-1", "sk-secret-key")


def _box() -> SecretBox:
    return SecretBox(decode_key(generate_key()))


async def _public(url: str) -> None:
    if "10.0.0." in url:
        raise ValueError("'10.0.0.8' is not a public address")


def _setup(sealer: SecretBox | None = None) -> tuple[AiSetup, MemoryAi]:
    store = MemoryAi(owner_of=lambda strategy_id: ALICE if strategy_id == STRATEGY else None)
    return AiSetup(store, sealer, _public, FixedClock(NOW)), store


def _definition(**params: object) -> StrategyDefinition:
    return StrategyDefinition(builtin="ai_chart", params=params, timeframe="1h", symbols=["BTC/USDT"])


async def test_an_endpoints_key_is_sealed_to_its_row_and_never_returned() -> None:
    box = _box()
    setup, store = _setup(box)

    endpoint = await setup.add_endpoint(ALICE, REQUEST)

    assert (endpoint.user_id, endpoint.name, endpoint.base_url, endpoint.model) == (
        ALICE,
        "local",
        "https://models.example/v1",
        "vision-1",
    )
    assert "sk-secret-key" not in repr(endpoint)
    sealed = store.keys[endpoint.id]
    assert "sk-secret-key" not in sealed
    assert box.decrypt(sealed, key_context(endpoint.id)) == "sk-secret-key"
    with pytest.raises(SecretsError):  # bound to its row: another endpoint's context does not open it
        box.decrypt(sealed, key_context(endpoint.id + 1))


async def test_without_an_encryption_key_or_with_a_refused_address_nothing_is_kept() -> None:
    unsealed, store = _setup(None)
    with pytest.raises(Forbidden, match="TRADEWIRE_ENCRYPTION_KEY"):
        await unsealed.add_endpoint(ALICE, REQUEST)

    setup, store = _setup(_box())
    private = EndpointRequest("lan", "https://10.0.0.8/v1", "vision-1", "sk-x")
    with pytest.raises(Invalid, match=r"base_url: '10.0.0.8' is not a public address"):
        await setup.add_endpoint(ALICE, private)

    assert store.endpoints_ == {} and store.keys == {}


async def test_endpoints_are_their_owners_and_names_are_unique_per_owner() -> None:
    setup, _ = _setup(_box())
    mine = await setup.add_endpoint(ALICE, REQUEST)
    theirs = await setup.add_endpoint(BOB, REQUEST)  # the same name, another user

    with pytest.raises(Conflict):
        await setup.add_endpoint(ALICE, REQUEST)
    with pytest.raises(NotFound):
        await setup.endpoint(BOB, mine.id)
    with pytest.raises(NotFound):
        await setup.delete_endpoint(BOB, mine.id)
    assert [e.id for e in await setup.endpoints(ALICE)] == [mine.id]
    await setup.delete_endpoint(ALICE, mine.id)
    assert await setup.endpoints(ALICE) == [] and [e.id for e in await setup.endpoints(BOB)] == [theirs.id]


async def test_each_prompt_is_a_new_version_of_its_name() -> None:
    setup, _ = _setup()
    await setup.add_prompt(ALICE, "swing", "Look for a long.")
    await setup.add_prompt(ALICE, "swing", "Look for a swing long.")
    await setup.add_prompt(ALICE, "scalp", "Quick ones.")
    await setup.add_prompt(BOB, "swing", "Bob's.")

    swing = await setup.prompts(ALICE, "swing")

    assert [(p.version, p.text) for p in swing] == [(1, "Look for a long."), (2, "Look for a swing long.")]
    assert {p.name for p in await setup.prompts(ALICE)} == {"swing", "scalp"}
    assert [p.text for p in await setup.prompts(BOB, "swing")] == ["Bob's."]


async def test_an_analysis_and_its_image_are_their_strategys_owners() -> None:
    setup, store = _setup(_box())
    endpoint = await setup.add_endpoint(ALICE, REQUEST)
    prompt = await setup.add_prompt(ALICE, "swing", "Look for a long.")

    def claim(candle_ts: int, image: bytes | None) -> int:
        made = store.claim_analysis(
            NewAnalysis(STRATEGY, "BTC/USDT", "1h", candle_ts, endpoint.id, prompt.id, 1, NOW, image)
        )
        assert made is not None
        return made

    drawn, skipped = claim(1, b"\x89PNG chart"), claim(2, None)

    assert await setup.image(ALICE, drawn) == b"\x89PNG chart"
    with pytest.raises(NotFound, match="has no image"):
        await setup.image(ALICE, skipped)
    with pytest.raises(NotFound):
        await setup.image(BOB, drawn)
    with pytest.raises(NotFound):
        await setup.analysis(BOB, drawn)
    assert [a.id for a in await setup.analyses(ALICE, STRATEGY, None, 10)] == [skipped, drawn]
    assert await setup.analyses(BOB, None, None, 10) == []


async def test_an_ai_chart_definition_needs_its_owners_endpoint_and_prompt_version() -> None:
    setup, store = _setup(_box())
    endpoint = await setup.add_endpoint(ALICE, REQUEST)
    await setup.add_prompt(ALICE, "swing", "v1")
    await setup.add_prompt(ALICE, "swing", "v2")
    builtin = StrategyDefinition(builtin="ema_cross", timeframe="1h", symbols=["BTC/USDT"])

    await check_ai(None, ALICE, builtin)  # not an AI strategy: nothing to check
    await check_ai(store, ALICE, _definition(endpoint_id=endpoint.id, prompt="swing"))
    await check_ai(store, ALICE, _definition(endpoint_id=endpoint.id, prompt="swing", prompt_version=2))
    refusals = [
        (None, ALICE, _definition(endpoint_id=endpoint.id, prompt="swing"), "not available on this server"),
        (store, BOB, _definition(endpoint_id=endpoint.id, prompt="swing"), "you have no AI endpoint"),
        (store, ALICE, _definition(endpoint_id=endpoint.id, prompt="scalp"), "no prompt named 'scalp'"),
        (
            store,
            ALICE,
            _definition(endpoint_id=endpoint.id, prompt="swing", prompt_version=3),
            "has no version 3",
        ),
    ]
    for where, owner, definition, why in refusals:
        with pytest.raises(Invalid, match=why):
            await check_ai(where, owner, definition)
