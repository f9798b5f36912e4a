"""The paper exchange: fills from the price feed, fees, limits, idempotency, durability."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event

from tests.seeding import now, paper_account
from tradewire.adapters.paper import books
from tradewire.adapters.paper.catalog import demo_markets
from tradewire.adapters.paper.feed import ReplayFeed
from tradewire.adapters.paper.shared_prices import PriceBoard
from tradewire.adapters.paper.venue import PaperVenue
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.partitions import PartitionLeases
from tradewire.domain.orders import OrderRequest, OrderSide, OrderType
from tradewire.domain.partitions import Partitions
from tradewire.ports import ExchangeError, ExchangeUnavailable, OrderOutcomeUnknown


async def _venue(engine: Engine, price: str = "50000") -> tuple[PaperVenue, ReplayFeed]:
    """A started paper venue on the engine's books, with BTC/USDT at `price` on its feed."""
    markets = demo_markets()
    feed = ReplayFeed({}, markets)
    feed.set_price("BTC/USDT", Decimal(price))
    venue = PaperVenue(engine, feed, markets, starting_balance={"USDT": Decimal(10_000)})
    await venue.start()
    return venue, feed


def _accounts(engine: Engine, count: int) -> list[int]:
    members = SqlMembers(engine)
    user = members.create_user("paper-owner", "x", now())
    return [members.create_account(paper_account(user, name=f"p{i}")) for i in range(count)]


def _buy(
    client_id: str, amount: str = "0.01", kind: OrderType = OrderType.MARKET, price: str | None = None
) -> OrderRequest:
    return OrderRequest(
        client_id, "BTC/USDT", OrderSide.BUY, kind, Decimal(amount), Decimal(price) if price else None
    )


async def test_a_market_buy_fills_at_the_feed_price_with_the_fee(sqlite_engine: Engine) -> None:
    [account] = _accounts(sqlite_engine, 1)
    venue, _ = await _venue(sqlite_engine)

    order = await venue.account(account).create_order(_buy("c-1"))

    assert order.status == "closed"
    assert order.average == Decimal(50000)
    assert order.trades[0].fee == Decimal("0.5")
    assert venue.balance(account) == {"USDT": Decimal("9499.5"), "BTC": Decimal("0.01")}


async def test_the_same_client_order_id_never_trades_twice(sqlite_engine: Engine) -> None:
    [account] = _accounts(sqlite_engine, 1)
    venue, _ = await _venue(sqlite_engine)

    first = await venue.account(account).create_order(_buy("c-1"))
    second = await venue.account(account).create_order(_buy("c-1"))
    restarted, _ = await _venue(sqlite_engine)
    third = await restarted.account(account).create_order(_buy("c-1"))

    assert first == second == third
    assert restarted.balance(account)["BTC"] == Decimal("0.01")


async def test_insufficient_balance_is_refused_and_changes_nothing(sqlite_engine: Engine) -> None:
    [account] = _accounts(sqlite_engine, 1)
    venue, _ = await _venue(sqlite_engine)

    with pytest.raises(ExchangeError, match="insufficient balance"):
        await venue.account(account).create_order(_buy("c-1", amount="1"))

    assert venue.balance(account) == {"USDT": Decimal(10_000)}
    assert (await venue.account(account).fetch_order("BTC/USDT", "c-1")) is not None  # known, as rejected


async def test_orders_below_minimum_notional_are_refused(sqlite_engine: Engine) -> None:
    [account] = _accounts(sqlite_engine, 1)
    venue, _ = await _venue(sqlite_engine, price="96388.12")

    with pytest.raises(ExchangeError, match="minimum notional"):
        await venue.account(account).create_order(_buy("c-1", amount="0.00005"))


async def test_a_resting_limit_order_reserves_funds_and_fills_when_the_price_reaches_it(
    sqlite_engine: Engine,
) -> None:
    [account] = _accounts(sqlite_engine, 1)
    venue, feed = await _venue(sqlite_engine)

    placed = await venue.account(account).create_order(_buy("c-1", kind=OrderType.LIMIT, price="49000"))
    reserved = venue.balance(account)
    untouched = await venue.match_resting_orders()
    feed.set_price("BTC/USDT", Decimal("48900"))
    matched = await venue.match_resting_orders()
    final = await venue.account(account).fetch_order("BTC/USDT", "c-1")

    assert placed.status == "open"
    assert reserved["USDT"] == Decimal(10_000)  # free + used
    assert untouched == 0 and matched == 1
    assert final is not None and final.status == "closed" and final.average == Decimal(49000)
    assert venue.balance(account)["USDT"] == Decimal(10_000) - Decimal(490) - Decimal("0.49")


async def test_cancelling_releases_the_reserve_and_a_late_cancel_reports_the_fill(
    sqlite_engine: Engine,
) -> None:
    [account] = _accounts(sqlite_engine, 1)
    venue, feed = await _venue(sqlite_engine)
    exchange = venue.account(account)
    await exchange.create_order(_buy("c-1", kind=OrderType.LIMIT, price="40000"))
    await exchange.create_order(_buy("c-2", kind=OrderType.LIMIT, price="45000"))

    canceled = await exchange.cancel_order("BTC/USDT", "c-1")
    feed.set_price("BTC/USDT", Decimal("44000"))
    await venue.match_resting_orders()
    late = await exchange.cancel_order("BTC/USDT", "c-2")

    assert canceled.status == "canceled"
    assert late.status == "closed"
    assert venue.balance(account)["BTC"] == Decimal("0.01")


async def test_orders_placed_together_are_committed_in_one_transaction(sqlite_engine: Engine) -> None:
    accounts = _accounts(sqlite_engine, 50)
    venue, _ = await _venue(sqlite_engine)
    commits: list[int] = []
    event.listen(sqlite_engine, "commit", lambda _conn: commits.append(1))

    results = await asyncio.gather(*(venue.account(a).create_order(_buy(f"c-{a}")) for a in accounts))

    assert all(r.status == "closed" for r in results)
    assert len(commits) == 1
    restarted, _ = await _venue(sqlite_engine)
    assert all(restarted.balance(a)["BTC"] == Decimal("0.01") for a in accounts)


async def test_a_batch_of_orders_gets_one_answer_each_and_one_commit(sqlite_engine: Engine) -> None:
    """create_orders (OrderBatches): each order its own view or refusal, in order; an id seen before
    answers with the first order; one order's refusal leaves the others placed."""
    accounts = _accounts(sqlite_engine, 3)
    venue, _ = await _venue(sqlite_engine)
    first = await venue.account(accounts[0]).create_order(_buy("c-0"))
    commits: list[int] = []
    event.listen(sqlite_engine, "commit", lambda _conn: commits.append(1))

    answers = await venue.create_orders(
        [
            (accounts[0], _buy("c-0")),  # seen before: the first order, not a second trade
            (accounts[1], _buy("c-1", amount="1")),  # 50,000 USDT: more than the account has
            (accounts[2], _buy("c-2")),
            (accounts[2], _buy("c-2")),  # twice in one batch: one trade
        ]
    )

    assert answers[0] == first
    assert isinstance(answers[1], ExchangeError) and "insufficient balance" in str(answers[1])
    placed, again = answers[2], answers[3]
    assert not isinstance(placed, Exception) and placed.status == "closed"
    assert again == placed
    assert len(commits) == 1
    assert venue.balance(accounts[1]) == {"USDT": Decimal(10_000)}
    assert venue.balance(accounts[2]) == {"USDT": Decimal("9499.5"), "BTC": Decimal("0.01")}
    assert await venue.account(accounts[2]).fetch_balance() == venue.balance(accounts[2])
    restarted, _ = await _venue(sqlite_engine)
    assert restarted.balance(accounts[2]) == {"USDT": Decimal("9499.5"), "BTC": Decimal("0.01")}


async def test_a_batch_whose_commit_failed_is_unknown_for_each_order(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = _accounts(sqlite_engine, 2)
    venue, _ = await _venue(sqlite_engine)
    real_write = books.write

    def failing_write(*args: object) -> None:
        monkeypatch.setattr(books, "write", real_write)  # once
        raise OSError("disk I/O error")

    monkeypatch.setattr(books, "write", failing_write)
    answers = await venue.create_orders([(a, _buy(f"c-{a}")) for a in accounts])

    assert [type(a) for a in answers] == [OrderOutcomeUnknown, OrderOutcomeUnknown]
    assert all(venue.balance(a) == {"USDT": Decimal(10_000)} for a in accounts)


async def test_an_order_whose_commit_failed_is_forgotten_with_its_reserve(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    [account] = _accounts(sqlite_engine, 1)
    venue, feed = await _venue(sqlite_engine)
    exchange = venue.account(account)
    real_write = books.write

    def failing_write(*args: object) -> None:
        monkeypatch.setattr(books, "write", real_write)  # once
        raise OSError("disk I/O error")

    monkeypatch.setattr(books, "write", failing_write)
    with pytest.raises(OrderOutcomeUnknown):
        await exchange.create_order(_buy("c-1", kind=OrderType.LIMIT, price="49000"))
    feed.set_price("BTC/USDT", Decimal("48000"))
    matched = await venue.match_resting_orders()

    assert matched == 0  # the order never reached the books: nothing of it may fill later
    assert await exchange.fetch_order("BTC/USDT", "c-1") is None
    assert venue.balance(account) == {"USDT": Decimal(10_000)}


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
async def test_an_api_process_venue_reads_the_workers_books_and_places_nothing(engine: Engine) -> None:
    """TRADEWIRE_ROLE=api: balances as the worker stored them; orders refused as never sent."""
    [account, untraded] = _accounts(engine, 2)
    worker, _ = await _venue(engine)
    await worker.account(account).create_order(_buy("c-1"))
    markets = demo_markets()
    reader = PaperVenue(
        engine,
        ReplayFeed({}, markets),
        markets,
        starting_balance={"USDT": Decimal(10_000)},
        keeps_books=False,
    )
    await reader.start()

    mine = await reader.account(account).fetch_balance_detail()
    fresh = await reader.account(untraded).fetch_balance()
    with pytest.raises(ExchangeUnavailable, match="placed by the worker"):
        await reader.account(account).create_order(_buy("c-2"))
    with pytest.raises(ExchangeUnavailable):
        await reader.account(account).cancel_order("BTC/USDT", "c-1")

    assert {a: b.total for a, b in mine.items()} == {"USDT": Decimal("9499.5"), "BTC": Decimal("0.01")}
    assert fresh == {"USDT": Decimal(10_000)}  # the starting balance, as the worker would give it
    assert (await reader.account(account).fetch_order("BTC/USDT", "c-1")) is not None
    assert books.load_order(engine, account, "c-2") is None  # nothing was placed


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
async def test_the_paper_markets_prices_are_shared_through_the_database(engine: Engine) -> None:
    markets = demo_markets()
    market = ReplayFeed({}, markets)
    market.set_price("BTC/USDT", Decimal("50000"))
    market.set_price("ETH/USDT", Decimal("3000"))
    shown = ReplayFeed({}, markets)
    shown.set_price("BTC/USDT", Decimal("1"))
    shown.unpin("BTC/USDT")  # known to the API's feed only through the board

    await PriceBoard(engine, market, now).publish()
    market.follow_live("BTC/USDT", Decimal("50100"), "live:binance")
    await PriceBoard(engine, market, now).publish()  # overwritten, not added
    followed = await PriceBoard(engine, shown, now).follow()

    assert followed == 2
    assert shown.last_price("BTC/USDT") == Decimal("50100")
    assert shown.last_price("ETH/USDT") == Decimal("3000")
    # Where the worker's price comes from is shown too: a real market's, not a replay.
    assert shown.source("BTC/USDT") == "live:binance" and not shown.is_simulated("BTC/USDT")


async def _partitioned_venue(
    engine: Engine, owned: set[int], fence: PartitionLeases | None = None
) -> PaperVenue:
    """A worker's venue beside another worker (2 partitions), holding the books of `owned`."""
    markets = demo_markets()
    feed = ReplayFeed({}, markets)
    feed.set_price("BTC/USDT", Decimal("50000"))
    venue = PaperVenue(engine, feed, markets, starting_balance={"USDT": Decimal(10_000)})
    venue.partition(2, fence)
    await venue.start()
    await venue.take_partitions(Partitions(2, frozenset(owned)))
    return venue


@pytest.mark.parametrize("engine", ["sqlite", "postgres"], indirect=True)
async def test_beside_another_worker_a_venue_trades_only_its_partitions_and_hands_their_books_over(
    engine: Engine,
) -> None:
    """TRADEWIRE_WORKER_PARTITIONS: each worker keeps the books of its partitions' accounts; another
    account's order is never placed (its outcome is looked up by its owner); a partition handed over
    is saved by the giver and loaded by the taker, so the next trade starts from the first's books."""
    accounts = _accounts(engine, 2)
    even = next(a for a in accounts if a % 2 == 0)
    odd = next(a for a in accounts if a % 2 == 1)
    first = await _partitioned_venue(engine, {0})
    second = await _partitioned_venue(engine, {1})

    await first.account(even).create_order(_buy("c-1"))
    with pytest.raises(OrderOutcomeUnknown, match="another worker"):
        await first.account(odd).create_order(_buy("c-2"))
    assert books.load_order(engine, odd, "c-2") is None  # never placed
    # Reading another worker's account reads its stored books and writes nothing.
    assert await first.account(odd).fetch_balance() == {"USDT": Decimal(10_000)}
    await second.account(odd).create_order(_buy("c-3", amount="0.02"))
    assert await first.account(odd).fetch_balance() == {"USDT": Decimal("8999.0"), "BTC": Decimal("0.02")}

    await first.give_partitions(Partitions(2, frozenset({0})))
    with pytest.raises(OrderOutcomeUnknown):
        await first.account(even).create_order(_buy("c-4"))
    await second.take_partitions(Partitions(2, frozenset({0})))
    await second.account(even).create_order(_buy("c-5"))

    assert second.balance(even) == {"USDT": Decimal("8999.0"), "BTC": Decimal("0.02")}  # both buys
    assert await second.account(even).fetch_order("BTC/USDT", "c-1") is not None
    assert books.load_order(engine, even, "c-4") is None


@pytest.mark.postgres
async def test_a_worker_that_lost_its_lease_cannot_overwrite_the_books_of_the_worker_that_took_it(
    postgres_engine: Engine,
) -> None:
    """The lease connection of a worker ends (PostgreSQL freed its partitions) while the process lives
    on and still believes it owns them: another worker takes them, and the first one's next write of
    those books fails in the database instead of overwriting the taker's (outcome unknown: looked up)."""
    engine = postgres_engine
    [account] = [a for a in _accounts(engine, 2) if a % 2 == 0]
    first_leases, second_leases = PartitionLeases(engine, 2), PartitionLeases(engine, 2)
    first_leases.join()
    second_leases.join()
    assert first_leases.try_take(0)
    first = await _partitioned_venue(engine, set(), first_leases)
    await first.take_partitions(Partitions(2, frozenset({0})))
    await first.account(account).create_order(_buy("c-1"))

    first_leases.leave()  # its lease connection is gone; the process does not know yet
    assert second_leases.try_take(0)
    second = await _partitioned_venue(engine, set(), second_leases)
    await second.take_partitions(Partitions(2, frozenset({0})))
    await second.account(account).create_order(_buy("c-2", amount="0.02"))

    with pytest.raises(OrderOutcomeUnknown, match="commit failed"):
        await first.account(account).create_order(_buy("c-3", amount="0.1"))
    assert books.load_order(engine, account, "c-3") is None
    stored = books.load_wallet(engine, account)
    assert (stored["USDT"].free, stored["BTC"].free) == (Decimal("8498.5"), Decimal("0.03"))
    second_leases.leave()
