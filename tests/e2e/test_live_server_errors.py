"""A create answered with a server error, on every exchange, through the real ccxt client.

Whatever body comes with a 5xx (the exchange's own JSON error, which ccxt maps to various classes, or
the HTML page of the CDN in front of it), the execution status is unknown: the order is looked up by
its client order id, never recorded as rejected on the spot. If the exchange did take it, it ends
filled with a position; if it did not, it is concluded never-placed, and it is never sent twice.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from tests.e2e.test_live_exchange import FIRST, Live, _start
from tests.fakes.exchange import FLAVORS, FakeExchange
from tradewire.adapters.store.db import make_engine, upgrade
from tradewire.adapters.store.tables import execution_intents, execution_log, orders, positions

pytestmark = pytest.mark.slow

CREATE_PATH = {
    "binance": "/api/v3/order",
    "bybit": "/v5/order/create",
    "okx": "/api/v5/trade/order",
    "mexc": "/api/v3/order",
    "coinbase": "/api/v3/brokerage/orders",
}
TICKER = {flavor: "BTCUSDC" if flavor == "coinbase" else "BTCUSDT" for flavor in FLAVORS}
QUICK = {
    "exchange_retry_base_s": 0.005,  # the adapter's lookups after an unclear create, without the waits
    "reconcile_interval_s": 3600,  # the test settles orders itself, with the account's "sync now"
    # Conclude "never reached the exchange" at the first check that misses it (production: 120 s, 3).
    "lost_order_after_s": 0.001,
    "lost_order_checks": 2,
}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database at the latest schema, copied for each case (migrating costs more than a case)."""
    path = tmp_path_factory.mktemp("schema") / "tradewire.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def case_dir(tmp_path: Path, migrated: Path) -> Path:
    """A runtime directory whose SQLite database already has the schema."""
    (tmp_path / "var").mkdir()
    shutil.copy(migrated, tmp_path / "var" / "tradewire.db")
    return tmp_path


@pytest.fixture(scope="module", params=FLAVORS)
def exchange(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    """One fake server per flavour, shared by its cases (each starts from `reset()`)."""
    prices = {"BTC/USDT": "60000", "BTC/USDC": "60000"}
    with FakeExchange(request.param, prices=prices, balances={"USDT": "10000", "USDC": "10000"}) as fake:
        yield fake


async def _buy_through(
    tmp_path: Path, fake: FakeExchange, status: int, body: str, processed: bool
) -> tuple[Live, str]:
    """One buy alert whose create is answered with `status` and `body`; returns the order's state
    right after the create, before any status check."""
    fake.reset()
    live = await _start(tmp_path, fake, **QUICK)
    fake.fail_next("POST", CREATE_PATH[fake.flavor], status=status, body=body, processed=processed)
    try:
        await live.alert("buy", ticker=TICKER[fake.flavor])
        first = live.rows(orders)[0].state
        await live.runtime.reconciler.sync_account(live.account_ids[0])  # the account's "sync now"
    finally:
        for account in live.runtime.exchanges.live_accounts().values():
            account.client.timeout_on_exit = 0  # ccxt lingers 250 ms for TLS goodbyes; plain HTTP here
        await live.runtime.stop()
    return live, first


def _assert_filled_once(live: Live) -> None:
    [order] = live.rows(orders)
    assert order.state == "filled", order.reason
    assert live.fake.creates(FIRST) == 1 and len(live.fake.orders) == 1
    [position] = live.rows(positions)
    assert position.status == "open" and position.amount > 0
    assert not [r for r in live.rows(execution_log) if r.status == "FAILED"]
    live.agrees_with_exchange()


def _assert_never_placed(live: Live) -> None:
    [order] = live.rows(orders)
    assert order.state == "rejected" and "never reached the exchange" in order.reason
    assert live.fake.creates(FIRST) == 1  # looked up, never sent a second time
    assert live.fake.orders == []
    assert live.rows(positions) == []
    assert [i.status for i in live.rows(execution_intents)] == ["failed"]


@pytest.mark.parametrize("processed", [True, False], ids=["processed", "not_processed"])
@pytest.mark.parametrize("kind", ["json", "html"])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_create_answered_with_a_server_error_is_looked_up_and_settled_as_the_exchange_has_it(
    case_dir: Path,
    exchange: FakeExchange,
    status: int,
    kind: Literal["json", "html"],
    processed: bool,
) -> None:
    body = exchange.server_error_body(status, kind)

    live, first = await _buy_through(case_dir, exchange, status, body, processed)

    assert first == ("filled" if processed else "submitted")  # never "rejected" without a lookup
    if processed:
        _assert_filled_once(live)
    else:
        _assert_never_placed(live)


# Answers whose body ccxt maps to a refusal class, though the exchange does not know the outcome.
_MISLEADING = [
    pytest.param(  # a 5xx is "execution status unknown" whatever the body says (ccxt: InsufficientFunds)
        "binance",
        503,
        {"code": -2010, "msg": "Account has insufficient balance for requested action."},
        id="binance-503-insufficient-balance",
    ),
    pytest.param(
        "binance", 500, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}, id="binance-500-invalid-order"
    ),
    pytest.param(
        "okx",
        502,
        {"code": "51008", "msg": "Order failed. Insufficient balance.", "data": []},
        id="okx-502-insufficient-balance",
    ),
    pytest.param(  # Bybit answers 200 with "Order creation timeout", which ccxt maps to InvalidOrder
        "bybit",
        200,
        {"retCode": 170146, "retMsg": "Order creation timeout", "result": {}, "retExtInfo": {}},
        id="bybit-200-order-creation-timeout",
    ),
]


@pytest.mark.parametrize("processed", [True, False], ids=["processed", "not_processed"])
@pytest.mark.parametrize(("flavor", "status", "payload"), _MISLEADING)
async def test_an_answer_that_names_a_refusal_but_does_not_know_the_outcome_is_looked_up(
    case_dir: Path, flavor: str, status: int, payload: dict[str, object], processed: bool
) -> None:
    prices = {"BTC/USDT": "60000"}
    with FakeExchange(flavor, prices=prices, balances={"USDT": "10000"}) as fake:  # type: ignore[arg-type]
        live, first = await _buy_through(case_dir, fake, status, json.dumps(payload), processed)

    assert first == ("filled" if processed else "submitted")
    if processed:
        _assert_filled_once(live)
    else:
        _assert_never_placed(live)


async def test_a_lookup_answered_with_a_5xx_saying_no_such_order_is_not_counted_as_a_miss(
    case_dir: Path,
) -> None:
    no_such_order = json.dumps({"code": -2013, "msg": "Order does not exist."})  # ccxt: OrderNotFound
    with FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "10000"}) as fake:
        live = await _start(case_dir, fake, **QUICK)
        try:
            fake.drop_next_create()  # placed, but the answer is lost
            fake.hide_order(FIRST, lookups=3)  # and the adapter's own lookups miss it: one miss so far
            await live.alert("buy")
            # Every try of the next check meets a gateway error whose body says "no such order".
            fake.fail_next("GET", "/api/v3/order", status=500, body=no_such_order, times=4)
            await live.runtime.reconciler.sync_account(live.account_ids[0])
            after_errors = live.rows(orders)[0].state
            await live.runtime.reconciler.sync_account(live.account_ids[0])  # the gateway is back
        finally:
            await live.runtime.stop()

    assert after_errors == "submitted"  # not concluded "never reached the exchange"
    _assert_filled_once(live)
