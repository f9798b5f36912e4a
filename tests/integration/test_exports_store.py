"""SqlExports on SQLite and PostgreSQL: each kind of record scoped to its owner, narrowed by account,
strategy and time, paged by id; the tax report's fills in time order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from tests.history import add_fills, add_intent, add_order, add_position, add_signal
from tests.seeding import UNUSABLE_HASH, now, seed_members
from tradewire.adapters.store.exports import SqlExports
from tradewire.adapters.store.members import SqlMembers
from tradewire.domain.orders import OrderSide
from tradewire.ports.exports import COLUMNS, ExportKind, ExportScope

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class World:
    """A provider with a public strategy; Alice and Bob subscribed to it; Bob's private strategy."""

    reads: SqlExports
    provider: int
    alice: int
    bob: int
    stranger: int
    alice_account: int
    bob_account: int
    alice_subscription: int
    bob_subscription: int
    strategy: int
    bob_private: int
    signals: list[int]
    orders: list[int]
    positions: list[int]


@pytest.fixture
def world(engine: Engine) -> World:
    members = SqlMembers(engine)
    seeded = seed_members(members, [{}, {}], slug="exports")
    alice, bob = seeded.subscriber_ids
    alice_account, bob_account = seeded.account_ids
    alice_sub, bob_sub = seeded.subscription_ids
    stranger = members.create_user("stranger", UNUSABLE_HASH, now())
    bob_private = members.create_strategy(
        {
            "owner_id": bob,
            "slug": "bob-private",
            "name": "Bob's",
            "description": "",
            "source": "tradingview",
            "passphrase_hash": UNUSABLE_HASH,
            "is_public": False,
            "created_at": now(),
        }
    )
    # Two signals: the first reached both subscribers, the second Bob only.
    first = add_signal(engine, seeded.strategy_id, T0, ticker="=cmd")
    second = add_signal(engine, seeded.strategy_id, T0 + timedelta(hours=1))
    add_intent(engine, first, alice_sub, alice_account, alice)
    add_intent(engine, first, bob_sub, bob_account, bob)
    add_intent(engine, second, bob_sub, bob_account, bob)
    own = add_signal(engine, bob_private, T0 + timedelta(hours=2))  # Bob's strategy: no intents
    # Alice: an order of her subscription, then one of no subscription (e.g. deleted); Bob: one.
    orders = [
        add_order(engine, alice, alice_account, alice_sub, T0),
        add_order(engine, alice, alice_account, None, T0 + timedelta(days=1), side="sell"),
        add_order(engine, bob, bob_account, bob_sub, T0),
    ]
    add_fills(
        engine,
        orders[0],
        alice_account,
        [{"amount": "0.0020", "price": "60000.123456789012345678", "executed_at": T0 + timedelta(seconds=1)}],
    )
    add_fills(
        engine,
        orders[1],
        alice_account,
        [{"amount": "0.002", "price": "61000", "fee": "0.122", "executed_at": T0 + timedelta(days=1)}],
    )
    add_fills(engine, orders[2], bob_account, [{"amount": "1", "price": "60000", "executed_at": T0}])
    positions = [
        add_position(engine, alice, alice_account, alice_sub, T0),
        add_position(engine, bob, bob_account, bob_sub, T0),
    ]
    return World(
        SqlExports(engine),
        seeded.provider_id,
        alice,
        bob,
        stranger,
        alice_account,
        bob_account,
        alice_sub,
        bob_sub,
        seeded.strategy_id,
        bob_private,
        [first, second, own],
        orders,
        positions,
    )


def ids(world: World, kind: ExportKind, scope: ExportScope) -> list[int]:
    return [row["id"] for row in world.reads.page(kind, scope, None, 100)]


def test_rows_have_exactly_their_columns_with_exact_decimals_and_utc_times(world: World) -> None:
    [first, second] = world.reads.page(ExportKind.FILLS, ExportScope(world.alice), None, 100)

    assert tuple(first) == COLUMNS[ExportKind.FILLS]
    assert first["price"] == Decimal("60000.123456789012345678")
    assert (first["symbol"], first["side"], first["mode"]) == ("BTC/USDT", "buy", "paper")
    assert (first["strategy_id"], second["strategy_id"]) == (world.strategy, None)
    assert first["executed_at"] == T0 + timedelta(seconds=1)
    assert first["executed_at"].utcoffset() == timedelta(0)
    for kind in ExportKind:
        for row in world.reads.page(kind, ExportScope(world.bob), None, 100):
            assert tuple(row) == COLUMNS[kind]


@pytest.mark.parametrize("kind", [ExportKind.ORDERS, ExportKind.FILLS, ExportKind.POSITIONS])
def test_trading_records_are_their_owners_only(world: World, kind: ExportKind) -> None:
    alice = ids(world, kind, ExportScope(world.alice))
    bob = ids(world, kind, ExportScope(world.bob))

    assert alice and bob and not set(alice) & set(bob)
    assert ids(world, kind, ExportScope(world.stranger)) == []
    assert ids(world, kind, ExportScope(world.alice, account_id=world.bob_account)) == []
    assert ids(world, kind, ExportScope(world.alice, account_id=world.alice_account)) == alice


def test_a_strategy_narrows_to_its_subscriptions_records(world: World) -> None:
    scope = ExportScope(world.alice, strategy_id=world.strategy)

    assert ids(world, ExportKind.ORDERS, scope) == world.orders[:1]
    assert len(ids(world, ExportKind.FILLS, scope)) == 1
    assert ids(world, ExportKind.POSITIONS, scope) == world.positions[:1]
    assert ids(world, ExportKind.ORDERS, ExportScope(world.alice, strategy_id=world.bob_private)) == []


def test_signals_are_the_owners_and_those_that_reached_the_user(world: World) -> None:
    first, second, own = world.signals

    assert ids(world, ExportKind.SIGNALS, ExportScope(world.provider)) == [first, second]
    assert ids(world, ExportKind.SIGNALS, ExportScope(world.alice)) == [first]
    assert ids(world, ExportKind.SIGNALS, ExportScope(world.bob)) == [first, second, own]
    assert ids(world, ExportKind.SIGNALS, ExportScope(world.bob, account_id=world.bob_account)) == [
        first,
        second,
    ]
    assert ids(world, ExportKind.SIGNALS, ExportScope(world.bob, strategy_id=world.bob_private)) == [own]
    assert ids(world, ExportKind.SIGNALS, ExportScope(world.stranger)) == []
    [row] = world.reads.page(ExportKind.SIGNALS, ExportScope(world.alice), None, 10)
    assert (row["strategy_slug"], row["ticker"], row["contracts"]) == ("exports", "=cmd", Decimal("0.5"))


def test_time_ranges_include_the_start_and_exclude_the_end(world: World) -> None:
    def orders(start: datetime | None, end: datetime | None) -> list[int]:
        return ids(world, ExportKind.ORDERS, ExportScope(world.alice, start=start, end=end))

    assert orders(T0, T0 + timedelta(days=1)) == world.orders[:1]
    assert orders(T0 + timedelta(microseconds=1), None) == world.orders[1:2]
    assert orders(None, T0) == []
    assert ids(world, ExportKind.SIGNALS, ExportScope(world.bob, start=T0 + timedelta(minutes=30))) == [
        world.signals[1],
        world.signals[2],
    ]


def test_pages_follow_ids(world: World) -> None:
    scope = ExportScope(world.bob)
    first_page = world.reads.page(ExportKind.SIGNALS, scope, None, 2)
    next_page = world.reads.page(ExportKind.SIGNALS, scope, first_page[-1]["id"], 2)

    assert [r["id"] for r in first_page + next_page] == world.signals


def test_accounts_and_strategies_a_user_may_name(world: World) -> None:
    reads = world.reads

    assert reads.owns_account(world.alice, world.alice_account)
    assert not reads.owns_account(world.alice, world.bob_account)
    assert reads.sees_strategy(world.alice, world.strategy)  # public
    assert reads.sees_strategy(world.bob, world.bob_private)
    assert not reads.sees_strategy(world.alice, world.bob_private)


def test_tax_fills_come_in_time_order_in_pages_and_stop_before_the_bound(
    engine: Engine, world: World
) -> None:
    order = add_order(engine, world.alice, world.alice_account, None, T0)
    later, earlier = T0 + timedelta(days=3), T0 + timedelta(days=2)
    # Stored out of time order, two at the same instant (the id decides), one past the bound.
    add_fills(
        engine,
        order,
        world.alice_account,
        [
            {"amount": "1", "price": "10", "executed_at": later},
            {"amount": "2", "price": "10", "executed_at": earlier, "fee": "0.01", "fee_currency": "BNB"},
            {"amount": "3", "price": "10", "executed_at": later},
            {"amount": "4", "price": "10", "executed_at": T0 + timedelta(days=9)},
        ],
    )
    bound = T0 + timedelta(days=5)

    pages, after = [], None
    while page := world.reads.fills_in_time_order(world.alice_account, bound, after, 2):
        pages.append(page)
        after = (page[-1].executed_at, page[-1].fill_id)

    fills = [f for page in pages for f in page]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [(f.amount, f.executed_at) for f in fills] == [
        (Decimal("0.002"), T0 + timedelta(seconds=1)),
        (Decimal("0.002"), T0 + timedelta(days=1)),
        (Decimal(2), earlier),
        (Decimal(1), later),
        (Decimal(3), later),
    ]
    assert [f.side for f in fills[:2]] == [OrderSide.BUY, OrderSide.SELL]
    assert (fills[2].fee, fills[2].fee_currency, fills[2].symbol) == (Decimal("0.01"), "BNB", "BTC/USDT")
    assert world.reads.fills_in_time_order(world.bob_account, bound, None, 10)[0].amount == 1
