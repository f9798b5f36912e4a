"""Trained models: the registry users upload to, and what the `lightgbm` strategy reads (LightGBM
itself is an adapter)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from tradewire.domain.ml.strategy import LightgbmParams, Predictor

__all__ = [
    "LoadedModel",
    "ModelInfo",
    "ModelRegistry",
    "ModelSource",
    "ModelValidator",
    "NewModel",
    "OwnerModels",
    "Predictor",
]


class LoadedModel(NamedTuple):
    """A model ready to predict, and the version it is (a new version swaps the predictor)."""

    model_id: int
    version: int
    predictor: Predictor


class ModelSource(Protocol):
    def model_for(self, strategy_id: int, params: LightgbmParams) -> LoadedModel | None:
        """The model `params` names (its id, or the latest version for its symbol among the
        strategy owner's models), loaded; None when there is none. Loading is cached by version."""
        ...


class OwnerModels(Protocol):
    def model_of_owner(self, owner_id: int, params: LightgbmParams) -> LoadedModel | None:
        """As `ModelSource.model_for`, for the models of `owner_id` (backtests name no strategy)."""
        ...


@dataclass(frozen=True, slots=True)
class NewModel:
    """An uploaded model, validated, to keep: its version is the owner's next for `symbol`."""

    owner_id: int
    symbol: str
    feature_set: str  # "name@version"
    timeframe: str | None
    manifest: dict[str, Any]
    sha256: str
    content: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A kept model's metadata (its content is read separately)."""

    id: int
    symbol: str
    version: int
    feature_set: str
    timeframe: str | None
    manifest: dict[str, Any]
    sha256: str
    size: int
    created_at: datetime


class ModelRegistry(Protocol):
    """The models users upload, each scoped to its owner: another user's model raises NotFound."""

    def add_model(self, model: NewModel) -> int:
        """Keep `model` as the owner's next version for its symbol (retried if another upload took
        that number at the same moment)."""

    def models(self, owner_id: int) -> list[ModelInfo]: ...

    def model(self, owner_id: int, model_id: int) -> ModelInfo: ...

    def model_content(self, owner_id: int, model_id: int) -> bytes: ...

    def latest_model(self, owner_id: int, symbol: str) -> ModelInfo | None: ...

    def delete_model(self, owner_id: int, model_id: int) -> None:
        """Conflict while one of the owner's strategies uses it (by id, or as the only model left for
        the symbol a strategy names)."""


class ModelValidator(Protocol):
    def validate(self, content: bytes, feature_names: tuple[str, ...]) -> str | None:
        """None when `content` is a model predicting on these features; otherwise why not. Untrusted
        content: checked in a child process with time and memory limits."""
