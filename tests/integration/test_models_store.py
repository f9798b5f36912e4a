"""The models table on SQLite and PostgreSQL: versions per owner and symbol, owner scoping, the
predictor cache by (model id, version), and no deleting a model a strategy reads. The registry's rules
hold for its in-memory twin (tests/fakes/memory_models.py) too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.fakes.memory_members import MemoryMembers
from tests.fakes.memory_models import MemoryModels
from tests.support import add_private_strategy
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.models import SqlModels
from tradewire.domain.members import Conflict, NotFound
from tradewire.domain.ml.strategy import LightgbmParams
from tradewire.ports.models import ModelRegistry, NewModel

NOW = datetime(2024, 1, 1, tzinfo=UTC)


class Loaded:
    feature_names = ("a",)

    def __init__(self, text: str) -> None:
        self.text = text

    def predict(self, rows: object) -> object:
        return rows


def _model(owner: int, content: bytes, symbol: str = "BTC/USDT") -> NewModel:
    return NewModel(owner, symbol, "candles@1", "5m", {"horizon": 12}, "0" * 64, content, NOW)


def _strategy(members: Any, owner: int, params: dict[str, object]) -> int:
    definition = {"builtin": "lightgbm", "params": params, "timeframe": "5m", "symbols": ["BTC/USDT"]}
    slug = f"s-{len(params)}-{params}".replace(" ", "")[:60]
    return add_private_strategy(members, owner, slug, "ml", definition, NOW)


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def registry(request: pytest.FixtureRequest) -> tuple[Any, ModelRegistry]:
    """The users' members store and the model registry: SqlModels on SQLite, then PostgreSQL, then
    the in-memory twin."""
    if request.param == "memory":
        members = MemoryMembers()
        return members, MemoryModels(members)
    engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "postgres_engine")
    return SqlMembers(engine), SqlModels(engine)


def test_the_registry_versions_per_owner_and_symbol_scopes_to_the_owner_and_keeps_models_in_use(
    registry: tuple[Any, ModelRegistry],
) -> None:
    members, models = registry
    alice, bob = (members.create_user(name, "hash", NOW) for name in ("alice", "bob"))
    first = models.add_model(_model(alice, b"tree v1"))
    theirs = models.add_model(_model(bob, b"tree bob"))
    eth = models.add_model(_model(alice, b"tree eth", symbol="ETH/USDT"))
    second = models.add_model(_model(alice, b"tree v2"))

    assert [(m.id, m.symbol, m.version, m.size) for m in models.models(alice)] == [
        (first, "BTC/USDT", 1, 7),
        (eth, "ETH/USDT", 1, 8),
        (second, "BTC/USDT", 2, 7),
    ]
    assert [m.version for m in models.models(bob)] == [1]
    info = models.model(alice, second)
    assert (info.feature_set, info.timeframe, info.manifest, info.created_at) == (
        "candles@1",
        "5m",
        {"horizon": 12},
        NOW,
    )
    assert models.model_content(alice, second) == b"tree v2"
    latest = models.latest_model(alice, "BTC/USDT")
    assert latest is not None and latest.id == second
    assert models.latest_model(alice, "SOL/USDT") is None
    assert models.latest_model(bob, "ETH/USDT") is None
    for read in (models.model, models.model_content, models.delete_model):
        with pytest.raises(NotFound, match=f"no model {theirs}"):
            read(alice, theirs)

    _strategy(members, alice, {"model_symbol": "BTC/USDT"})
    _strategy(members, bob, {"model_id": eth})  # not Bob's model: it keeps nothing of Alice's
    models.delete_model(alice, first)  # the symbol's strategy reads the one left
    with pytest.raises(Conflict, match=f"model {second} is used by strategy"):
        models.delete_model(alice, second)
    models.delete_model(alice, eth)

    assert [m.id for m in models.models(alice)] == [second]
    assert models.add_model(_model(alice, b"tree v3")) not in (first, theirs, eth, second)
    assert [m.version for m in models.models(alice)] == [2, 3]


def test_models_are_versioned_scoped_cached_by_version_and_kept_while_used(engine: Engine) -> None:
    members = SqlMembers(engine)
    alice, bob = (members.create_user(name, "hash", NOW) for name in ("alice", "bob"))
    loads: list[str] = []

    def load(text: str) -> Loaded:
        loads.append(text)
        return Loaded(text)

    models = SqlModels(engine, load)
    first = models.add_model(_model(alice, b"tree v1"))
    assert models.add_model(_model(bob, b"tree bob")) != first
    assert [m.version for m in models.models(alice)] == [1]
    assert models.model_content(alice, first) == b"tree v1"
    with pytest.raises(NotFound):
        models.model(bob, first)
    with pytest.raises(NotFound):
        models.model_content(bob, first)

    latest = _strategy(members, alice, {"model_symbol": "BTC/USDT"})
    params = LightgbmParams(model_symbol="BTC/USDT")
    found = models.model_for(latest, params)
    assert found is not None and (found.model_id, found.version) == (first, 1)
    assert models.model_for(latest, params) == found and loads == ["tree v1"]  # cached
    second = models.add_model(_model(alice, b"tree v2"))
    found = models.model_for(latest, params)
    assert found is not None and (found.model_id, found.version) == (second, 2)
    assert isinstance(found.predictor, Loaded) and found.predictor.text == "tree v2"
    assert models.model_of_owner(bob, LightgbmParams(model_id=second)) is None

    # The symbol's strategy needs one model left; a strategy naming an id keeps that one.
    models.delete_model(alice, first)
    with pytest.raises(Conflict):
        models.delete_model(alice, second)
    pinned = models.add_model(_model(alice, b"tree v3"))
    _strategy(members, alice, {"model_id": pinned})
    models.delete_model(alice, second)
    with pytest.raises(Conflict, match="used by strategy"):
        models.delete_model(alice, pinned)
    with pytest.raises(NotFound):
        models.delete_model(bob, pinned)
    assert [m.version for m in models.models(alice)] == [3]


def test_which_version_a_strategy_uses_is_kept_for_its_ttl_and_forgotten_on_an_upload(engine: Engine) -> None:
    members = SqlMembers(engine)
    alice = members.create_user("alice", "hash", NOW)
    clock = [1000.0]
    models = SqlModels(engine, Loaded, lookup_ttl_s=10, timer=lambda: clock[0])
    elsewhere = SqlModels(engine, Loaded)  # another process's registry: its uploads are not heard here
    first = models.add_model(_model(alice, b"tree v1"))
    latest = _strategy(members, alice, {"model_symbol": "BTC/USDT"})
    params = LightgbmParams(model_symbol="BTC/USDT")

    def version() -> int:
        found = models.model_for(latest, params)
        assert found is not None
        return found.version

    assert version() == 1 and version() == 1
    assert (models.lookups.hits, models.lookups.misses) == (1, 1)

    elsewhere.add_model(_model(alice, b"tree v2"))
    clock[0] += 9.9
    assert version() == 1  # kept: no query until the TTL ends
    clock[0] += 0.2
    assert version() == 2
    assert (models.lookups.hits, models.lookups.misses) == (2, 2)

    third = models.add_model(_model(alice, b"tree v3"))  # an upload here applies at once
    assert version() == 3
    models.delete_model(alice, third)
    assert version() == 2 and first
