"""Counting requests against rate limits (implemented in adapters/rate_limits.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    """One check of a limit: allowed or not, and the window's state after it."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # Unix time at which a request is counted off again
    now: float

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.reset_at - self.now))


class RateLimiter(Protocol):
    """Requests per (tier, key) against each tier's limit."""

    def describe(self, tier: str) -> str:
        """The tier's limit, e.g. '120 per 1 minute'."""

    async def hit(self, tier: str, key: str) -> Decision:
        """Count one request of `key` in `tier`, unless the limit is reached."""

    async def peek(self, tier: str, key: str) -> Decision:
        """Whether one more request would be allowed, without counting it."""
