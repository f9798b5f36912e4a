"""Models: a user uploads a trained LightGBM model (checked in a child process before it is kept),
lists, reads, downloads and deletes their own; another user's model answers like one that does not
exist."""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from tradewire.domain.candles import timeframe_ms
from tradewire.domain.members import Invalid
from tradewire.domain.ml.features import FEATURE_SET
from tradewire.domain.ml.strategy import LightgbmParams, LightgbmStrategy
from tradewire.domain.strategies.definition import StrategyDefinition
from tradewire.ports import Clock
from tradewire.ports.models import ModelInfo, ModelRegistry, ModelValidator, NewModel

SYMBOL = re.compile(r"^[A-Z0-9]{1,16}/[A-Z0-9]{1,16}(:[A-Z0-9]{1,16})?$")
FEATURE_SETS = {FEATURE_SET.key: FEATURE_SET}  # the feature sets a model may read


@dataclass(frozen=True, slots=True)
class ModelUpload:
    """An uploaded model file and what it is: a manifest (as `tradewire ml train` writes it) and/or
    the symbol and feature set ("name@version") given as fields."""

    content: bytes = field(repr=False)
    manifest: dict[str, Any] | None = None
    symbol: str | None = None
    feature_set: str | None = None
    timeframe: str | None = None


@dataclass(slots=True, eq=False)
class Models:
    """The models a user keeps for their `lightgbm` strategies."""

    registry: ModelRegistry
    validator: ModelValidator
    clock: Clock
    concurrent_checks: int = 2  # child processes checking uploads at once (each up to its memory limit)
    _checks: asyncio.Semaphore | None = None

    async def upload(self, owner_id: int, upload: ModelUpload) -> ModelInfo:
        """Check the upload's description, then the model itself in a child process; keep it as the
        owner's next version for its symbol. Invalid says what is wrong."""
        manifest = upload.manifest or {}
        symbol = _agreed("symbol", upload.symbol, manifest.get("symbol"))
        if not isinstance(symbol, str) or not SYMBOL.match(symbol):
            raise Invalid("symbol: give a unified symbol like BTC/USDT (a field or the manifest's)")
        key = _agreed("feature_set", upload.feature_set, _manifest_feature_set(manifest))
        feature_set = FEATURE_SETS.get(key) if isinstance(key, str) else None
        if feature_set is None:
            raise Invalid(f"feature_set: one of {', '.join(sorted(FEATURE_SETS))}")
        declared = manifest.get("feature_set")
        names = declared.get("names") if isinstance(declared, dict) else None
        if names is not None and (not isinstance(names, list) or tuple(names) != feature_set.names):
            raise Invalid(f"the manifest's feature names are not those of {feature_set.key}")
        timeframe = _agreed("timeframe", upload.timeframe, manifest.get("timeframe"))
        if timeframe is not None and not _is_timeframe(timeframe):
            raise Invalid("timeframe: a timeframe like 5m")
        if not upload.content:
            raise Invalid("file: the model file is empty")
        digest = hashlib.sha256(upload.content).hexdigest()
        if "sha256" in manifest and manifest["sha256"] != digest:
            raise Invalid("the file's sha256 is not the manifest's: not the model it describes")
        if self._checks is None:
            self._checks = asyncio.Semaphore(self.concurrent_checks)
        async with self._checks:
            reason = await asyncio.to_thread(self.validator.validate, upload.content, feature_set.names)
        if reason is not None:
            raise Invalid(f"not a usable model: {reason}")
        new = NewModel(
            owner_id=owner_id,
            symbol=symbol,
            feature_set=feature_set.key,
            timeframe=timeframe,
            manifest=manifest,
            sha256=digest,
            content=upload.content,
            created_at=self.clock.now(),
        )
        model_id = await asyncio.to_thread(self.registry.add_model, new)
        return await self.get(owner_id, model_id)

    async def mine(self, owner_id: int) -> list[ModelInfo]:
        return await asyncio.to_thread(self.registry.models, owner_id)

    async def get(self, owner_id: int, model_id: int) -> ModelInfo:
        return await asyncio.to_thread(self.registry.model, owner_id, model_id)

    async def content(self, owner_id: int, model_id: int) -> tuple[ModelInfo, bytes]:
        info = await self.get(owner_id, model_id)
        return info, await asyncio.to_thread(self.registry.model_content, owner_id, model_id)

    async def delete(self, owner_id: int, model_id: int) -> None:
        """Conflict while one of the owner's strategies uses it."""
        await asyncio.to_thread(self.registry.delete_model, owner_id, model_id)


async def check_model(registry: ModelRegistry | None, owner_id: int, definition: StrategyDefinition) -> None:
    """A `lightgbm` definition names a model of its owner's (by id, or a symbol they have one for);
    Invalid otherwise, so that no strategy is kept that would never trade."""
    if definition.builtin != LightgbmStrategy.name:
        return
    params = LightgbmParams.model_validate(definition.params)  # the definition was checked already
    if registry is None:
        raise Invalid("models are not available on this server")
    if params.model_id is not None:
        try:
            await asyncio.to_thread(registry.model, owner_id, params.model_id)
        except LookupError:
            raise Invalid(f"params.model_id: you have no model {params.model_id}") from None
    elif await asyncio.to_thread(registry.latest_model, owner_id, params.model_symbol or "") is None:
        raise Invalid(f"params.model_symbol: you have no model for {params.model_symbol}")


def _manifest_feature_set(manifest: dict[str, Any]) -> Any:
    declared = manifest.get("feature_set")
    if isinstance(declared, dict):
        return f"{declared.get('name')}@{declared.get('version')}"
    return declared


def _agreed(name: str, given: Any, declared: Any) -> Any:
    if given is not None and declared is not None and given != declared:
        raise Invalid(f"{name}: {given!r} given, but the manifest says {declared!r}")
    return given if given is not None else declared


def _is_timeframe(value: object) -> bool:
    """A timeframe candles come in (5m, 1h, ...): not any 8 characters, such as a NUL PostgreSQL
    cannot store."""
    if not isinstance(value, str) or len(value) > 8:
        return False
    try:
        timeframe_ms(value)
    except ValueError:
        return False
    return True
