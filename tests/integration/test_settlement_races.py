"""Two settlements of different orders of one position, at the same time on PostgreSQL (the reconciler
and the submit path, two tranches): each sees what the other saved, so the amounts add up."""

from __future__ import annotations

import threading
from decimal import Decimal

from sqlalchemy import Engine, select

from tests.support import now, seed_marketplace
from tradewire import failpoints
from tradewire.adapters.store.sql import SqlStore
from tradewire.adapters.store.tables import positions
from tradewire.domain.orders import ExchangeOrder, OrderSide, OrderType, Trade
from tradewire.domain.records import Decisions, NewOrder, NewSignal, OrderOutcome, Routing
from tradewire.domain.signals import SignalAction

HOLD_S = 1.0  # how long the first settlement waits for the second to catch up with it


def _filled_buy(
    store: SqlStore, strategy_id: int, n: int, amount: str, side: OrderSide = OrderSide.BUY
) -> OrderOutcome:
    """A buy (or sale) of `amount` BTC at 100, stored and sent, and the exchange's report that it filled."""
    action = SignalAction.BUY if side is OrderSide.BUY else SignalAction.EXIT
    signal = NewSignal(strategy_id, f"k{n}", action, "BTCUSDT", "BTC/USDT", None, None, None, {}, now())
    signal_id, _ = store.insert_signal(signal)
    store.create_intents(Routing(signal_id, store.active_targets(strategy_id)), now())
    [work] = store.pending_work(signal_id)
    coid = f"tw-{n}"
    new = NewOrder(work, coid, side, OrderType.MARKET, Decimal(amount), None)
    [record] = store.save_decisions(Decisions(new_orders=[new]), now())
    store.claim_for_submission([record.order_id], now())
    trade = Trade(f"t-{n}", Decimal(amount), Decimal(100), Decimal(0), "USDT", 1_700_000_000_000)
    view = ExchangeOrder(
        f"x-{n}", coid, "BTC/USDT", side, OrderType.MARKET, "closed", Decimal(amount),
        Decimal(amount), Decimal(100), None, trades=(trade,),
    )  # fmt: skip
    return OrderOutcome(record, exchange_order=view)


def test_two_settlements_of_one_position_at_once_both_count(postgres_engine: Engine) -> None:
    engine = postgres_engine
    seeded = seed_marketplace(engine, [{}])
    store = SqlStore(engine)
    store.record_outcomes([_filled_buy(store, seeded.strategy_id, 1, "0.002")], now())  # the position
    first, second = (_filled_buy(store, seeded.strategy_id, n, "0.001") for n in (2, 3))

    assert _settled_one_after_the_other(store, first, second) == ["first", "second"]
    with engine.connect() as conn:
        [(amount, cost)] = conn.execute(select(positions.c.amount, positions.c.cost_basis)).all()
    assert amount == Decimal("0.004")  # 0.002 + 0.001 + 0.001: neither settlement lost
    assert cost == Decimal("0.4")


def test_a_buy_settled_while_a_sale_closes_its_position_opens_a_new_one(postgres_engine: Engine) -> None:
    """The second settlement waits for the position's lock; the first has closed it meanwhile: the
    buy is not added to the closed position, it opens one of its own."""
    engine = postgres_engine
    seeded = seed_marketplace(engine, [{}])
    store = SqlStore(engine)
    store.record_outcomes([_filled_buy(store, seeded.strategy_id, 1, "0.002")], now())  # the position
    sale = _filled_buy(store, seeded.strategy_id, 2, "0.002", OrderSide.SELL)
    buy = _filled_buy(store, seeded.strategy_id, 3, "0.001")

    assert _settled_one_after_the_other(store, sale, buy, ("sale", "buy")) == ["sale", "buy"]
    with engine.connect() as conn:
        rows = conn.execute(select(positions.c.status, positions.c.amount).order_by(positions.c.id)).all()
    assert [tuple(r) for r in rows] == [("closed", Decimal(0)), ("open", Decimal("0.001"))]


def _settled_one_after_the_other(
    store: SqlStore, first: OrderOutcome, second: OrderOutcome, names: tuple[str, str] = ("first", "second")
) -> list[str]:
    """Settle `first` and, while it holds the position it has read (held up to HOLD_S at the failpoint),
    `second`, each in a thread of its own; returns the threads' names in the order they read the
    position. Fails the test on any error of either."""
    held, caught_up = threading.Event(), threading.Event()
    arrivals: list[str] = []
    lock = threading.Lock()

    def hold_the_first() -> None:
        with lock:
            arrivals.append(threading.current_thread().name)
            is_first = len(arrivals) == 1
        if is_first:
            held.set()
            caught_up.wait(HOLD_S)  # a row lock keeps the second one out until this one commits
        else:
            caught_up.set()

    errors: list[BaseException] = []

    def settle(outcome: OrderOutcome) -> None:
        try:
            store.record_outcomes([outcome], now())
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    with failpoints.hooked("settlement_positions_read", hold_the_first):
        one = threading.Thread(target=settle, args=(first,), name=names[0])
        two = threading.Thread(target=settle, args=(second,), name=names[1])
        one.start()
        assert held.wait(10)  # the first has read the position and is held
        two.start()
        one.join(30)
        two.join(30)
    assert errors == []
    return arrivals
