"""What closed positions add to the realised results the risk rules read: the account's net result
of the UTC day, and the subscription's running total with its peak (its drawdown is measured there)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from tradewire.domain.money import ZERO
from tradewire.domain.settlement.positions import ClosedResult


@dataclass(frozen=True, slots=True)
class RunningTotal:
    """A subscription's net realised results, all time, and the highest they have been."""

    total: Decimal
    peak: Decimal

    def plus(self, net: Decimal) -> RunningTotal:
        total = self.total + net
        return RunningTotal(total, max(self.peak, total))


@dataclass(frozen=True, slots=True)
class RealisedResults:
    """Net results to add: per account on `day` (YYYY-MM-DD, UTC), and per subscription."""

    day: str
    per_account: dict[int, Decimal] = field(default_factory=dict)
    per_subscription: dict[int, Decimal] = field(default_factory=dict)

    def daily_after(self, current: Mapping[int, Decimal]) -> dict[int, Decimal]:
        """Each account's result of the day once these are added to what it had (`current`)."""
        return {a: current.get(a, ZERO) + net for a, net in sorted(self.per_account.items())}

    def totals_after(self, current: Mapping[int, RunningTotal]) -> dict[int, RunningTotal]:
        """The running totals of the subscriptions in `current` once these are added."""
        return {sid: total.plus(self.per_subscription[sid]) for sid, total in current.items()}


def realised_results(closed: Sequence[ClosedResult], now: datetime) -> RealisedResults:
    """Sum the closed positions' net results per account (on `now`'s UTC day) and per subscription."""
    per_account: dict[int, Decimal] = {}
    per_subscription: dict[int, Decimal] = {}
    for result in closed:
        per_account[result.account_id] = per_account.get(result.account_id, ZERO) + result.net
        if result.subscription_id is not None:
            per_subscription[result.subscription_id] = (
                per_subscription.get(result.subscription_id, ZERO) + result.net
            )
    return RealisedResults(now.date().isoformat(), per_account, per_subscription)
