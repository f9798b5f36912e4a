"""Trained models in the database: the registry (per owner and symbol, numbered versions) and the
source the `lightgbm` strategy and backtests load them from.

Loaded predictors are cached by (model id, version). Which version a strategy uses (its owner's model
by id, or the latest for a symbol) is looked up again at most every `lookup_ttl_s` seconds, and at once
after an upload or a delete (in another process too, when split processes share `lookups`'
invalidations: adapters/cache_peers.py): a strategy naming a symbol's latest model gets a new
version's predictor at its next evaluation after that, and the strategy runner's evaluations in
between cost no query. The content was checked at upload (ModelValidator, in a child process) before
it was stored here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.exc import IntegrityError

from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.tables import models, strategies
from tradewire.domain.members import Conflict, NotFound
from tradewire.domain.ml.strategy import LightgbmParams, LightgbmStrategy, Predictor
from tradewire.ports.models import LoadedModel, ModelInfo, NewModel
from tradewire.services.caches import TtlCache

_INFO = [c for c in models.c if c.name not in ("content", "owner_id")]


def _info(row: Any) -> ModelInfo:
    return ModelInfo(**{c.name: row[c.name] for c in _INFO})


class SqlModels(SqlTables):
    """`ModelRegistry`, `ModelSource` and `OwnerModels` over the `models` table."""

    def __init__(
        self,
        engine: Engine,
        load: Callable[[str], Predictor] | None = None,
        cache_size: int = 64,
        lookup_ttl_s: float = 0.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(engine)
        self._load = load
        self._cache: OrderedDict[tuple[int, int], Predictor] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        # (strategy id, model id, model symbol) -> (owner id, (model id, version)), None: no model
        self.lookups: TtlCache[tuple[int, int | None, str | None], tuple[int, tuple[int, int]] | None] = (
            TtlCache("model_lookups", lookup_ttl_s, timer=timer)
        )

    # -- the registry ----------------------------------------------------------------------------

    def add_model(self, model: NewModel) -> int:
        for _ in range(5):
            try:
                with write_transaction(self.engine) as conn:
                    last = conn.execute(
                        select(func.max(models.c.version)).where(
                            models.c.owner_id == model.owner_id, models.c.symbol == model.symbol
                        )
                    ).scalar()
                    key = conn.execute(
                        models.insert().values(
                            owner_id=model.owner_id,
                            symbol=model.symbol,
                            version=(last or 0) + 1,
                            feature_set=model.feature_set,
                            timeframe=model.timeframe,
                            manifest=model.manifest,
                            sha256=model.sha256,
                            size=len(model.content),
                            content=model.content,
                            created_at=model.created_at,
                        )
                    ).inserted_primary_key
                assert key is not None
                self.lookups.clear()  # the symbol's latest version is this one now
                return int(key[0])
            except IntegrityError:
                continue
        raise Conflict(f"another upload for {model.symbol} took its version number; try again")

    def models(self, owner_id: int) -> list[ModelInfo]:
        query = select(*_INFO).where(models.c.owner_id == owner_id).order_by(models.c.id)
        with self.engine.connect() as conn:
            return [_info(r._mapping) for r in conn.execute(query)]

    def model(self, owner_id: int, model_id: int) -> ModelInfo:
        query = select(*_INFO).where(models.c.id == model_id, models.c.owner_id == owner_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"no model {model_id}")
        return _info(row._mapping)

    def model_content(self, owner_id: int, model_id: int) -> bytes:
        query = select(models.c.content).where(models.c.id == model_id, models.c.owner_id == owner_id)
        with self.engine.connect() as conn:
            content = conn.execute(query).scalar()
        if content is None:
            raise NotFound(f"no model {model_id}")
        return bytes(content)

    def latest_model(self, owner_id: int, symbol: str) -> ModelInfo | None:
        query = (
            select(*_INFO)
            .where(models.c.owner_id == owner_id, models.c.symbol == symbol)
            .order_by(models.c.version.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _info(row._mapping)

    def delete_model(self, owner_id: int, model_id: int) -> None:
        with write_transaction(self.engine) as conn:
            found = conn.execute(
                select(models.c.symbol).where(models.c.id == model_id, models.c.owner_id == owner_id)
            ).first()
            if found is None:
                raise NotFound(f"no model {model_id}")
            symbol = found[0]
            others = conn.execute(
                select(func.count())
                .select_from(models)
                .where(models.c.owner_id == owner_id, models.c.symbol == symbol, models.c.id != model_id)
            ).scalar()
            users = [
                strategy_id
                for strategy_id, definition in conn.execute(
                    select(strategies.c.id, strategies.c.definition).where(
                        strategies.c.owner_id == owner_id, strategies.c.definition.is_not(None)
                    )
                )
                if _uses(definition, model_id, symbol, bool(others))
            ]
            if users:
                raise Conflict(f"model {model_id} is used by strategy {', '.join(map(str, users))}")
            conn.execute(delete(models).where(models.c.id == model_id))
        self.lookups.clear()

    # -- the source of predictors ----------------------------------------------------------------

    def model_for(self, strategy_id: int, params: LightgbmParams) -> LoadedModel | None:
        found = self.lookups.get(
            (strategy_id, params.model_id, params.model_symbol), lambda: self._look_up(strategy_id, params)
        )
        return None if found is None else self._loaded(*found)

    def _look_up(self, strategy_id: int, params: LightgbmParams) -> tuple[int, tuple[int, int]] | None:
        """The strategy's owner and the (model id, version) it uses now."""
        with self.engine.connect() as conn:
            owner = conn.execute(select(strategies.c.owner_id).where(strategies.c.id == strategy_id)).scalar()
            key = None if owner is None else _version(conn, int(owner), params)
        return None if owner is None or key is None else (int(owner), key)

    def model_of_owner(self, owner_id: int, params: LightgbmParams) -> LoadedModel | None:
        with self.engine.connect() as conn:
            key = _version(conn, owner_id, params)
        return None if key is None else self._loaded(owner_id, key)

    def _loaded(self, owner_id: int, key: tuple[int, int]) -> LoadedModel:
        with self._lock:
            predictor = self._cache.get(key)
            if predictor is not None:
                self._cache.move_to_end(key)
                return LoadedModel(key[0], key[1], predictor)
        predictor = self._predictor(owner_id, key[0])
        with self._lock:
            self._cache[key] = predictor
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return LoadedModel(key[0], key[1], predictor)

    def _predictor(self, owner_id: int, model_id: int) -> Predictor:
        if self._load is None:
            raise RuntimeError("SqlModels was built without a model loader")
        return self._load(self.model_content(owner_id, model_id).decode("utf-8"))


def _version(conn: Connection, owner_id: int, params: LightgbmParams) -> tuple[int, int] | None:
    """(model id, version) of the owner's model `params` names: by id, or the symbol's latest."""
    query = select(models.c.id, models.c.version).where(models.c.owner_id == owner_id)
    if params.model_id is not None:
        query = query.where(models.c.id == params.model_id)
    else:
        query = query.where(models.c.symbol == params.model_symbol).order_by(models.c.version.desc())
    row = conn.execute(query.limit(1)).first()
    return None if row is None else (int(row[0]), int(row[1]))


def _uses(definition: Any, model_id: int, symbol: str, others: bool) -> bool:
    """Whether a strategy definition reads this model: by its id, or as the only one left for the
    symbol it names."""
    if not isinstance(definition, dict) or definition.get("builtin") != LightgbmStrategy.name:
        return False
    params = definition.get("params") or {}
    if not isinstance(params, dict):
        return False
    return params.get("model_id") == model_id or (params.get("model_symbol") == symbol and not others)
