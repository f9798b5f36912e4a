"""`tradewire.ports.models.ModelRegistry` in memory (no database), for the models use cases' unit tests.

It keeps SqlModels' rules (tests/integration/test_models_store.py runs the same assertions on both):
versions count 1, 2, ... per owner and symbol; every read is scoped to the owner (another user's
model is NotFound); a model one of the owner's strategies reads (by id, or as the only one left for
the symbol it names: the SQL store's own rule, `_uses`) is not deleted (Conflict).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.fakes.memory_members import MemoryMembers
from tests.fakes.memory_signin import MissingRow
from tradewire.adapters.store.models import _uses
from tradewire.domain.members import Conflict, NotFound
from tradewire.ports.models import ModelInfo, NewModel


@dataclass
class MemoryModels:
    """The models users upload; their strategies (which a delete must not break) are `members`'."""

    members: MemoryMembers
    kept: dict[int, NewModel] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)
    next_id: int = 1

    def add_model(self, model: NewModel) -> int:
        if model.owner_id not in self.members.users:
            raise MissingRow(f"no user {model.owner_id}")
        model_id, self.next_id = self.next_id, self.next_id + 1
        last = max((m.version for m in self._mine(model.owner_id) if m.symbol == model.symbol), default=0)
        self.kept[model_id] = model
        self.versions[model_id] = last + 1
        return model_id

    def _info(self, model_id: int) -> ModelInfo:
        m = self.kept[model_id]
        version = self.versions[model_id]
        return ModelInfo(
            model_id, m.symbol, version, m.feature_set, m.timeframe, dict(m.manifest), m.sha256,
            len(m.content), m.created_at,
        )  # fmt: skip

    def _mine(self, owner_id: int) -> list[ModelInfo]:
        return [self._info(i) for i, m in sorted(self.kept.items()) if m.owner_id == owner_id]

    def models(self, owner_id: int) -> list[ModelInfo]:
        return self._mine(owner_id)

    def _own(self, owner_id: int, model_id: int) -> NewModel:
        found = self.kept.get(model_id)
        if found is None or found.owner_id != owner_id:
            raise NotFound(f"no model {model_id}")
        return found

    def model(self, owner_id: int, model_id: int) -> ModelInfo:
        self._own(owner_id, model_id)
        return self._info(model_id)

    def model_content(self, owner_id: int, model_id: int) -> bytes:
        return self._own(owner_id, model_id).content

    def latest_model(self, owner_id: int, symbol: str) -> ModelInfo | None:
        found = [m for m in self._mine(owner_id) if m.symbol == symbol]
        return max(found, key=lambda m: m.version, default=None)

    def delete_model(self, owner_id: int, model_id: int) -> None:
        symbol = self._own(owner_id, model_id).symbol
        others = any(m.symbol == symbol and m.id != model_id for m in self._mine(owner_id))
        users = [
            strategy_id
            for strategy_id, stored in sorted(self.members.strategies_.items())
            if stored.new.owner_id == owner_id and _uses(stored.definition, model_id, symbol, others)
        ]
        if users:
            raise Conflict(f"model {model_id} is used by strategy {', '.join(map(str, users))}")
        del self.kept[model_id]
        del self.versions[model_id]
