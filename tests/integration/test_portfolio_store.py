"""The positions a portfolio summary counts, read from SQLite and PostgreSQL: the user's own, newest
first, narrowed to an account, exact decimals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine

from tests.history import add_position
from tests.support import seed_marketplace
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.reports import SqlReports
from tradewire.adapters.store.tables import positions
from tradewire.domain.portfolio import PositionResult
from tradewire.domain.records import OpenPosition

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


def test_open_positions_of_users_are_theirs_open_newest_first_and_bounded(engine: Engine) -> None:
    seeded = seed_marketplace(engine, [{}, {}, {}])
    alice, bob, carol = seeded.subscriber_ids
    opened = []
    for user, account, subscription in zip(
        seeded.subscriber_ids, seeded.account_ids, seeded.subscription_ids, strict=True
    ):
        add_position(engine, user, account, subscription, AT)  # closed: never marked
        position = add_position(engine, user, account, subscription, AT)
        with write_transaction(engine) as conn:
            conn.execute(
                positions.update()
                .where(positions.c.id == position)
                .values(status="open", amount=Decimal("0.00012345"), closed_at=None, close_reason=None)
            )
        opened.append(position)
    reports = SqlReports(engine)

    found = reports.open_positions_of_users([bob, alice], 10)

    assert found == [
        OpenPosition(
            opened[1],
            bob,
            seeded.account_ids[1],
            "paper",
            "paper",
            "BTC/USDT",
            Decimal("0.00012345"),
            Decimal("60000.1"),
        ),
        OpenPosition(
            opened[0],
            alice,
            seeded.account_ids[0],
            "paper",
            "paper",
            "BTC/USDT",
            Decimal("0.00012345"),
            Decimal("60000.1"),
        ),
    ]
    assert [p.position_id for p in reports.open_positions_of_users([alice, bob, carol], 2)] == opened[:0:-1]
    assert reports.open_positions_of_users([], 10) == []
