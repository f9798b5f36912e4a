"""Live trading through the real ccxt client against a local fake exchange, fault by fault.

Every scenario ends with our database agreeing with the exchange: no duplicate order, no lost
fill, no order left pending while the exchange has settled it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.fakes.exchange import FakeExchange
from tests.support import add_live_subscriber, btc_signal, flatten_urls, now, seed_marketplace
from tests.support import make_runtime as make_test_runtime
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.tables import (
    events,
    exchange_accounts,
    execution_intents,
    execution_log,
    fills,
    orders,
    positions,
)
from tradewire.domain.client_ids import intent_client_order_id
from tradewire.domain.orders import OrderSide, OrderType
from tradewire.domain.records import Decisions, NewOrder, Routing
from tradewire.runtime import Runtime
from tradewire.services.execution import Executor

pytestmark = pytest.mark.slow

FIRST = intent_client_order_id(1)  # a fresh database's first intent
FAST = {"exchange_timeout_ms": 800, "reconcile_interval_s": 0.2}
# Conclude "never reached the exchange" quickly (production: 120 s and 3 lookups).
QUICK_TO_CONCLUDE = {"lost_order_after_s": 1.0, "lost_order_checks": 2}


@dataclass
class Live:
    runtime: Runtime
    fake: FakeExchange
    slug: str
    account_ids: list[int]

    async def alert(self, action: str = "buy", **extra: Any) -> int:
        body = json.dumps({"passphrase": "abcdefgh", "ticker": "BTCUSDT", "action": action, **extra}).encode()
        result = await self.runtime.ingest.receive_tradingview(self.slug, body, "application/json", None)
        await self.runtime.bus.drain()
        return result.signal_id

    def rows(self, table: Any) -> list[Any]:
        with self.runtime.engine.connect() as conn:
            return list(conn.execute(select(table).order_by(table.c.id)))

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> float:
        """Wait (the trading loop runs meanwhile) until `condition` holds; returns the seconds it took."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    def agrees_with_exchange(self) -> None:
        """Every order in our books has the exchange's state and fill; fills and positions add up."""
        ours = self.rows(orders)
        assert len(ours) == len(self.fake.orders), "one exchange order per order of ours"
        for order in ours:
            theirs = self.fake.order(order.client_order_id)
            assert theirs is not None, order.client_order_id
            assert self.fake.creates(order.client_order_id) >= 1
            expected = {
                "closed": "filled",
                "open": "open" if Decimal(theirs["filled"]) == 0 else "partially_filled",
            }
            assert order.state == expected.get(theirs["status"], theirs["status"])
            assert order.filled == Decimal(theirs["filled"])
            recorded = sum((f.amount for f in self.rows(fills) if f.order_id == order.id), Decimal(0))
            assert recorded == order.filled
        # What our positions hold (dust of closed ones included) is what the exchange account holds.
        held = sum((p.amount for p in self.rows(positions)), Decimal(0))
        assert held == Decimal(self.fake.balances.get("BTC", {}).get("total", "0"))


async def _start(
    tmp_path: Path,
    fake: FakeExchange,
    accounts: int = 1,
    key: str | None = None,
    seed: bool = True,
    streams: bool = False,
    **settings: Any,
) -> Live:
    runtime = make_test_runtime(tmp_path, encryption_key=key or generate_key(), **{**FAST, **settings})
    if not seed:  # a restart on the same database
        await runtime.start()
        return Live(runtime, fake, "tv-test", [])
    seeded = seed_marketplace(runtime.engine, [])
    urls = {
        **flatten_urls(fake.ccxt_urls(), ""),
        **(flatten_urls(fake.ccxt_ws_urls(), "ws.") if streams else {}),
    }
    password = fake.ccxt_config().get("password")
    account_ids = [
        add_live_subscriber(
            runtime,
            seeded,
            fake.flavor,
            urls,
            fake.api_key,
            fake.api_secret,
            f"live{n}",
            quote_amount="120",
            api_password=password,
        )
        for n in range(accounts)
    ]
    await runtime.start()
    return Live(runtime, fake, seeded.slug, account_ids)


@asynccontextmanager
async def _running(tmp_path: Path, fake: FakeExchange, **options: Any) -> AsyncIterator[Live]:
    """`_start` with these options; the runtime stops on leaving."""
    live = await _start(tmp_path, fake, **options)
    try:
        yield live
    finally:
        await live.runtime.stop()


@pytest.fixture
def fake() -> AsyncIterator[FakeExchange]:
    exchange = FakeExchange(
        "binance", prices={"BTC/USDT": "60000", "ETH/USDT": "3000"}, balances={"USDT": "10000"}
    )
    exchange.start()
    yield exchange  # type: ignore[misc]
    exchange.stop()


@pytest.fixture
async def live(tmp_path: Path, fake: FakeExchange) -> AsyncIterator[Live]:
    async with _running(tmp_path, fake) as started:
        yield started


async def test_a_signal_trades_a_live_account_end_to_end(live: Live) -> None:
    await live.alert("buy")
    await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"])
    await live.alert("sell", market_position="flat", time="2025-01-01T00:00:00Z")
    await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled", "filled"])

    [buy, sell] = live.rows(orders)
    assert buy.amount == Decimal("0.002")  # 120 USDT at 60,000
    assert sell.amount == buy.filled
    assert [p.status for p in live.rows(positions)] == ["closed"]
    live.agrees_with_exchange()


async def test_a_create_that_times_out_for_us_is_found_by_client_id_not_placed_again(live: Live) -> None:
    live.fake.delay_next_create(2.0)  # the exchange executes at once; its answer comes after our timeout

    await live.alert("buy")
    await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"])

    assert live.fake.creates(FIRST) == 1
    live.agrees_with_exchange()


async def test_a_dropped_answer_and_an_order_not_found_at_first_is_found_later(live: Live) -> None:
    live.fake.drop_next_create()
    live.fake.hide_order(FIRST, lookups=5)  # the adapter's own three lookups and two checks miss it

    await live.alert("buy")
    pending = live.rows(orders)[0].state
    await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"])

    assert pending == "submitted"  # unknown, never "rejected"
    assert any(r.status == "PENDING" for r in live.rows(execution_log))
    assert live.fake.creates(FIRST) == 1
    live.agrees_with_exchange()


@pytest.mark.parametrize(("status", "retry_after"), [(503, None), (429, 1)])
async def test_a_create_the_exchange_never_executed_is_concluded_absent_and_not_resent(
    tmp_path: Path, fake: FakeExchange, status: int, retry_after: int | None
) -> None:
    async with _running(tmp_path, fake, **QUICK_TO_CONCLUDE) as live:
        fake.fail_next("POST", "/order", status=status, retry_after=retry_after)
        await live.alert("buy")
        await live.until(lambda: [o.state for o in live.rows(orders)] == ["rejected"])

    [order] = live.rows(orders)
    assert "never reached the exchange" in order.reason
    assert live.fake.creates(FIRST) == 1 and live.fake.orders == []
    assert [i.status for i in live.rows(execution_intents)] == ["failed"]


async def test_insufficient_balance_is_a_clear_refusal(tmp_path: Path) -> None:
    # Plenty of equity (in BTC), too little free USDT for a 120 USDT buy.
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "50", "BTC": "1"}) as poor:
        async with _running(tmp_path, poor) as live:
            await live.alert("buy")
            await live.until(lambda: [o.state for o in live.rows(orders)] == ["rejected"])

    [entry] = [r for r in live.rows(execution_log) if r.status == "FAILED"]
    assert entry.reason.startswith("insufficient_funds")
    assert poor.orders == []


async def _resting_limit(
    live: Live, price: str = "59000", amount: str = "0.003", side: OrderSide = OrderSide.BUY
) -> str:
    """A limit order away from the market (a buy below it by default), stored and sent through our
    store and executor like any order.

    The signal, its intent and the order are stored without yielding to the event loop, so the
    trading loop cannot turn the intent into a market order first.
    """
    runtime = live.runtime
    info = runtime.store.webhook_strategy(live.slug)
    assert info is not None
    signal_id, _ = runtime.store.insert_signal(btc_signal(info[0], f"limit-{time.monotonic_ns()}"))
    runtime.store.create_intents(Routing(signal_id, runtime.store.active_targets(info[0])), now())
    [work] = runtime.store.pending_work(signal_id)
    coid = intent_client_order_id(work.intent_id)
    order = NewOrder(work, coid, side, OrderType.LIMIT, Decimal(amount), Decimal(price))
    records = runtime.store.save_decisions(Decisions(new_orders=[order]), now())
    await Executor(runtime.store, runtime.exchanges, runtime.bus, runtime.clock).resume(records)
    return coid


async def test_partial_fills_over_several_checks_are_all_recorded(live: Live) -> None:
    coid = await _resting_limit(live)
    live.fake.fill_on_checks(coid, ["0.001", "0.001", "0.001"])

    await live.until(lambda: live.rows(orders)[-1].state == "filled", timeout=15)

    limit_fills = [f for f in live.rows(fills) if f.order_id == live.rows(orders)[-1].id]
    assert [f.amount for f in limit_fills] == [Decimal("0.001")] * 3
    fake_trade_ids = {str(t["id"]) for t in live.fake.trades}
    assert {f.trade_id for f in limit_fills} <= fake_trade_ids  # the exchange's own trade ids
    assert sum(r.status == "PARTIAL" for r in live.rows(execution_log)) >= 1
    live.agrees_with_exchange()


async def test_a_manual_cancel_on_the_exchange_is_picked_up(live: Live) -> None:
    coid = await _resting_limit(live)
    live.fake.fill(coid, amount="0.001")
    live.fake.cancel_manually(coid)

    await live.until(lambda: live.rows(orders)[-1].state == "canceled")

    assert live.rows(orders)[-1].filled == Decimal("0.001")
    live.agrees_with_exchange()


async def test_the_incident_an_order_pending_here_and_filled_there_is_repaired_and_trading_resumes(
    live: Live,
) -> None:
    # The database shows the order pending while the exchange has it FILLED.
    live.fake.drop_next_create()
    live.fake.hide_order(FIRST, lookups=3)  # the adapter's own lookups miss it
    await live.alert("buy")
    assert live.rows(orders)[0].state == "submitted"
    assert live.fake.order(FIRST)["status"] == "closed"

    repaired_in = await live.until(lambda: live.rows(orders)[0].state == "filled")
    await live.alert("sell", market_position="flat", time="2025-03-03T00:00:00Z")

    assert repaired_in < 1.0 + 0.5  # within one check interval (1 s after the first) and a sweep
    assert [o.side for o in live.rows(orders)] == ["buy", "sell"]
    await live.until(lambda: live.rows(orders)[-1].state == "filled")
    live.agrees_with_exchange()


async def test_one_open_orders_call_checks_all_of_an_accounts_orders(live: Live) -> None:
    first = await _resting_limit(live, price="58000", amount="0.001")
    second = await _resting_limit(live, price="57000", amount="0.001")
    before = list(live.fake.request_log)

    checked = await live.runtime.reconciler.sync_account(live.account_ids[0])

    calls = [r for r in live.fake.request_log[len(before) :] if "ticker" not in r.path]
    assert checked == 2
    assert [r.path for r in calls] == ["/api/v3/openOrders"]
    assert {o.state for o in live.rows(orders)} == {"open"} and {first, second} <= set(
        o.client_order_id for o in live.rows(orders)
    )


async def test_a_restart_with_orders_in_every_state_settles_them_all(
    tmp_path: Path, fake: FakeExchange
) -> None:
    key = generate_key()
    async with _running(tmp_path, fake, key=key) as live:
        await live.alert("buy")  # filled
        resting = await _resting_limit(live, price="59000", amount="0.003")
        partial = await _resting_limit(live, price="58000", amount="0.003")
        fake.fill(partial, amount="0.001")
        fake.drop_next_create()
        fake.hide_order(intent_client_order_id(4), lookups=1000)
        await live.alert("buy", time="2025-04-04T00:00:00Z")  # its outcome is unknown to us
    assert [o.state for o in live.rows(orders)] == ["filled", "open", "open", "submitted"]

    # While we are down the resting order fills, the partial one is cancelled, the unknown one shows.
    fake.fill(resting)
    fake.cancel_manually(partial)
    fake.hide_order(intent_client_order_id(4), lookups=0)
    async with _running(tmp_path, fake, accounts=0, key=key, seed=False) as restarted:
        await restarted.until(lambda: all(o.state in ("filled", "canceled") for o in restarted.rows(orders)))

    states = [o.state for o in restarted.rows(orders)]
    assert states == ["filled", "filled", "canceled", "filled"]
    assert fake.creates(intent_client_order_id(4)) == 1
    restarted.agrees_with_exchange()


async def test_many_accounts_on_one_exchange_share_one_ticker_call(
    tmp_path: Path, fake: FakeExchange
) -> None:
    async with _running(tmp_path, fake, accounts=4) as live:
        await live.alert("buy")
        await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"] * 4)
        budgets = {id(e.public_limiter) for e in live.runtime.exchanges.live_accounts().values()}

    assert len(budgets) == 1  # one public-call budget for the exchange, whatever the account count

    tickers = [r for r in fake.request_log if "ticker" in r.path]
    assert len(tickers) == 1
    live.agrees_with_exchange()


async def test_an_unfilled_limit_order_is_cancelled_after_its_timeout_and_a_lost_race_keeps_the_fill(
    tmp_path: Path, fake: FakeExchange
) -> None:
    async with _running(tmp_path, fake, limit_order_timeout_s=0.5) as live:
        untouched = await _resting_limit(live, price="50000", amount="0.001")
        raced = await _resting_limit(live, price="51000", amount="0.001")
        fake.fill(raced)  # filled on the exchange just before our cancel arrives
        await live.until(lambda: {o.state for o in live.rows(orders)} == {"canceled", "filled"})

    states = {o.client_order_id: o.state for o in live.rows(orders)}
    assert states == {untouched: "canceled", raced: "filled"}
    live.agrees_with_exchange()


async def test_repeated_exchange_failures_open_the_circuit_and_orders_are_not_sent(
    tmp_path: Path, fake: FakeExchange
) -> None:
    async with _running(tmp_path, fake) as live:
        fake.fail_next("*", "/api/v3", status=503, times=40)
        await live.alert("buy")
        [intent] = live.rows(execution_intents)
        creates = fake.creates()

    assert intent.status == "rejected"
    assert "circuit open" in intent.reason or "could not be loaded" in intent.reason
    assert creates == 0


async def test_an_opening_circuit_is_told_to_the_accounts_owner_once_and_trading_goes_on_as_before(
    tmp_path: Path, fake: FakeExchange
) -> None:
    async with _running(tmp_path, fake) as live:
        fake.fail_next("*", "/api/v3", status=503, times=40)
        await live.alert("buy")
        await live.alert("buy", comment="again")  # the circuit is open: refused at once, not told again
        await live.runtime.breakers.settle()
        [intent, second] = live.rows(execution_intents)
        [account] = live.rows(exchange_accounts)
        told = [e for e in live.rows(events) if e.topic == "risk"]

    assert intent.status == second.status == "rejected" and "circuit open" in second.reason
    [event] = told
    assert (event.user_id, event.type) == (account.user_id, "breaker_open")
    assert json.loads(event.data) == {
        "account_id": account.id,
        "exchange": "binance",
        "failures": 5,
        "cooldown_s": 30.0,
        "kind": "exchange_unavailable",
    }


async def test_pushed_order_updates_settle_orders_before_any_poll(tmp_path: Path, fake: FakeExchange) -> None:
    # Polling every 30 s: only the stream can settle the order within the test's few seconds.
    async with _running(tmp_path, fake, streams=True, reconcile_interval_s=30) as live:
        coid = await _resting_limit(live, price="59000", amount="0.002")
        await live.until(lambda: fake.stream_connections == 1)
        fake.fill(coid, amount="0.001")
        await live.until(lambda: live.rows(orders)[-1].state == "partially_filled", timeout=5)
        fake.fill(coid)
        settled_in = await live.until(lambda: live.rows(orders)[-1].state == "filled", timeout=5)

    assert settled_in < 5
    live.agrees_with_exchange()


async def test_a_broken_stream_reconnects_and_polling_covers_the_gap(
    tmp_path: Path, fake: FakeExchange
) -> None:
    async with _running(tmp_path, fake, streams=True) as live:
        coid = await _resting_limit(live, price="59000", amount="0.002")
        await live.until(lambda: fake.stream_connections == 1)
        fake.drop_streams()
        fake.fill(coid)
        await live.until(lambda: live.rows(orders)[-1].state == "filled")
        await live.until(lambda: fake.stream_connections == 1, timeout=15)

    live.agrees_with_exchange()


@pytest.mark.parametrize(
    ("flavor", "ticker"),
    [("bybit", "BTCUSDT"), ("okx", "BTCUSDT"), ("mexc", "BTCUSDT"), ("coinbase", "BTCUSDC")],
)
async def test_bybit_okx_mexc_and_coinbase_trade_end_to_end_through_their_own_client_id_fields(
    tmp_path: Path, flavor: str, ticker: str
) -> None:
    prices = {"BTC/USDT": "60000", "BTC/USDC": "60000"}
    with FakeExchange(flavor, prices=prices, balances={"USDT": "10000", "USDC": "10000"}) as exchange:  # type: ignore[arg-type]
        async with _running(tmp_path, exchange) as live:
            exchange.delay_next_create(2.0)  # one create whose answer comes too late
            await live.alert("buy", ticker=ticker)
            await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"])
            await live.alert("sell", ticker=ticker, market_position="flat", time="2025-01-01T00:00:00Z")
            await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled", "filled"])

    assert exchange.creates(FIRST) == 1
    assert [p.status for p in live.rows(positions)] == ["closed"]
    live.agrees_with_exchange()
