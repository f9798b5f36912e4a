"""The platform's trading state and what restricts every subscription beyond its own state.

An admin sets the platform's state (ACTIVE, REDUCING or HALTED, meaning what a subscription's own
state means, domain/risk.py); a disabled user's subscriptions trade exits only (REDUCING). Each
subscription trades under the most restrictive of its own state, the platform's and its owner's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tradewire.domain.risk import TradingState, most_restrictive

MAX_REASON_CHARS = 200
SUBSCRIPTION = "subscription"  # a trading state set on the subscription itself


@dataclass(frozen=True, slots=True)
class PlatformTrading:
    """The platform's trading state as last set, by whom, when and why (None: never set)."""

    state: TradingState = TradingState.ACTIVE
    reason: str | None = None
    changed_by: str | None = None
    changed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Restrictions:
    """The platform's state and the disabled users, read together where orders are decided and sent."""

    platform: TradingState = TradingState.ACTIVE
    disabled_users: frozenset[int] = field(default_factory=frozenset)

    def state(self, own: TradingState, user_id: int | None) -> TradingState:
        """The state an order of `user_id`'s subscription (in `own` state) obeys now."""
        return most_restrictive(own, self.platform, self.owner_state(user_id))

    def owner_state(self, user_id: int | None) -> TradingState:
        disabled = user_id is not None and user_id in self.disabled_users
        return TradingState.REDUCING if disabled else TradingState.ACTIVE

    def source(self, own: TradingState, user_id: int | None) -> str:
        """What set the state `state(own, user_id)` answers, for reasons shown to users: the
        subscription itself, the platform, or the owner being disabled."""
        state = self.state(own, user_id)
        if own is state:
            return SUBSCRIPTION
        if self.platform is state:
            return "platform trading"
        return "disabled owner's subscription"

    def why(self, own: TradingState, user_id: int | None) -> str:
        """`source` and the state, e.g. "platform trading HALTED"."""
        return f"{self.source(own, user_id)} {self.state(own, user_id).value}"

    @property
    def unrestricted(self) -> bool:
        return self.platform is TradingState.ACTIVE and not self.disabled_users
