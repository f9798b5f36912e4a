"""Models: trained LightGBM predictors users upload for their `lightgbm` strategies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ModelOut(BaseModel):
    id: int
    symbol: str = Field(description="the unified symbol it was trained for")
    version: int = Field(description="1, 2, ... per symbol among your models")
    feature_set: str = Field(description="the features it reads, name@version")
    timeframe: str | None
    manifest: dict[str, Any] = Field(description="what `tradewire ml train` wrote: ranges, metrics, ...")
    sha256: str = Field(description="of the model file")
    size: int = Field(description="the model file's size in bytes")
    created_at: datetime
