"""The most restrictive of a subscription's state, the platform's and its owner's wins, and the reason
names which of them restricts."""

from __future__ import annotations

import pytest

from tradewire.domain.platform import Restrictions
from tradewire.domain.risk import TradingState, most_restrictive

A, R, H = TradingState.ACTIVE, TradingState.REDUCING, TradingState.HALTED


@pytest.mark.parametrize(
    ("states", "expected"),
    [((), A), ((A, A), A), ((A, R), R), ((R, A, H), H), ((H, R), H)],
)
def test_the_most_restrictive_state_wins(states: tuple[TradingState, ...], expected: TradingState) -> None:
    assert most_restrictive(*states) is expected


@pytest.mark.parametrize(
    ("own", "platform", "disabled", "state", "why"),
    [
        (A, A, False, A, "subscription ACTIVE"),
        (R, A, False, R, "subscription REDUCING"),
        (A, R, False, R, "platform trading REDUCING"),
        (A, A, True, R, "disabled owner's subscription REDUCING"),
        (R, H, True, H, "platform trading HALTED"),
        (H, R, True, H, "subscription HALTED"),
        (R, R, True, R, "subscription REDUCING"),
    ],
)
def test_restrictions_combine_the_three_and_say_which_restricts(
    own: TradingState, platform: TradingState, disabled: bool, state: TradingState, why: str
) -> None:
    limits = Restrictions(platform, frozenset({7} if disabled else ()))
    assert limits.state(own, 7) is state and limits.why(own, 7) == why
    assert limits.state(own, 8) is most_restrictive(own, platform)  # another user is not disabled
    assert limits.unrestricted is (platform is A and not disabled)
