"""The positions a portfolio summary counts, read from SQLite and PostgreSQL: the user's own, newest
first, narrowed to an account, exact decimals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine

from tests.history import add_position
from tests.support import seed_marketplace
from tradewire.adapters.store.reports import SqlReports
from tradewire.domain.portfolio import PositionResult

AT = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_position_results_are_the_users_own_newest_first_per_account(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}, {}])
    alice, bob = seeded.subscriber_ids
    alice_account, bob_account = seeded.account_ids
    first = add_position(engine, alice, alice_account, seeded.subscription_ids[0], AT)
    second = add_position(engine, alice, alice_account, seeded.subscription_ids[0], AT)
    add_position(engine, bob, bob_account, seeded.subscription_ids[1], AT)
    reports = SqlReports(engine)

    results = reports.position_results(alice, None, 10)

    assert second > first
    assert (
        results
        == [
            PositionResult("paper", "BTC/USDT", "closed", Decimal("12.5"), Decimal("0.06"), AT),
        ]
        * 2
    )
    assert len(reports.position_results(alice, None, 1)) == 1
    assert reports.position_results(alice, bob_account, 10) == []  # another's account shows nothing
    assert len(reports.position_results(bob, bob_account, 10)) == 1
