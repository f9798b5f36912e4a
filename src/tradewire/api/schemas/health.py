"""The Health page's details (GET /api/v1/health/details)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class CheckOut(BaseModel):
    ok: bool
    ms: float
    error: str | None = None


class ExchangeHealthOut(BaseModel):
    circuit: str = Field(description="closed, open (no calls) or half_open (one trial call)")
    retry_in_s: float = Field(description="while open: seconds until a trial call may go out")
    last_latency_ms: float | None = Field(description="the last call's time, failures included")
    last_call_at: datetime | None
    last_error: str | None = Field(description="the last failed call's kind (timeout, unavailable, ...)")
    last_error_at: datetime | None
    rate_per_s: float = Field(description="the account's request budget")
    headroom_pct: float = Field(description="share of the request burst available now (100: idle)")
    blocked_s: float = Field(description="held back this long more by the exchange's Retry-After")


class AccountHealthOut(BaseModel):
    account_id: int
    name: str | None = Field(description="null: another user's account (admins see every live one)")
    exchange: str
    mode: str
    health: ExchangeHealthOut | None = Field(description="null: paper, or not used since the start")
    note: str


class ProblemOut(BaseModel):
    at: str
    level: str
    logger: str
    message: str


class HealthDetailsOut(BaseModel):
    status: str = Field(description="ok, or failing when the database or the bus failed its check")
    checks: dict[str, CheckOut]
    monitor_lag_s: float | None = Field(description="since the exit monitor last checked every position")
    monitor_rounds: int
    monitor_batch_ms: float
    ws_clients: int = Field(description="live channel connections of this server process")
    accounts: list[AccountHealthOut]
    errors: list[ProblemOut] | None = Field(
        description="admins: the process's last warnings and errors, newest first (null for others)"
    )
    as_of: datetime
