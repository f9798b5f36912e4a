"""What a health page shows of one live exchange account: its circuit breaker, its last call's
latency, its last failure (by kind only: messages stay in the server's log) and its rate limit's
headroom."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ExchangeHealth:
    account_id: int
    exchange: str
    circuit: str  # closed | open | half_open
    retry_in_s: float  # while open: until a trial call goes out
    last_latency_ms: float | None  # the last call's time, failures included; None: no call yet
    last_call_at: datetime | None
    last_error: str | None  # the last failed call's kind (timeout, unavailable, rate_limited, ...)
    last_error_at: datetime | None
    rate_per_s: float  # the account's request budget
    headroom_pct: float  # share of the burst available now (100: idle)
    blocked_s: float  # held back this long more by an exchange's Retry-After
