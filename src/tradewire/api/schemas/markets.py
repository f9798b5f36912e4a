"""The paper exchange's markets."""

from __future__ import annotations

from pydantic import BaseModel

from tradewire.api.schemas.common import Money


class MarketOut(BaseModel):
    symbol: str
    id: str
    base: str
    quote: str
    price: Money | None
    price_source: str
    simulated: bool
    amount_step: Money
    price_step: Money
    min_cost: Money | None
