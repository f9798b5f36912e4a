"""The paper exchange's markets."""

from __future__ import annotations

from fastapi import APIRouter

from tradewire.api.auth import RuntimeDep
from tradewire.api.schemas.markets import MarketOut

router = APIRouter(prefix="/api/v1", tags=["markets"])


@router.get("/markets", response_model=list[MarketOut])
async def list_markets(runtime: RuntimeDep) -> list[MarketOut]:
    """The paper exchange's markets, their current price and where that price comes from."""
    return [
        MarketOut(
            symbol=m.symbol,
            id=m.id,
            base=m.base,
            quote=m.quote,
            price=runtime.feed.last_price(m.symbol),
            price_source=runtime.feed.source(m.symbol),
            simulated=runtime.feed.is_simulated(m.symbol),
            amount_step=m.amount_step,
            price_step=m.price_step,
            min_cost=m.min_cost,
        )
        for m in runtime.venue.markets.values()
    ]
