"""/health/live: the process answers (cheap, for a liveness probe). /health: and its database and bus
work too, or 503 naming what failed (for a readiness probe, a load balancer, monitoring).
/api/v1/health/details: what the dashboard's Health page shows, for a signed-in user."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from tradewire import __version__
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.schemas.health import (
    AccountHealthOut,
    CheckOut,
    ExchangeHealthOut,
    HealthDetailsOut,
    ProblemOut,
)

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


@router.get("/api/v1/health/details", response_model=HealthDetailsOut)
async def health_details(runtime: RuntimeDep, user: CurrentUser) -> HealthDetailsOut:
    """The database and bus checks, the exit monitor's lag, the live channel's clients, and each of
    your exchange accounts' health: circuit breaker, last latency, last failure (its kind) and
    rate-limit headroom (live accounts in use; paper has no exchange to wait on). Admins also see
    every live account in use and the process's last warnings and errors (secrets blanked)."""
    found = await runtime.health_details.of(user)
    failing = [name for name, check in found.checks.items() if not check.ok]
    return HealthDetailsOut(
        status="failing" if failing else "ok",
        checks={name: CheckOut(ok=c.ok, ms=c.ms, error=c.error) for name, c in found.checks.items()},
        monitor_lag_s=found.monitor_lag_s,
        monitor_rounds=found.monitor_rounds,
        monitor_batch_ms=found.monitor_batch_ms,
        ws_clients=found.ws_clients,
        accounts=[
            AccountHealthOut(
                account_id=a.account_id,
                name=a.name,
                exchange=a.exchange,
                mode=a.mode,
                health=None
                if a.health is None
                else ExchangeHealthOut(
                    circuit=a.health.circuit,
                    retry_in_s=a.health.retry_in_s,
                    last_latency_ms=a.health.last_latency_ms,
                    last_call_at=a.health.last_call_at,
                    last_error=a.health.last_error,
                    last_error_at=a.health.last_error_at,
                    rate_per_s=a.health.rate_per_s,
                    headroom_pct=a.health.headroom_pct,
                    blocked_s=a.health.blocked_s,
                ),
                note=a.note,
            )
            for a in found.accounts
        ],
        errors=None if found.errors is None else [ProblemOut(**e) for e in found.errors],
        as_of=found.as_of,
    )
