"""Subscription settings of pending intents: each distinct stored JSON text parsed once per page."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradewire.adapters.store.work_items import Settings
from tradewire.domain.confirmation import TradeConfirmation
from tradewire.domain.risk import RiskLimits
from tradewire.domain.tranches import DcaPlan


def test_a_stored_text_is_parsed_once_and_its_settings_shared() -> None:
    settings = Settings()
    parsed: list[object] = []

    def risk(data: object) -> RiskLimits:
        parsed.append(data)
        return RiskLimits.from_json(data)  # type: ignore[arg-type]

    first = settings.of(risk, '{"cooldown_s": 5}')
    again = settings.of(risk, '{"cooldown_s": 5}')
    other = settings.of(risk, '{"cooldown_s": 7}')

    assert first is again and first.cooldown_s == 5 and other.cooldown_s == 7
    assert parsed == [{"cooldown_s": 5}, {"cooldown_s": 7}]


def test_null_and_already_parsed_values_read_as_before() -> None:
    settings = Settings()

    assert settings.of(DcaPlan.from_json, None) is None
    assert settings.of(DcaPlan.from_json, "null") is None
    assert settings.of(RiskLimits.from_json, {"cooldown_s": 3}).cooldown_s == 3
    with pytest.raises(ValueError):
        settings.of(RiskLimits.from_json, "{not json")


def test_confirmation_settings_keep_the_drift_as_written() -> None:
    settings = Settings()

    one = settings.confirmation("api", 300, Decimal("1.0"))
    same = settings.confirmation("api", 300, Decimal("1.0"))
    written_otherwise = settings.confirmation("api", 300, Decimal("1"))

    assert one is same and str(one.max_drift_pct) == "1.0"
    assert str(written_otherwise.max_drift_pct) == "1"
    assert one == TradeConfirmation.of("api", 300, Decimal("1.0"))
