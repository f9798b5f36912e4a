"""/health/live: the process answers (cheap, for a liveness probe). /health: and its database and bus
work too, or 503 naming what failed (for a readiness probe, a load balancer, monitoring)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from tradewire import __version__
from tradewire.api.auth import RuntimeDep

router = APIRouter(tags=["health"])


class Liveness(BaseModel):
    status: Literal["ok"]
    version: str
    markets: int  # paper markets known


class DependencyCheck(BaseModel):
    ok: bool
    ms: float  # how long the check took
    error: str | None = None  # what failed, in general words (details are in the server's log)


class Health(BaseModel):
    status: Literal["ok", "failing"]
    version: str
    markets: int
    checks: dict[str, DependencyCheck]  # "database", "bus"
    failing: list[str]  # the checks that failed


@router.get("/health/live", response_model=Liveness)
async def live(runtime: RuntimeDep) -> Liveness:
    """Liveness: the process answers and knows its market data; nothing else is asked."""
    return Liveness(status="ok", version=__version__, markets=len(runtime.venue.markets))


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database or the bus failed its check"}},
)
async def health(runtime: RuntimeDep, response: Response) -> Health:
    """Readiness: the database answers a query within the configured time and the bus delivers;
    503 with the failing checks named otherwise."""
    checks = await runtime.health.run()
    failing = [name for name, check in checks.items() if not check.ok]
    if failing:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="failing" if failing else "ok",
        version=__version__,
        markets=len(runtime.venue.markets),
        checks={
            name: DependencyCheck(ok=check.ok, ms=check.ms, error=check.error)
            for name, check in checks.items()
        },
        failing=failing,
    )
