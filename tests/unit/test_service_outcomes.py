"""record_outcomes and with_trade_history against the in-memory store and exchange: a batch of order
reports is saved at once, or each on its own when the batch fails, and a report that cannot be saved
puts its order's next check off (the exchange keeps the truth) without holding up the others; the
fills of an order whose view lists none are read from the trade history, only when there is a fill
we have not recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from tests.fakes.memory_exchange import MemoryExchange
from tests.fakes.memory_store import MemoryStore
from tests.fakes.world import World, world
from tradewire.domain.orders import Trade
from tradewire.domain.records import OrderOutcome, OrderRecord
from tradewire.ports import ExchangeError, ExchangeUnavailable, OrderOutcomeUnknown
from tradewire.services.outcomes import record_outcomes, with_trade_history


class Flaky(MemoryStore):
    """The in-memory store, failing to record any batch that holds one of the `broken` orders (and,
    with `postpone_fails`, failing to put checks off too)."""

    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store.tables)
        self.broken: set[int] = set()
        self.postpone_fails = False
        self.batches: list[list[int]] = []

    def record_outcomes(self, outcomes: Sequence[OrderOutcome], now: datetime) -> None:
        ids = [o.order.order_id for o in outcomes]
        self.batches.append(ids)
        if self.broken & set(ids):
            raise RuntimeError("disk I/O error")
        super().record_outcomes(outcomes, now)

    def postpone_checks(self, records: Sequence[OrderRecord], reason: str, now: datetime) -> None:
        if self.postpone_fails:
            raise RuntimeError("database is locked")
        super().postpone_checks(records, reason, now)


async def _reports(subscribers: int) -> tuple[World, Flaky, list[OrderOutcome]]:
    """Every subscriber's buy sent and filled on the exchange, its answer lost: what the exchange says
    of each, not recorded yet."""
    w = world([{}] * subscribers)
    w.exchange.fail_next += [(OrderOutcomeUnknown("read timeout"), True)] * subscribers
    w.signal()
    await w.executor().execute_pending()
    store = Flaky(w.store)
    records = store.unsettled_orders()
    return w, store, [OrderOutcome(r, w.exchange.orders[r.client_order_id]) for r in records]


async def test_a_batch_of_reports_is_recorded_in_one_go() -> None:
    w, store, outcomes = await _reports(3)

    await record_outcomes(store, outcomes, w.clock.now())
    await record_outcomes(store, [], w.clock.now())

    assert store.batches == [[1, 2, 3]]
    assert w.column("orders", "state") == ["filled"] * 3
    assert len(w.rows("fills")) == 3 and len(w.rows("positions")) == 3


async def test_a_report_that_cannot_be_recorded_holds_up_no_other_and_its_order_is_checked_later() -> None:
    w, store, outcomes = await _reports(3)
    store.broken = {2}
    w.clock.advance(5)

    await record_outcomes(store, outcomes, w.clock.now())

    assert store.batches == [[1, 2, 3], [1], [2], [3]]
    assert w.column("orders", "state") == ["filled", "submitted", "filled"]
    [postponed] = w.rows("orders", id=2)
    assert postponed["reason"] == "report not recorded (RuntimeError: disk I/O error); checking again"
    assert postponed["check_attempts"] == outcomes[1].order.check_attempts + 1
    assert postponed["next_check_at"] > w.clock.now()
    assert w.column("positions", "account_id") == [w.seeded.account_ids[0], w.seeded.account_ids[2]]


async def test_a_single_report_that_cannot_be_recorded_is_not_tried_twice() -> None:
    w, store, outcomes = await _reports(1)
    store.broken = {1}

    await record_outcomes(store, outcomes, w.clock.now())

    assert store.batches == [[1]]
    assert w.column("orders", "state", "reason") == [
        ("submitted", "report not recorded (RuntimeError: disk I/O error); checking again")
    ]


async def test_when_even_the_postponing_fails_the_others_are_still_recorded_and_nothing_is_raised() -> None:
    w, store, outcomes = await _reports(2)
    store.broken = {1}
    store.postpone_fails = True
    before = w.column("orders", "next_check_at")

    await record_outcomes(store, outcomes, w.clock.now())

    assert w.column("orders", "state") == ["submitted", "filled"]
    assert w.column("orders", "next_check_at")[0] == before[0]  # due as it was: checked again soon


class WithHistory(MemoryExchange):
    """An exchange whose order views list no trades; `fetch_order_trades` reads its history."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__()
        self.history_error = error
        self.history_reads: list[tuple[str, str]] = []

    async def fetch_order_trades(self, symbol: str, exchange_order_id: str) -> list[Trade]:
        self.history_reads.append((symbol, exchange_order_id))
        if self.history_error is not None:
            raise self.history_error
        [order] = [o for o in self.orders.values() if o.exchange_order_id == exchange_order_id]
        return list(order.trades)


async def _view_without_trades(exchange: MemoryExchange) -> tuple[OrderRecord, OrderOutcome]:
    w, _, [outcome] = await _reports(1)
    exchange.orders = w.exchange.orders
    view = outcome.exchange_order
    assert view is not None and view.trades
    return outcome.order, replace(outcome, exchange_order=replace(view, trades=()))


async def test_the_fills_of_an_order_whose_view_lists_none_are_read_from_the_trade_history() -> None:
    exchange = WithHistory()
    order, outcome = await _view_without_trades(exchange)
    assert outcome.exchange_order is not None

    view = await with_trade_history(exchange, order, outcome.exchange_order)

    assert exchange.history_reads == [("BTC/USDT", "x1")]
    assert view == exchange.orders[order.client_order_id]
    assert [t.trade_id for t in view.trades] == ["tw0000000001-1"]


async def test_no_history_is_read_without_a_new_fill_an_order_id_or_a_way_to_read_it() -> None:
    exchange = WithHistory()
    order, outcome = await _view_without_trades(exchange)
    view = outcome.exchange_order
    assert view is not None
    recorded = replace(order, filled=view.filled)  # every fill recorded already
    with_trades = exchange.orders[order.client_order_id]

    unchanged = [
        await with_trade_history(exchange, recorded, view),
        await with_trade_history(exchange, order, replace(view, exchange_order_id="")),
        await with_trade_history(exchange, order, with_trades),
        await with_trade_history(MemoryExchange(), order, view),  # no trade history on this venue
    ]

    assert unchanged == [view, replace(view, exchange_order_id=""), with_trades, view]
    assert exchange.history_reads == []


async def test_an_unavailable_trade_history_leaves_the_order_s_totals_to_settle_it() -> None:
    errors: list[Exception] = [
        ExchangeError("endpoint not supported"),
        ExchangeUnavailable("timeout"),
        OrderOutcomeUnknown("read timeout"),
        KeyError("an error nobody listed"),  # must not lose the order's own answer either
    ]
    for error in errors:
        exchange = WithHistory(error)
        order, outcome = await _view_without_trades(exchange)
        assert outcome.exchange_order is not None
        # The totals say what the fills cost (an order-level fee, as Bybit, OKX and Coinbase give);
        # without it the order waits for its history (tests/unit/test_error_meanings.py).
        priced = replace(outcome.exchange_order, fee=Decimal("0.06"), fee_currency="USDT")

        view = await with_trade_history(exchange, order, priced)

        assert view == priced and len(exchange.history_reads) == 1
        assert view.filled == Decimal(1) and view.trades == ()
