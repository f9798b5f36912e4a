"""Query parameters of every list endpoint: a bounded page size and keyset paging by id."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from tradewire.api.fields import DbId
from tradewire.domain.records import Page

Limit = Annotated[int, Query(ge=1, le=1000)]
Before = Annotated[DbId | None, Query(description="page: only ids below this one")]


def _page(limit: Limit = 100, before_id: Before = None) -> Page:
    return Page(limit, before_id)


PageQuery = Annotated[Page, Depends(_page)]
