"""Models (the use cases) against the in-memory registry and a validator double: an upload's description
is checked before its content, the content is checked (at most `concurrent_checks` at once) before it
is kept, versions count per owner and symbol, another user's model is not found, a model in use is not
deleted; and `check_model` keeps a `lightgbm` strategy from naming a model its owner does not have."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fakes.memory_exchange import FixedClock
from tests.fakes.memory_members import MemoryMembers
from tests.fakes.memory_models import MemoryModels
from tradewire.domain.members import Conflict, Invalid, NewStrategy, NotFound, StrategySource
from tradewire.domain.ml.features import FEATURE_SET
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.services.members.models import Models, ModelUpload, check_model

TREE = b"tree\nversion=v4\n"
FIELDS: dict[str, Any] = {"symbol": "BTC/USDT", "feature_set": "candles@1"}


@dataclass
class Validator:
    """Says `reason` about every model (None: usable) and remembers what it was asked."""

    reason: str | None = None
    checked: list[tuple[bytes, tuple[str, ...]]] = field(default_factory=list)

    def validate(self, content: bytes, feature_names: tuple[str, ...]) -> str | None:
        self.checked.append((content, feature_names))
        return self.reason


def _setup() -> tuple[Models, MemoryModels, Validator, int, int]:
    members, clock = MemoryMembers(), FixedClock()
    alice, bob = (members.create_user(name, "-", clock.now()) for name in ("alice", "bob"))
    registry = MemoryModels(members)
    validator = Validator()
    return Models(registry, validator, clock), registry, validator, alice, bob


def _manifest(content: bytes = TREE, **changes: Any) -> dict[str, Any]:
    manifest = {
        "symbol": "BTC/USDT",
        "timeframe": "1h",
        "feature_set": {"name": "candles", "version": 1, "names": list(FEATURE_SET.names)},
        "sha256": hashlib.sha256(content).hexdigest(),
        "horizon": 12,
    }
    return {**manifest, **changes}


def _definition(**params: Any) -> StrategyDefinition:
    return StrategyDefinition.model_validate(
        {"builtin": "lightgbm", "params": params, "timeframe": "1h", "symbols": ["BTC/USDT"]}
    )


def _strategy(registry: MemoryModels, owner: int, **params: Any) -> int:
    strategy = NewStrategy(
        owner_id=owner,
        slug=f"ml-{len(registry.members.strategies_)}",
        name="ml",
        description="",
        source=StrategySource.INDICATOR,
        passphrase_hash="-",
        is_public=False,
        created_at=FixedClock().now(),
        definition=_definition(**params),
    )
    return registry.members.add_strategy(strategy)


async def test_an_upload_described_by_manifest_or_fields_is_checked_then_kept_as_the_next_version() -> None:
    models, _, validator, alice, _ = _setup()

    first = await models.upload(alice, ModelUpload(TREE, manifest=_manifest()))
    second = await models.upload(alice, ModelUpload(b"tree 2", **FIELDS))
    other = await models.upload(alice, ModelUpload(b"tree 3", symbol="ETH/USDT", feature_set="candles@1"))

    assert validator.checked == [
        (TREE, FEATURE_SET.names),
        (b"tree 2", FEATURE_SET.names),
        (b"tree 3", FEATURE_SET.names),
    ]
    assert (first.symbol, first.version, first.feature_set, first.timeframe) == (
        "BTC/USDT",
        1,
        "candles@1",
        "1h",
    )
    assert (first.sha256, first.size, first.manifest["horizon"]) == (
        hashlib.sha256(TREE).hexdigest(),
        len(TREE),
        12,
    )
    assert first.created_at == FixedClock().now()
    assert (second.version, second.timeframe, second.manifest) == (2, None, {})
    assert (other.symbol, other.version) == ("ETH/USDT", 1)
    assert [m.id for m in await models.mine(alice)] == [first.id, second.id, other.id]
    assert await models.content(alice, second.id) == (second, b"tree 2")


@pytest.mark.parametrize(
    ("upload", "reason"),
    [
        (ModelUpload(TREE, feature_set="candles@1"), "symbol: give a unified symbol"),
        (ModelUpload(TREE, symbol="btc-usdt", feature_set="candles@1"), "symbol: give a unified symbol"),
        (ModelUpload(TREE, manifest=_manifest(symbol=7)), "symbol: give a unified symbol"),
        (
            ModelUpload(TREE, manifest=_manifest(), symbol="ETH/USDT"),
            "symbol: 'ETH/USDT' given, but the manifest says 'BTC/USDT'",
        ),
        (ModelUpload(TREE, symbol="BTC/USDT"), "feature_set: one of candles@1"),
        (ModelUpload(TREE, symbol="BTC/USDT", feature_set="candles@9"), "feature_set: one of candles@1"),
        (ModelUpload(TREE, manifest=_manifest(), feature_set="candles@2"), "feature_set: 'candles@2' given"),
        (
            ModelUpload(
                TREE, manifest=_manifest(feature_set={"name": "candles", "version": 1, "names": ["a"]})
            ),
            "the manifest's feature names are not those of candles@1",
        ),
        (ModelUpload(TREE, **FIELDS, timeframe="a-long-timeframe"), "timeframe: a timeframe like 5m"),
        (ModelUpload(TREE, manifest=_manifest(timeframe=60)), "timeframe: a timeframe like 5m"),
        (ModelUpload(b"", **FIELDS), "file: the model file is empty"),
        (ModelUpload(TREE + b"\n", manifest=_manifest()), "the file's sha256 is not the manifest's"),
    ],
)
async def test_a_wrong_description_is_refused_before_the_model_is_looked_at(
    upload: ModelUpload, reason: str
) -> None:
    models, registry, validator, alice, _ = _setup()

    with pytest.raises(Invalid, match=re.escape(reason)):
        await models.upload(alice, upload)

    assert validator.checked == [] and registry.kept == {}


async def test_a_model_the_validator_refuses_is_not_kept_and_the_reason_is_said() -> None:
    models, registry, validator, alice, _ = _setup()
    validator.reason = "not a LightGBM text model"

    with pytest.raises(Invalid, match="not a usable model: not a LightGBM text model"):
        await models.upload(alice, ModelUpload(TREE, **FIELDS))

    assert len(validator.checked) == 1 and registry.kept == {}


async def test_uploads_are_checked_no_more_than_concurrent_checks_at_a_time() -> None:
    models, _, _, alice, _ = _setup()
    models.concurrent_checks = 1
    entered, release = threading.Event(), threading.Event()
    running, most = [0], [0]
    lock = threading.Lock()

    class Slow:
        def validate(self, content: bytes, feature_names: tuple[str, ...]) -> str | None:
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            entered.set()
            release.wait(5)
            with lock:
                running[0] -= 1
            return None

    models.validator = Slow()
    uploads = [asyncio.create_task(models.upload(alice, ModelUpload(TREE, **FIELDS))) for _ in range(2)]
    assert await asyncio.to_thread(entered.wait, 5)
    await asyncio.sleep(0)  # the second upload reaches the semaphore
    release.set()
    done = await asyncio.gather(*uploads)

    assert most[0] == 1
    assert sorted(m.version for m in done) == [1, 2]


async def test_another_user_s_model_is_not_found_and_a_model_in_use_is_not_deleted() -> None:
    models, registry, _, alice, bob = _setup()
    pinned = await models.upload(alice, ModelUpload(TREE, **FIELDS))
    spare = await models.upload(alice, ModelUpload(b"tree 2", **FIELDS))
    _strategy(registry, alice, model_id=pinned.id)

    assert await models.mine(bob) == []
    for read in (models.get, models.content, models.delete):
        with pytest.raises(NotFound, match=f"no model {pinned.id}"):
            await read(bob, pinned.id)
    with pytest.raises(Conflict, match=f"model {pinned.id} is used by strategy"):
        await models.delete(alice, pinned.id)
    await models.delete(alice, spare.id)

    assert [m.id for m in await models.mine(alice)] == [pinned.id]
    with pytest.raises(NotFound):
        await models.get(alice, spare.id)


async def test_a_lightgbm_definition_must_name_a_model_of_its_owner() -> None:
    models, registry, _, alice, bob = _setup()
    model = await models.upload(alice, ModelUpload(TREE, **FIELDS))

    await check_model(registry, alice, _definition(model_id=model.id))
    await check_model(registry, alice, _definition(model_symbol="BTC/USDT"))
    with pytest.raises(Invalid, match=re.escape(f"params.model_id: you have no model {model.id}")):
        await check_model(registry, bob, _definition(model_id=model.id))
    with pytest.raises(Invalid, match=re.escape("params.model_symbol: you have no model for BTC/USDT")):
        await check_model(registry, bob, _definition(model_symbol="BTC/USDT"))
    with pytest.raises(Invalid, match="models are not available on this server"):
        await check_model(None, alice, _definition(model_id=model.id))
    other = StrategyDefinition.model_validate(
        {"builtin": "ema_cross", "params": {}, "timeframe": "1h", "symbols": ["BTC/USDT"]}
    )
    await check_model(None, alice, other)  # not a lightgbm strategy: no model needed
