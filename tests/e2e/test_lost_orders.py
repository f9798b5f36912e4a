"""Orders we concluded "never reached the exchange", through the real ccxt client, on SQLite and
PostgreSQL.

The conclusion is ours, not the exchange's: an order index that lags, or a 5xx that hid an order the
matching engine took, can make an order invisible for longer than we look. Such an order is looked up
a few more times; if the exchange shows it after all, it is applied like any report (fills once,
position, intent done). One the exchange never had stays concluded lost, and the lookups end.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.e2e.test_live_exchange import FIRST, Live, _start
from tests.fakes.exchange import FakeExchange
from tradewire.adapters.store.tables import execution_intents, execution_log, fills, orders, positions

pytestmark = pytest.mark.slow

CREATE = "/api/v3/order"
QUICK: dict[str, Any] = {
    "exchange_retry_base_s": 0.005,  # the adapter's own lookups after an unclear create, without waits
    "lost_order_after_s": 0.001,  # concluded lost at the second check that misses it
    "lost_order_checks": 2,
    "late_fill_checks_s": [0.5, 1.5, 3.0],  # then looked up three more times
}
ORDER_PATHS = {"/api/v3/order", "/api/v3/openOrders", "/api/v3/allOrders", "/api/v3/myTrades"}


async def _live(engine: Engine, tmp_path: Path, fake: FakeExchange) -> Live:
    return await _start(
        tmp_path, fake, database_url=engine.url.render_as_string(hide_password=False), **QUICK
    )


def _concluded_lost(live: Live) -> bool:
    rows = live.rows(orders)
    return bool(rows) and (rows[0].state, rows[0].rejection) == ("rejected", "lost")


def _lookups(fake: FakeExchange, coid: str) -> int:
    return sum(
        1
        for r in fake.request_log
        if r.method == "GET" and r.path == CREATE and r.params.get("origClientOrderId") == coid
    )


async def test_an_order_concluded_lost_that_the_exchange_took_is_applied_when_it_shows_up(
    engine: Engine, tmp_path: Path, fake: FakeExchange
) -> None:
    live = await _live(engine, tmp_path, fake)
    # The matching engine takes the order, the gateway answers 503, and the order index lags.
    fake.fail_next("POST", CREATE, status=503, body=fake.server_error_body(503, "json"), processed=True)
    fake.hide_order(FIRST, lookups=1_000_000)
    try:
        await live.alert("buy")
        await live.until(lambda: _concluded_lost(live))
        [concluded] = live.rows(orders)
        [intent_then] = live.rows(execution_intents)
        fake.hide_order(FIRST, lookups=0)  # the index catches up
        await live.until(lambda: live.rows(orders)[0].state == "filled")
        await asyncio.sleep(0.5)  # a sweep or two more: nothing is applied twice
    finally:
        await live.runtime.stop()

    assert "never reached the exchange" in concluded.reason and concluded.next_check_at is not None
    assert intent_then.status == "failed"
    [order] = live.rows(orders)
    assert order.rejection is None and order.next_check_at is None and order.filled == order.amount
    [fill] = live.rows(fills)
    assert fill.trade_id == str(fake.trades[0]["id"])  # the exchange's own trade, once
    [position] = live.rows(positions)
    assert (position.status, position.amount) == ("open", order.filled)
    [intent] = live.rows(execution_intents)
    assert intent.status == "done"
    assert "found on the exchange after we concluded it never reached it" in intent.reason
    found = [r for r in live.rows(execution_log) if "found on the exchange" in r.reason]
    assert [r.status for r in found] == ["SUCCESS"] and "sized:" in found[0].reason
    assert fake.creates(FIRST) == 1 and len(fake.orders) == 1  # never sent twice
    live.agrees_with_exchange()


async def test_an_order_the_exchange_never_took_stays_lost_after_a_bounded_number_of_lookups(
    engine: Engine, tmp_path: Path, fake: FakeExchange
) -> None:
    live = await _live(engine, tmp_path, fake)
    fake.fail_next("POST", CREATE, status=503, body=fake.server_error_body(503, "json"), processed=False)
    try:
        await live.alert("buy")
        await live.until(lambda: _concluded_lost(live))
        at_conclusion = _lookups(fake, FIRST)
        await live.until(lambda: live.rows(orders)[0].next_check_at is None)  # the window ends
        late = _lookups(fake, FIRST) - at_conclusion
        requests_then = len(fake.request_log)
        await asyncio.sleep(2.0)  # longer than the window's last gap: nothing more is asked
        after = [r for r in fake.request_log[requests_then:] if r.path in ORDER_PATHS]
    finally:
        await live.runtime.stop()

    assert late == 3  # the three late lookups, and no more
    assert after == []
    [order] = live.rows(orders)
    assert (order.state, order.rejection, order.late_checks) == ("rejected", "lost", 3)
    assert "never reached the exchange" in order.reason
    assert fake.creates(FIRST) == 1 and fake.orders == []  # looked up, never resent
    assert live.rows(positions) == [] and live.rows(fills) == []
    assert [i.status for i in live.rows(execution_intents)] == ["failed"]


async def test_a_refusal_by_the_exchange_stays_final_and_is_never_looked_up(
    engine: Engine, tmp_path: Path
) -> None:
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "50", "BTC": "1"}) as poor:
        live = await _live(engine, tmp_path, poor)
        try:
            await live.alert("buy")  # 120 USDT with 50 free: insufficient funds
            await live.until(lambda: [o.state for o in live.rows(orders)] == ["rejected"])
            await asyncio.sleep(1.0)  # past the first late lookup a lost order would get
        finally:
            await live.runtime.stop()

        [order] = live.rows(orders)
        assert (order.rejection, order.next_check_at) == ("exchange", None)
        assert _lookups(poor, FIRST) == 0
        assert poor.orders == []
