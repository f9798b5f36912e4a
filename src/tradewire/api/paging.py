"""Query parameters of every list endpoint: a bounded page size and keyset paging by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from tradewire.api.fields import DbId

Limit = Annotated[int, Query(ge=1, le=1000)]
Before = Annotated[DbId | None, Query(description="page: only ids below this one")]
