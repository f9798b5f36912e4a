"""Confirm before trade, the pure part: the settings' bounds and columns, the price drift that refuses
a confirmed entry, and the reasons an owner reads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradewire.domain.confirmation import (
    ConfirmVia,
    TradeConfirmation,
    declined_reason,
    drift_refusal,
    expired_reason,
)
from tradewire.domain.members import SubscriptionChanges


def test_the_defaults_send_entries_at_once() -> None:
    default = TradeConfirmation()
    assert (default.via, default.timeout_s, default.max_drift_pct, default.waits) == (
        ConfirmVia.NONE,
        300,
        Decimal(1),
        False,
    )
    assert all(
        TradeConfirmation(via).waits for via in (ConfirmVia.API, ConfirmVia.DASHBOARD, ConfirmVia.TELEGRAM)
    )


@pytest.mark.parametrize(("timeout_s", "drift"), [(9, "1"), (86_401, "1"), (300, "-0.01"), (300, "100.5")])
def test_settings_out_of_bounds_are_refused(timeout_s: int, drift: str) -> None:
    with pytest.raises(ValueError):
        TradeConfirmation(ConfirmVia.API, timeout_s, Decimal(drift))
    with pytest.raises(ValueError):
        SubscriptionChanges(
            confirmation_timeout_s=timeout_s, max_confirm_drift_pct=Decimal(drift)
        ).confirmation_columns()


def test_stored_columns_read_back_and_old_rows_take_the_defaults() -> None:
    settings = TradeConfirmation(ConfirmVia.TELEGRAM, 10, Decimal("0.25"))
    columns = settings.columns()
    assert TradeConfirmation.of(*columns.values()) == settings
    assert TradeConfirmation.of(None, None, None) == TradeConfirmation()
    assert SubscriptionChanges(confirmation_timeout_s=60).confirmation_columns() == {
        "confirmation_timeout_s": 60
    }


def test_a_drift_beyond_the_limit_either_way_refuses_and_the_limit_itself_passes() -> None:
    assert drift_refusal(Decimal(100), Decimal(101), Decimal(1)) is None
    assert drift_refusal(Decimal(100), Decimal(99), Decimal(1)) is None
    assert drift_refusal(Decimal(100), Decimal("98.9"), Decimal(1)) == (
        "price moved 1.10% since the signal (100 -> 98.9), more than the 1% allowed at confirmation: "
        "nothing traded"
    )
    assert drift_refusal(Decimal(100), Decimal("100.01"), Decimal(0)) is not None
    assert drift_refusal(None, Decimal(5), Decimal(0)) is None  # nothing to measure from


def test_the_reasons_say_nothing_traded() -> None:
    assert declined_reason("alice") == "declined by alice: nothing traded"
    assert expired_reason(300) == "not confirmed within 300 s: nothing traded"
