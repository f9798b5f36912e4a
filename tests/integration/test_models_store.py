"""The models table on SQLite and PostgreSQL: versions per owner and symbol, owner scoping, the
predictor cache by (model id, version), and no deleting a model a strategy reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.models import SqlModels
from tradewire.domain.members import Conflict, NewStrategy, NotFound, StrategySource
from tradewire.domain.ml.strategy import LightgbmParams
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.ports.models import NewModel

NOW = datetime(2024, 1, 1, tzinfo=UTC)


class Loaded:
    feature_names = ("a",)

    def __init__(self, text: str) -> None:
        self.text = text

    def predict(self, rows: object) -> object:
        return rows


def _model(owner: int, content: bytes, symbol: str = "BTC/USDT") -> NewModel:
    return NewModel(owner, symbol, "candles@1", "5m", {"horizon": 12}, "0" * 64, content, NOW)


def _strategy(members: SqlMembers, owner: int, params: dict[str, object]) -> int:
    definition = StrategyDefinition.model_validate(
        {"builtin": "lightgbm", "params": params, "timeframe": "5m", "symbols": ["BTC/USDT"]}
    )
    return members.add_strategy(
        NewStrategy(
            owner_id=owner,
            slug=f"s-{len(params)}-{params}".replace(" ", "")[:60],
            name="ml",
            description="",
            source=StrategySource.INDICATOR,
            passphrase_hash="x",
            is_public=False,
            created_at=NOW,
            definition=definition,
        )
    )


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
