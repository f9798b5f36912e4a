"""What odd exchange answers mean for our orders: the wording ccxt maps oddly, and fills whose cost
only the trade history tells (tests/e2e/test_exchange_faults_audit.py has them through real ccxt)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import ccxt
import pytest

from tests.fakes.memory_exchange import MemoryExchange
from tests.unit.test_service_outcomes import WithHistory, _view_without_trades
from tradewire.adapters.live.ccxt_orders import order_from_ccxt
from tradewire.adapters.live.errors import is_duplicate
from tradewire.domain.orders import ExchangeOrder, OrderState
from tradewire.ports import ExchangeUnavailable
from tradewire.services.outcomes import (
    UNPRICED_FILL_CHECKS,
    UNPRICED_FILL_WAIT_S,
    FillsUnpriced,
    with_trade_history,
)


def _bybit(status: str, unified: str, filled: str) -> dict[str, object]:
    return {
        "id": "1",
        "clientOrderId": "tw1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "type": "limit",
        "status": unified,
        "amount": 0.003,
        "filled": float(filled),
        "average": 59000.0 if filled != "0" else None,
        "price": 59000.0,
        "info": {"orderStatus": status, "cumExecQty": filled},
    }


@pytest.mark.parametrize(
    ("status", "unified", "filled", "state"),
    [
        ("PartiallyFilledCanceled", "closed", "0.001", OrderState.CANCELED),  # ccxt says 'closed'
        ("Filled", "closed", "0.003", OrderState.FILLED),
        ("Cancelled", "canceled", "0", OrderState.CANCELED),
        ("PartiallyFilled", "open", "0.001", OrderState.PARTIALLY_FILLED),
    ],
)
def test_an_order_canceled_after_part_of_it_filled_is_canceled_whatever_ccxt_calls_it(
    status: str, unified: str, filled: str, state: OrderState
) -> None:
    assert order_from_ccxt(_bybit(status, unified, filled)).state is state


@pytest.mark.parametrize(
    "history_error", [ExchangeUnavailable("503 Service Unavailable"), None], ids=["unreadable", "lagging"]
)
async def test_a_fill_without_its_fee_waits_for_the_trade_history_a_few_checks(
    history_error: Exception | None,
) -> None:
    exchange = WithHistory(history_error)
    order, outcome = await _view_without_trades(exchange)
    view = outcome.exchange_order
    assert view is not None and view.fee is None  # an order lookup without fees (Binance, MEXC)
    if history_error is None:  # the history does not list the order's trades yet
        exchange.orders = {k: replace(v, trades=()) for k, v in exchange.orders.items()}

    with pytest.raises(FillsUnpriced, match="filled, but the trade history lists 0"):
        await with_trade_history(exchange, order, view)
    # Never for ever: after a few checks the order's totals settle it as they are.
    late = replace(order, check_attempts=UNPRICED_FILL_CHECKS)
    assert await with_trade_history(exchange, late, view) == view
    # And a pushed late fill of a final order is never held back (no poll may come for it).
    assert await with_trade_history(exchange, order, view, wait=False) == view


async def test_a_fill_whose_fee_the_order_gives_or_whose_history_lists_it_does_not_wait() -> None:
    exchange = WithHistory()
    order, outcome = await _view_without_trades(exchange)
    view = outcome.exchange_order
    assert view is not None

    listed = await with_trade_history(exchange, order, view)
    priced = replace(view, fee=Decimal("0.06"), fee_currency="USDT")
    from_totals = await with_trade_history(WithHistory(ExchangeUnavailable("down")), order, priced)
    no_history = await with_trade_history(MemoryExchange(), order, view)  # a venue without one

    assert [t.amount for t in listed.trades] == [view.filled]
    assert from_totals == priced and no_history == view


@pytest.mark.parametrize(
    "error",
    [
        ccxt.InvalidOrder(
            'okx {"code":"1","data":[{"clOrdId":"tw1","sCode":"51016","sMsg":"Duplicated clOrdId"}]}'
        ),
        ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'),
        ccxt.InvalidOrder('bybit {"retCode":110072,"retMsg":"OrderLinkedID is duplicate"}'),
        ccxt.ExchangeError('bybit {"retCode":12141,"retMsg":"Duplicate clientOrderId."}'),
        ccxt.DuplicateOrderId("any words"),
    ],
)
def test_each_exchange_s_duplicate_client_id_answer_says_the_order_exists(error: Exception) -> None:
    assert is_duplicate(error)


def test_a_refusal_that_names_no_duplicate_is_not_one() -> None:
    okx = 'okx {"code":"1","data":[{"clOrdId":"tw1","sCode":"51008","sMsg":"Insufficient balance"}]}'
    assert not is_duplicate(ccxt.InsufficientFunds(okx))
    assert not is_duplicate(ValueError("Duplicated clOrdId"))  # not an exchange's answer


def test_a_coinbase_market_buy_open_with_a_first_fill_is_partially_filled_not_filled() -> None:
    # ccxt's own parser on Coinbase's answer: a market buy sized in quote has no base amount.
    answer = {
        "order_id": "9bc1eb3b",
        "product_id": "BTC-USDC",
        "side": "BUY",
        "client_order_id": "tw0000000001",
        "status": "OPEN",
        "order_configuration": {"market_market_ioc": {"quote_size": "120"}},
        "created_time": "2026-01-16T23:37:23.947030Z",
        "filled_size": "0.001",
        "average_filled_price": "60000",
        "total_fees": "0.06",
        "order_type": "MARKET",
        "time_in_force": "IMMEDIATE_OR_CANCEL",
    }
    parsed = ccxt.coinbase().parse_order(answer)
    assert parsed["amount"] is None

    assert order_from_ccxt(parsed).state is OrderState.PARTIALLY_FILLED
    assert order_from_ccxt({**parsed, "status": "closed"}).state is OrderState.FILLED


async def test_an_unpriced_fill_of_an_order_checked_many_times_waits_only_while_its_trade_is_recent() -> None:
    exchange = WithHistory(ExchangeUnavailable("503 Service Unavailable"))
    order, outcome = await _view_without_trades(exchange)
    view = outcome.exchange_order
    assert view is not None
    rested = replace(order, check_attempts=40)  # a limit order seen resting many times
    now = datetime(2026, 1, 1, tzinfo=UTC)
    traded = int(now.timestamp() * 1000)

    def at(seconds_ago: float) -> ExchangeOrder:
        return replace(view, updated_ms=traded - int(seconds_ago * 1000))

    with pytest.raises(FillsUnpriced):
        await with_trade_history(exchange, rested, at(2), now=now)  # traded 2 s ago: wait
    assert await with_trade_history(exchange, rested, at(UNPRICED_FILL_WAIT_S + 1), now=now) == at(31)
    assert await with_trade_history(exchange, rested, at(-3600), now=now) == at(-3600)  # a skewed clock
    assert await with_trade_history(exchange, rested, view, now=now) == view  # no time given
