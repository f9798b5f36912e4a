"""Trained models the `lightgbm` strategy reads (the registry; LightGBM itself is an adapter)."""

from __future__ import annotations

from typing import NamedTuple, Protocol

from tradewire.domain.ml.strategy import LightgbmParams, Predictor

__all__ = ["LoadedModel", "ModelSource", "Predictor"]


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
