"""Drive the okx, mexc and coinbase flavors of the fake exchange with the real ccxt async clients.

The same scenarios as ``test_fake_exchange.py`` (markets, tickers, balances, orders by client order
id, order lists, trades, rejections, faults), written against what each exchange and ccxt really
offer: how a client order id goes out, how an order is found or cancelled by it, what a create
answers and which ccxt error each rejection becomes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import ccxt
import pytest

from tests.fakes.exchange import FLAVORS as ALL_FLAVORS
from tests.fakes.exchange import FakeExchange, Flavor
from tests.fakes.test_fake_exchange import client, connect, connected, taker_buy_of_0_01_at_60000

FLAVORS: list[Flavor] = ["okx", "mexc", "coinbase"]
QUOTE: dict[str, str] = {"okx": "USDT", "mexc": "USDT", "coinbase": "USDC"}


def sym(fake: FakeExchange, base: str = "BTC") -> str:
    return f"{base}/{QUOTE[fake.flavor]}"


@pytest.fixture(params=FLAVORS)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeExchange]:
    quote = QUOTE[request.param]
    with FakeExchange(request.param, balances={quote: "10000", "BTC": "0.5"}) as server:
        yield server


@pytest.fixture
async def ex(fake: FakeExchange) -> AsyncIterator[Any]:
    async with connected(fake) as exchange:
        yield exchange


# ----------------------------------------------------------------------------- per-exchange dialect


def cid_params(ex: Any, cid: str) -> dict[str, Any]:
    """How the client order id goes out on create."""
    if ex.id == "coinbase":
        # ccxt drops the unified clientOrderId for coinbase (it sends ccxt-<uuid>); the raw field wins.
        return {"client_order_id": cid}
    return {"clientOrderId": cid}  # okx: -> clOrdId, mexc: -> newClientOrderId


async def create(
    ex: Any, fake: FakeExchange, kind: str, side: str, amount: float, price: float | None, cid: str
) -> Any:
    symbol = sym(fake)
    if ex.id == "coinbase" and kind == "market" and side == "buy" and price is None:
        # coinbase market buys are sized in quote: ccxt needs a price to turn amount into quote_size.
        price = 60000.0  # the fake's default BTC price
    return await ex.create_order(symbol, kind, side, amount, price, cid_params(ex, cid))


async def fetch_by_cid(ex: Any, fake: FakeExchange, cid: str) -> dict[str, Any]:
    symbol = sym(fake)
    if ex.id == "coinbase":
        # No lookup by client_order_id: scan the order list (any status) for it.
        for order in await ex.fetch_orders(symbol):
            if order["clientOrderId"] == cid:
                return dict(order)
        raise ccxt.OrderNotFound(cid)
    # okx: fetch_order('', symbol, {'clOrdId': cid}); mexc: {'clientOrderId': cid} -> origClientOrderId.
    return dict(await ex.fetch_order_with_client_order_id(cid, symbol))


async def cancel_by_cid(ex: Any, fake: FakeExchange, cid: str) -> dict[str, Any]:
    symbol = sym(fake)
    if ex.id == "coinbase":
        order = await fetch_by_cid(ex, fake, cid)
        return dict(await ex.cancel_order(order["id"], symbol))  # batch_cancel by order id only
    return dict(await ex.cancel_order_with_client_order_id(cid, symbol))


# ccxt's class for the exchange's answer to ... (see the fake's error bodies).
UNKNOWN_ORDER_FETCH = {"okx": ccxt.OrderNotFound, "mexc": ccxt.ExchangeError, "coinbase": ccxt.ExchangeError}
UNKNOWN_ORDER_CANCEL = {"okx": ccxt.OrderNotFound, "mexc": ccxt.BadRequest, "coinbase": ccxt.BadRequest}


# ----------------------------------------------------------------------------- markets & data


async def test_markets_load_with_precision_and_limits(fake: FakeExchange, ex: Any) -> None:
    btc, eth = ex.market(sym(fake)), ex.market(sym(fake, "ETH"))
    assert btc["spot"] and eth["spot"] and btc["active"]
    assert set(ex.markets) == {sym(fake), sym(fake, "ETH")}
    assert btc["id"] == {"okx": "BTC-USDT", "mexc": "BTCUSDT", "coinbase": "BTC-USDC"}[fake.flavor]
    step = 0.00000001 if fake.flavor == "coinbase" else 0.00001
    assert btc["precision"]["amount"] == pytest.approx(step)
    assert btc["precision"]["price"] == pytest.approx(0.01)
    assert btc["limits"]["amount"]["min"] == pytest.approx(step)
    # okx publishes no minimum order value (only minSz); mexc and coinbase do.
    assert btc["limits"]["cost"]["min"] == {"okx": None, "mexc": 5, "coinbase": 1}[fake.flavor]
    expected = {
        "okx": {"/api/v5/public/instruments", "/api/v5/asset/currencies"},
        "mexc": {"/api/v3/exchangeInfo", "/api/v1/contract/detail", "/api/v3/capital/config/getall"},
        "coinbase": {
            "/api/v3/brokerage/market/products",
            "/api/v3/brokerage/transaction_summary",
            "/v2/currencies",
            "/v2/currencies/crypto",
            "/v2/exchange-rates",
        },
    }[fake.flavor]
    assert {record.path for record in fake.request_log} == expected
    assert all(record.status == 200 for record in fake.request_log)


async def test_every_api_url_points_at_the_fake(fake: FakeExchange) -> None:
    ex = client(fake)
    try:

        def leaves(node: Any) -> Iterator[str]:
            if isinstance(node, dict):
                for value in node.values():
                    yield from leaves(value)
            else:
                yield str(node)

        assert all(url.startswith(fake.base_url) for url in leaves(ex.urls["api"]))
    finally:
        await ex.close()


async def test_tickers_follow_the_price(fake: FakeExchange, ex: Any) -> None:
    fake.set_price(sym(fake), "61234.5")
    ticker = await ex.fetch_ticker(sym(fake))
    assert ticker["symbol"] == sym(fake)
    assert ticker["last"] == ticker["close"] == pytest.approx(61234.5)
    assert ticker["bid"] == pytest.approx(61234.5) and ticker["ask"] == pytest.approx(61234.5)
    if fake.flavor != "coinbase":  # coinbase's ticker carries no 24h high/low
        assert ticker["high"] == pytest.approx(61234.5) and ticker["low"] == pytest.approx(60000)
    tickers = await ex.fetch_tickers([sym(fake), sym(fake, "ETH")])
    assert set(tickers) == {sym(fake), sym(fake, "ETH")}
    assert tickers[sym(fake, "ETH")]["last"] == pytest.approx(3000)
    assert set(await ex.fetch_tickers()) == {sym(fake), sym(fake, "ETH")}


async def test_fetch_time(fake: FakeExchange, ex: Any) -> None:
    before = ex.milliseconds()
    assert before - 1000 <= await ex.fetch_time() <= ex.milliseconds() + 1000


async def test_balance_shows_free_used_total(fake: FakeExchange, ex: Any) -> None:
    quote = QUOTE[fake.flavor]
    balance = await ex.fetch_balance()
    assert balance["free"][quote] == pytest.approx(10000)
    assert balance["total"]["BTC"] == pytest.approx(0.5)
    await create(ex, fake, "limit", "buy", 0.01, 50000, "lock1")
    balance = await ex.fetch_balance()
    locked = float(fake.balances[quote]["locked"])
    assert locked >= 500
    assert balance["used"][quote] == pytest.approx(locked)
    assert balance["free"][quote] == pytest.approx(10000 - locked)
    assert balance["total"][quote] == pytest.approx(10000)


# ----------------------------------------------------------------------------- trading


async def test_market_buy_fills_and_moves_balances(fake: FakeExchange, ex: Any) -> None:
    quote = QUOTE[fake.flavor]
    created = await create(ex, fake, "market", "buy", 0.01, None, "mkt1")
    # Every one of them answers a create with ids only: the order's state needs a fetch.
    assert created["id"] and created["status"] is None and created["filled"] is None
    # mexc does not echo the client order id in its create answer.
    assert created["clientOrderId"] == (None if fake.flavor == "mexc" else "mkt1")
    order = await fetch_by_cid(ex, fake, "mkt1")
    assert order["id"] == created["id"] and order["clientOrderId"] == "mkt1"
    trade = taker_buy_of_0_01_at_60000(fake, order)
    # okx and mexc take the commission from what a buy receives (base); coinbase always in quote.
    fee_asset = quote if fake.flavor == "coinbase" else "BTC"
    assert trade["fee_asset"] == fee_asset
    fee = float(trade["fee"])
    assert fee == pytest.approx(0.6 if fee_asset == quote else 0.00001)
    [mine] = await ex.fetch_my_trades(sym(fake))
    assert mine["fee"]["currency"] == fee_asset and mine["fee"]["cost"] == pytest.approx(fee)
    assert mine["order"] == created["id"] and mine["takerOrMaker"] == "taker"
    balance = await ex.fetch_balance()
    assert balance["total"][quote] == pytest.approx(10000 - 600 - (fee if fee_asset == quote else 0))
    assert balance["total"]["BTC"] == pytest.approx(0.51 - (fee if fee_asset == "BTC" else 0))


async def test_market_sell_pays_fee_in_quote(fake: FakeExchange, ex: Any) -> None:
    quote = QUOTE[fake.flavor]
    await create(ex, fake, "market", "sell", 0.1, None, "sell1")
    order = await fetch_by_cid(ex, fake, "sell1")
    assert order["status"] == "closed" and order["filled"] == pytest.approx(0.1)
    [trade] = await ex.fetch_my_trades(sym(fake))
    assert trade["side"] == "sell" and trade["fee"]["currency"] == quote
    assert trade["fee"]["cost"] == pytest.approx(6)
    balance = await ex.fetch_balance()
    assert balance["total"][quote] == pytest.approx(10000 + 6000 - 6)
    assert balance["total"]["BTC"] == pytest.approx(0.4)


async def test_limit_order_rests_then_fill_closes_it_with_trades(fake: FakeExchange, ex: Any) -> None:
    quote = QUOTE[fake.flavor]
    created = await create(ex, fake, "limit", "buy", 0.01, 50000, "lim1")
    order = await fetch_by_cid(ex, fake, "lim1")
    assert order["status"] == "open" and order["filled"] == pytest.approx(0)
    by_id = await ex.fetch_order(created["id"], sym(fake))
    assert by_id["clientOrderId"] == "lim1" and by_id["price"] == pytest.approx(50000)
    fake.fill("lim1", "0.004")
    order = await fetch_by_cid(ex, fake, "lim1")
    assert order["status"] == "open"
    assert order["filled"] == pytest.approx(0.004) and order["remaining"] == pytest.approx(0.006)
    fake.fill("lim1")
    order = await fetch_by_cid(ex, fake, "lim1")
    assert order["status"] == "closed" and order["filled"] == pytest.approx(0.01)
    assert order["average"] == pytest.approx(50000)
    trades = await ex.fetch_my_trades(sym(fake))
    assert sorted(t["amount"] for t in trades) == pytest.approx([0.004, 0.006])
    assert {t["order"] for t in trades} == {created["id"]}
    assert all(t["takerOrMaker"] == "maker" and t["price"] == pytest.approx(50000) for t in trades)
    if fake.flavor != "coinbase":  # ccxt has no fetch_order_trades for coinbase
        assert len(await ex.fetch_order_trades(created["id"], sym(fake))) == 2
    else:
        assert len(await ex.fetch_my_trades(sym(fake), params={"order_ids": [created["id"]]})) == 2
    assert fake.balances[quote]["locked"] == "0"


async def test_crossing_limit_order_fills_at_the_current_price(fake: FakeExchange, ex: Any) -> None:
    await create(ex, fake, "limit", "buy", 0.01, 61000, "cross1")
    order = await fetch_by_cid(ex, fake, "cross1")
    assert order["status"] == "closed" and order["average"] == pytest.approx(60000)
    assert fake.trades[0]["taker_or_maker"] == "taker"


async def test_fetch_by_client_order_id_finds_the_right_order(fake: FakeExchange, ex: Any) -> None:
    for i, price in enumerate((50000, 51000, 52000)):
        await create(ex, fake, "limit", "buy", 0.001, price, f"pick{i}")
    order = await fetch_by_cid(ex, fake, "pick1")
    assert order["clientOrderId"] == "pick1" and order["price"] == pytest.approx(51000)
    assert (await ex.fetch_order(order["id"], sym(fake)))["clientOrderId"] == "pick1"


async def test_cancel_by_client_order_id(fake: FakeExchange, ex: Any) -> None:
    quote = QUOTE[fake.flavor]
    await create(ex, fake, "limit", "buy", 0.01, 50000, "cxl1")
    canceled = await cancel_by_cid(ex, fake, "cxl1")
    record = fake.order("cxl1")
    assert record is not None and record["status"] == "canceled"
    assert canceled["id"] == record["id"]
    assert (await fetch_by_cid(ex, fake, "cxl1"))["status"] == "canceled"
    assert fake.balances[quote] == {"free": "10000", "locked": "0", "total": "10000"}
    with pytest.raises(UNKNOWN_ORDER_CANCEL[fake.flavor]):
        await ex.cancel_order(record["id"], sym(fake))  # no longer open


async def test_open_closed_and_canceled_order_lists(fake: FakeExchange, ex: Any) -> None:
    await create(ex, fake, "limit", "buy", 0.01, 50000, "open1")
    await create(ex, fake, "market", "buy", 0.01, None, "done1")
    await create(ex, fake, "limit", "buy", 0.01, 40000, "gone1")
    await cancel_by_cid(ex, fake, "gone1")
    assert [o["clientOrderId"] for o in await ex.fetch_open_orders(sym(fake))] == ["open1"]
    if fake.flavor != "mexc":  # mexc's openOrders needs a symbol
        assert [o["clientOrderId"] for o in await ex.fetch_open_orders()] == ["open1"]
    closed = await ex.fetch_closed_orders(sym(fake))
    if fake.flavor == "mexc":
        # ccxt 4.5.90 sends states=3 to allOrders, which mexc ignores: every order comes back.
        assert sorted((o["clientOrderId"], o["status"]) for o in closed) == [
            ("done1", "closed"),
            ("gone1", "canceled"),
            ("open1", "open"),
        ]
    else:
        assert [o["clientOrderId"] for o in closed] == ["done1"]
        assert [o["clientOrderId"] for o in await ex.fetch_canceled_orders(sym(fake))] == ["gone1"]


async def test_unknown_orders(fake: FakeExchange, ex: Any) -> None:
    unknown = {
        "okx": "2900000000000000001",
        "mexc": "C02__1",
        "coinbase": "6c1f9a1e-0000-4000-8000-000000000000",
    }
    with pytest.raises(UNKNOWN_ORDER_FETCH[fake.flavor]) as fetched:
        await ex.fetch_order(unknown[fake.flavor], sym(fake))
    with pytest.raises(UNKNOWN_ORDER_CANCEL[fake.flavor]):
        await ex.cancel_order(unknown[fake.flavor], sym(fake))
    if fake.flavor != "okx":
        assert not isinstance(fetched.value, ccxt.OrderNotFound)  # ccxt has no mapping for it
    if fake.flavor != "coinbase":
        with pytest.raises(UNKNOWN_ORDER_FETCH[fake.flavor]):
            await fetch_by_cid(ex, fake, "nope")
        with pytest.raises(UNKNOWN_ORDER_CANCEL[fake.flavor]):
            await cancel_by_cid(ex, fake, "nope")


async def test_manual_cancel_of_a_partial_fill(fake: FakeExchange, ex: Any) -> None:
    await create(ex, fake, "limit", "buy", 0.01, 50000, "part1")
    fake.fill("part1", "0.004")
    fake.cancel_manually("part1")
    order = await fetch_by_cid(ex, fake, "part1")
    assert order["filled"] == pytest.approx(0.004) and order["status"] == "canceled"
    assert await ex.fetch_open_orders(sym(fake)) == []


# ----------------------------------------------------------------------------- rejections


async def test_insufficient_balance(fake: FakeExchange, ex: Any) -> None:
    quote = QUOTE[fake.flavor]
    with pytest.raises(ccxt.InsufficientFunds):
        await create(ex, fake, "market", "buy", 1, None, "big1")
    with pytest.raises(ccxt.InsufficientFunds):
        await create(ex, fake, "limit", "sell", 0.6, 70000, "big2")
    assert fake.order("big1") is None and fake.creates("big1") == 1
    assert fake.balances[quote]["free"] == "10000"


async def test_duplicate_client_order_id(fake: FakeExchange, ex: Any) -> None:
    first = await create(ex, fake, "limit", "buy", 0.001, 50000, "dup1")
    if fake.flavor == "coinbase":
        # coinbase creates nothing for a reused client_order_id and answers with the existing order.
        again = await create(ex, fake, "limit", "buy", 0.001, 50000, "dup1")
        assert again["id"] == first["id"]
    else:
        # okx sCode 51016 "Duplicated clOrdId" -> InvalidOrder; mexc -2010 is unmapped -> ExchangeError.
        expected = ccxt.InvalidOrder if fake.flavor == "okx" else ccxt.ExchangeError
        with pytest.raises(expected, match="uplicate"):
            await create(ex, fake, "limit", "buy", 0.001, 50000, "dup1")
    assert fake.creates("dup1") == 2 and len(fake.orders) == 1


async def test_reuse_of_a_client_order_id_once_the_order_is_closed(fake: FakeExchange, ex: Any) -> None:
    await create(ex, fake, "market", "buy", 0.001, None, "again1")
    second = await create(ex, fake, "market", "buy", 0.001, None, "again1")
    if fake.flavor == "coinbase":
        assert len(fake.orders) == 1 and second["id"] == fake.orders[0]["id"]  # idempotent
    else:
        assert len(fake.orders) == 2 and len(fake.trades) == 2  # only open orders' ids are unique
        assert (await fetch_by_cid(ex, fake, "again1"))["id"] == second["id"]  # the latest wins


async def test_okx_refuses_a_client_order_id_that_is_not_alphanumeric() -> None:
    with FakeExchange("okx") as fake:
        ex = await connect(fake)
        try:
            with pytest.raises(ccxt.BadRequest, match="clOrdId"):  # sCode 51000
                await create(ex, fake, "limit", "buy", 0.001, 50000, "with-dash")
        finally:
            await ex.close()


async def test_wrong_credentials(fake: FakeExchange) -> None:
    if fake.flavor == "coinbase":
        other = FakeExchange("coinbase")  # a different EC key and key name, never started
        cases = [
            ({"apiKey": other.api_key}, ccxt.AuthenticationError),
            ({"secret": other.api_secret}, ccxt.AuthenticationError),
        ]
    elif fake.flavor == "okx":
        cases = [
            ({"apiKey": "wrong-key"}, ccxt.AuthenticationError),  # 50111
            ({"secret": "wrong-secret"}, ccxt.AuthenticationError),  # 50113
            ({"password": "wrong-pass"}, ccxt.AuthenticationError),  # 50105
        ]
    else:
        # mexc 10072 "Api key info invalid" is a BadRequest to ccxt; a bad signature (700002) is not.
        cases = [
            ({"apiKey": "wrong-key"}, ccxt.BadRequest),
            ({"secret": "wrong-secret"}, ccxt.AuthenticationError),
        ]
    for overrides, error in cases:
        ex = client(fake, **overrides)
        try:
            with pytest.raises(error):
                await ex.fetch_balance()
        finally:
            await ex.close()


# ----------------------------------------------------------------------------- faults


BALANCE_PATH = {
    "binance": "/api/v3/account",
    "bybit": "/v5/account/wallet-balance",
    "okx": "/api/v5/account/balance",
    "mexc": "/api/v3/account",
    "coinbase": "/api/v3/brokerage/accounts",
}
CREATE_PATH = {"okx": "/api/v5/trade/order", "mexc": "/api/v3/order", "coinbase": "/api/v3/brokerage/orders"}


@pytest.mark.parametrize("flavor", ALL_FLAVORS)
@pytest.mark.parametrize(
    ("status", "error"),
    [(500, ccxt.ExchangeNotAvailable), (503, ccxt.ExchangeNotAvailable), (504, ccxt.RequestTimeout)],
)
async def test_5xx_is_a_network_error_and_is_consumed(
    flavor: Flavor, status: int, error: type[Exception]
) -> None:
    quote = QUOTE.get(flavor, "USDT")
    with FakeExchange(flavor, balances={quote: "10000", "BTC": "0.5"}) as fake:
        async with connected(fake) as ex:
            fake.fail_next("GET", BALANCE_PATH[fake.flavor], status=status)
            with pytest.raises(error):
                await ex.fetch_balance()
            assert issubclass(error, ccxt.NetworkError)
            assert (await ex.fetch_balance())["free"][quote] == pytest.approx(10000)


async def test_failed_create_reaches_the_server_but_creates_nothing(fake: FakeExchange, ex: Any) -> None:
    fake.fail_next("POST", CREATE_PATH[fake.flavor], status=502, times=2)
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            await create(ex, fake, "market", "buy", 0.001, None, "fivexx1")
    assert fake.creates("fivexx1") == 2 and fake.order("fivexx1") is None
    await create(ex, fake, "market", "buy", 0.001, None, "fivexx1")
    assert fake.creates() == 3 and fake.order("fivexx1") is not None


async def test_429_is_rate_limit_exceeded(fake: FakeExchange, ex: Any) -> None:
    fake.fail_next("*", "/", status=429, retry_after=7)
    with pytest.raises(ccxt.RateLimitExceeded):
        await ex.fetch_ticker(sym(fake))
    assert ex.last_response_headers["Retry-After"] == "7"
    assert (await ex.fetch_ticker(sym(fake)))["last"] == pytest.approx(60000)


async def test_injected_exchange_error_json(fake: FakeExchange, ex: Any) -> None:
    body = {
        "okx": {"code": "50011", "msg": "Too Many Requests", "data": []},
        "mexc": {"code": 700003, "msg": "Timestamp for this request is outside of the recvWindow."},
        "coinbase": {"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]},
    }[fake.flavor]
    expected = ccxt.InvalidNonce if fake.flavor == "mexc" else ccxt.RateLimitExceeded
    fake.fail_next(
        "POST", CREATE_PATH[fake.flavor], status=200 if fake.flavor == "okx" else 400, body=json.dumps(body)
    )
    with pytest.raises(expected):
        await create(ex, fake, "market", "buy", 0.001, None, "json1")
    assert fake.order("json1") is None


async def test_delayed_create_times_out_but_the_order_exists(fake: FakeExchange, ex: Any) -> None:
    fake.delay_next_create(1.0)
    ex.timeout = 300
    with pytest.raises(ccxt.RequestTimeout):
        await create(ex, fake, "market", "buy", 0.001, None, "slow1")
    record = fake.order("slow1")
    assert record is not None and record["status"] == "closed"
    ex.timeout = 5000
    assert (await fetch_by_cid(ex, fake, "slow1"))["filled"] == pytest.approx(0.001)


async def test_dropped_create_is_a_network_error_but_the_order_exists(fake: FakeExchange, ex: Any) -> None:
    fake.drop_next_create()
    with pytest.raises(ccxt.NetworkError):
        await create(ex, fake, "limit", "buy", 0.001, 50000, "drop1")
    record = fake.order("drop1")
    assert record is not None and record["status"] == "open"
    assert [r.status for r in fake.request_log if r.method == "POST"] == [0]
    assert (await fetch_by_cid(ex, fake, "drop1"))["status"] == "open"


async def test_hidden_order_is_not_found_n_times_then_found(fake: FakeExchange, ex: Any) -> None:
    await create(ex, fake, "limit", "buy", 0.001, 50000, "ghost1")
    fake.hide_order("ghost1", lookups=2)
    for _ in range(2):
        with pytest.raises((ccxt.OrderNotFound, UNKNOWN_ORDER_FETCH[fake.flavor])):
            await fetch_by_cid(ex, fake, "ghost1")
    assert (await fetch_by_cid(ex, fake, "ghost1"))["clientOrderId"] == "ghost1"
    fake.hide_order("ghost1", lookups=1)
    assert await ex.fetch_open_orders(sym(fake)) == []
    assert [o["clientOrderId"] for o in await ex.fetch_open_orders(sym(fake))] == ["ghost1"]


async def test_fill_on_checks_grows_filled_on_each_fetch(fake: FakeExchange, ex: Any) -> None:
    created = await create(ex, fake, "limit", "buy", 0.01, 50000, "drip1")
    fake.fill_on_checks("drip1", ["0.003", "0.004", "0.003"])
    seen = [await ex.fetch_order(created["id"], sym(fake)) for _ in range(4)]
    assert [o["filled"] for o in seen] == pytest.approx([0.003, 0.007, 0.01, 0.01])
    assert [o["status"] for o in seen] == ["open", "open", "closed", "closed"]
    assert len(fake.trades) == 3
