"""Answers real exchanges send that are easy to misread, through the real ccxt client.

Each case is something a real server answers (a wording ccxt maps oddly, a history that lags, an
error body) and what it must mean for our books: every fill recorded, with what it cost, and the
position holding what the exchange account holds.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.test_live_exchange import FIRST, Live, _resting_limit, _start
from tests.e2e.test_live_server_errors import _assert_filled_once, _assert_never_placed, _buy_through
from tests.fakes.exchange import FakeExchange
from tests.support import btc_signal, now
from tradewire.adapters.store.tables import execution_intents, orders, positions
from tradewire.domain.client_ids import intent_client_order_id
from tradewire.domain.orders import OrderSide, OrderType
from tradewire.domain.records import Decisions, NewOrder, Routing
from tradewire.services.execution import Executor

pytestmark = pytest.mark.slow

QUICK_LATE_CHECKS = {"late_fill_checks_s": [0.5, 1.0, 1.5]}


async def _usdc_limit(live: Live, price: str, amount: str) -> str:
    """`_resting_limit` on BTC/USDC (Coinbase lists no BTC/USDT)."""
    runtime = live.runtime
    info = runtime.store.webhook_strategy(live.slug)
    assert info is not None
    signal = replace(btc_signal(info[0], f"limit-{time.monotonic_ns()}"), ticker="BTCUSDC", symbol="BTC/USDC")
    signal_id, _ = runtime.store.insert_signal(signal)
    runtime.store.create_intents(Routing(signal_id, runtime.store.active_targets(info[0])), now())
    [work] = runtime.store.pending_work(signal_id)
    coid = intent_client_order_id(work.intent_id)
    order = NewOrder(work, coid, OrderSide.BUY, OrderType.LIMIT, Decimal(amount), Decimal(price))
    records = runtime.store.save_decisions(Decisions(new_orders=[order]), now())
    await Executor(runtime.store, runtime.exchanges, runtime.bus, runtime.clock).resume(records)
    return coid


async def test_bybit_partially_filled_then_canceled_is_a_cancel_and_a_late_fill_is_still_found(
    tmp_path: Path,
) -> None:
    # Bybit words a canceled order that had filled in part "PartiallyFilledCanceled", which ccxt
    # maps to 'closed' (ccxt issue 18685): read as "filled", the order was final at once and the
    # trade that raced our cancel was never looked for.
    with FakeExchange("bybit", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as fake:
        # Canceled after 2 s: time enough to stage its first fill on a busy machine.
        live = await _start(tmp_path, fake, limit_order_timeout_s=2.0, **QUICK_LATE_CHECKS)
        try:
            coid = await _resting_limit(live, price="59000", amount="0.003")
            fake.fill(coid, "0.001")  # part of it fills while it rests
            fake.fill_after_cancel(coid, "0.001", delay_s=0.3)  # and more lands after our cancel
            await live.until(lambda: fake.order(coid)["filled"] == "0.002", timeout=10)
            await live.until(lambda: live.rows(orders)[-1].filled == Decimal("0.002"), timeout=10)
        finally:
            await live.runtime.stop()

    [order] = live.rows(orders)
    assert order.state == "canceled"
    [position] = live.rows(positions)
    assert position.amount == Decimal(fake.balances["BTC"]["total"])  # fee in BTC: 0.002 less 0.1 %
    [intent] = live.rows(execution_intents)
    assert intent.status == "done"
    live.agrees_with_exchange()


@pytest.mark.parametrize("flavor", ["binance", "mexc"])
async def test_a_fill_whose_trade_history_is_unreadable_waits_for_its_fee_and_the_exit_sells_what_is_held(
    tmp_path: Path, flavor: str
) -> None:
    # Binance and MEXC take a buy's commission in the asset bought (unless fees are paid in BNB/MX),
    # and their order lookups carry no fee. An order found by lookup (its create answer was lost)
    # whose trade history could not be read was recorded as 0.002 BTC with no fee: the position held
    # 0.000002 BTC more than the account, and every exit was refused for insufficient balance.
    with FakeExchange(
        flavor,  # type: ignore[arg-type]
        prices={"BTC/USDT": "60000"},
        balances={"USDT": "10000"},
        fee_in_base_on_buy=True,
    ) as fake:
        live = await _start(tmp_path, fake, exchange_retry_base_s=0.005)
        try:
            fake.drop_next_create()  # placed, the answer lost: found by its client id, without fills
            fake.fail_next("GET", "/api/v3/myTrades", status=503, times=4)  # one read's every try
            await live.alert("buy")
            await live.until(lambda: [o.state for o in live.rows(orders)] == ["filled"], timeout=15)
            held = Decimal(fake.balances["BTC"]["total"])
            await live.until(lambda: [p.amount for p in live.rows(positions)] == [held], timeout=5)
            await live.alert("sell", market_position="flat", time="2025-01-01T00:00:00Z")
            await live.until(lambda: [o.state for o in live.rows(orders)][1:] not in ([], ["submitted"]))
        finally:
            await live.runtime.stop()

    assert held == Decimal("0.001998")
    [_, sell] = live.rows(orders)
    assert sell.state == "filled", sell.reason
    assert [p.status for p in live.rows(positions)] == ["closed"]


# A 200 answer to a create that names no order: the exchange did not say it took it.
_NO_ORDER_ID = [
    pytest.param(
        "bybit",
        {"retCode": 0, "retMsg": "OK", "result": {}, "retExtInfo": {}, "time": 1700000000000},
        id="bybit-ok-without-orderId",
    ),
    pytest.param(
        "coinbase",
        {"success": False, "failure_reason": "UNKNOWN_FAILURE_REASON", "order_id": ""},
        id="coinbase-failure-without-error_response",
    ),
]


@pytest.mark.parametrize("processed", [True, False], ids=["processed", "not_processed"])
@pytest.mark.parametrize(("flavor", "payload"), _NO_ORDER_ID)
async def test_a_create_answer_that_names_no_order_is_looked_up_never_taken_for_an_open_order(
    tmp_path: Path, flavor: str, payload: dict[str, object], processed: bool
) -> None:
    # Taken for "accepted, open", such an order had no exchange id, was never found by its client
    # id and, being open, never concluded: pending for ever, and the subscription's next signals on
    # the pair waited behind it.
    prices = {"BTC/USDT": "60000", "BTC/USDC": "60000"}
    balances = {"USDT": "10000", "USDC": "10000"}
    with FakeExchange(flavor, prices=prices, balances=balances) as fake:  # type: ignore[arg-type]
        live, first = await _buy_through(tmp_path, fake, 200, json.dumps(payload), processed)

    assert first == ("filled" if processed else "submitted")
    if processed:
        _assert_filled_once(live)
    else:
        _assert_never_placed(live)


def _okx_duplicate(client_order_id: str) -> dict[str, object]:
    entry = {"clOrdId": client_order_id, "ordId": "", "sCode": "51016", "sMsg": "Duplicated clOrdId"}
    return {"code": "1", "msg": "All operations failed", "data": [{**entry, "tag": "", "ts": "1"}]}


async def test_okx_duplicated_clordid_means_the_order_exists_and_it_is_settled_as_the_exchange_has_it(
    tmp_path: Path,
) -> None:
    # OKX refuses a client order id it already has ("Duplicated clOrdId", 51016; ccxt: InvalidOrder)
    # as when a gateway in front of it passed the create twice: the first one is the order. Taken
    # for a refusal, it was recorded rejected while it filled, and its position was never opened.
    with FakeExchange("okx", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as fake:
        body = json.dumps(_okx_duplicate(FIRST))
        live, first = await _buy_through(tmp_path, fake, 200, body, processed=True)

    assert first == "filled"
    _assert_filled_once(live)


async def test_a_coinbase_market_buy_still_filling_is_not_taken_for_filled(tmp_path: Path) -> None:
    # A market buy is sized in quote on Coinbase (quote_size): its lookups carry no base amount, and an
    # order seen open with a first fill was read as filled in full. Final at once, the rest of its
    # fill was never recorded: the position held half of what the account bought.
    prices, balances = {"BTC/USDC": "60000"}, {"USDC": "10000"}
    with FakeExchange("coinbase", prices=prices, balances=balances) as fake:
        live = await _start(tmp_path, fake)
        try:
            fake.rest_next_market_orders(walking=True)  # the engine is still filling it
            await live.alert("buy", ticker="BTCUSDC", symbol="BTC/USDC")
            await live.until(lambda: [o.state for o in live.rows(orders)] == ["open"])
            fake.fill(FIRST, "0.001")
            await live.until(lambda: live.rows(orders)[0].filled == Decimal("0.001"))
            first_fill = live.rows(orders)[0].state
            fake.fill(FIRST)  # the rest
            await live.until(lambda: live.rows(orders)[0].filled == Decimal("0.002"), timeout=5)
        finally:
            await live.runtime.stop()

    assert first_fill == "partially_filled"
    [order] = live.rows(orders)
    assert order.state == "filled"
    [position] = live.rows(positions)
    assert position.amount == Decimal(fake.balances["BTC"]["total"]) == Decimal("0.002")
    live.agrees_with_exchange()


async def test_a_coinbase_order_canceled_or_expired_is_found_and_settled(tmp_path: Path) -> None:
    # Coinbase cannot be asked for an order by its client id: it is found in the order lists. Its
    # 'closed' list holds FILLED orders only, so an order canceled (our own timeout cancel) or expired
    # (a market order that found no liquidity) was never found again: open here for ever, checked
    # every two seconds, and the subscription's next signals on the pair waited behind it.
    prices, balances = {"BTC/USDC": "60000"}, {"USDC": "10000"}
    with FakeExchange("coinbase", prices=prices, balances=balances) as fake:
        live = await _start(tmp_path, fake, limit_order_timeout_s=0.5, **QUICK_LATE_CHECKS)
        try:
            fake.rest_next_market_orders()  # no liquidity: the immediate-or-cancel buy expires unfilled
            await live.alert("buy", ticker="BTCUSDC", symbol="BTC/USDC")
            await live.until(lambda: [o.state for o in live.rows(orders)] == ["canceled"], timeout=5)
            limit = await _usdc_limit(live, price="59000", amount="0.003")
            await live.until(lambda: live.rows(orders)[-1].state == "canceled", timeout=5)
        finally:
            await live.runtime.stop()

    assert fake.order(FIRST)["exchange_status"] == "EXPIRED"  # ccxt: 'canceled'
    assert fake.order(limit)["exchange_status"] == "CANCELLED"
    assert [(o.state, o.filled) for o in live.rows(orders)] == [("canceled", 0)] * 2
    assert [i.status for i in live.rows(execution_intents)] == ["failed", "failed"]
    assert live.rows(positions) == []


async def test_a_limit_order_that_rested_long_still_waits_for_the_fee_of_its_fill(tmp_path: Path) -> None:
    # The wait for the trade history must not depend on how long the order rested: a limit buy seen
    # open a dozen times, then filled while the history could not be read, was recorded fee-less.
    prices, balances = {"BTC/USDT": "60000"}, {"USDT": "10000"}
    with FakeExchange("binance", prices=prices, balances=balances, fee_in_base_on_buy=True) as fake:
        live = await _start(tmp_path, fake, reconcile_interval_s=3600, exchange_retry_base_s=0.005)
        account = live.account_ids[0]
        try:
            coid = await _resting_limit(live, price="59000", amount="0.002")
            for _ in range(12):  # twelve checks of it resting on the book
                await live.runtime.reconciler.sync_account(account)
            fake.fill(coid)
            fake.fail_next("GET", "/api/v3/myTrades", status=503, times=4)  # one read's every try
            await live.runtime.reconciler.sync_account(account)  # filled, but the fee unknown
            await live.runtime.reconciler.sync_account(account)  # the history answers
        finally:
            await live.runtime.stop()

    assert live.rows(orders)[-1].check_attempts > 12
    [position] = live.rows(positions)
    assert position.amount == Decimal(fake.balances["BTC"]["total"]) == Decimal("0.001998")
    live.agrees_with_exchange()
