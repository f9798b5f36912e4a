"""The fake's binance spot user-data stream, driven by the real ``ccxt.pro.binance`` client.

ccxt pro 4.5.90 subscribes spot user data on the WebSocket API (``urls['api']['ws']['ws-api']
['spot']``) with ``userDataStream.subscribe.signature`` and reads ``executionReport`` events for
``watch_orders()`` / ``watch_my_trades()``.  A few tests talk to the endpoint with a raw aiohttp
WebSocket to pin the wire format (what Binance sends, not only what ccxt happens to parse).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import ccxt
import ccxt.pro
import pytest

from tests.fakes.exchange import FakeExchange

BTC = "BTC/USDT"
WAIT = 3.0  # seconds; every event arrives in milliseconds


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    with FakeExchange("binance", balances={"USDT": "10000", "BTC": "0.5"}) as server:
        yield server


def pro_client(fake: FakeExchange, **overrides: Any) -> Any:
    # timeout_on_exit: close() otherwise sleeps 250 ms after closing the sockets.
    return ccxt.pro.binance({**fake.ccxt_pro_config(), "timeout_on_exit": 0, **overrides})


@pytest.fixture
async def pro(fake: FakeExchange) -> AsyncIterator[Any]:
    client = pro_client(fake)
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()


async def until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)


async def subscribe(fake: FakeExchange, watch: Callable[[], Awaitable[Any]]) -> asyncio.Task[Any]:
    """Start the first watch call and wait until the fake holds its user-data subscription."""
    task: asyncio.Task[Any] = asyncio.ensure_future(watch())
    await until(lambda: fake.stream_connections == 1 or task.done())
    return task


async def watching(watch: Callable[[], Awaitable[Any]]) -> asyncio.Task[Any]:
    """Start a watch call on a subscribed client; it has registered for the next event on return."""
    task: asyncio.Task[Any] = asyncio.ensure_future(watch())
    await asyncio.sleep(0)
    return task


def by_cid(orders: list[dict[str, Any]], cid: str) -> dict[str, Any]:
    return next(o for o in orders if o["clientOrderId"] == cid)


def cached_status(client: Any, cid: str) -> str | None:
    """The status of an order in ccxt's order cache (what watch_orders returns from)."""
    return next((o["status"] for o in client.orders or [] if o["clientOrderId"] == cid), None)


# ---------------------------------------------------------------------- wiring


def test_ccxt_pro_config_points_everything_at_the_fake(fake: FakeExchange) -> None:
    ws = fake.ccxt_ws_urls()
    ws_base = fake.base_url.replace("http://", "ws://")
    assert ws["ws-api"]["spot"] == f"{ws_base}/ws-api/v3"
    flat = [v for k, v in ws.items() if k != "ws-api"] + list(ws["ws-api"].values())
    assert all(url.startswith(ws_base + "/") for url in flat)

    config = fake.ccxt_pro_config()
    assert config["options"] == fake.ccxt_config()["options"]
    client = ccxt.pro.binance(config)
    urls = client.urls["api"]
    # Every REST and WebSocket url ccxt knows of ends up at the fake (merged over its defaults).
    assert all(urls[k].startswith(fake.base_url) for k in fake.ccxt_urls())
    for key, value in urls["ws"].items():
        values = value.values() if isinstance(value, dict) else [value]
        assert all(str(v).startswith(ws_base) for v in values), key


def test_bybit_has_no_websocket_urls() -> None:
    fake = FakeExchange("bybit")
    with pytest.raises(NotImplementedError, match="bybit"):
        fake.ccxt_ws_urls()
    with pytest.raises(NotImplementedError, match="bybit"):
        fake.ccxt_pro_config()


# ---------------------------------------------------------------------- ccxt pro


async def test_watch_orders_follows_an_order_from_new_to_filled(fake: FakeExchange, pro: Any) -> None:
    task = await subscribe(fake, pro.watch_orders)
    assert fake.stream_connections == 1
    await pro.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": "buy-1"})
    new = by_cid(await asyncio.wait_for(task, WAIT), "buy-1")
    assert new["status"] == "open"
    assert new["id"] == fake.order("buy-1")["id"]
    assert (new["symbol"], new["side"], new["type"], new["timeInForce"]) == (BTC, "buy", "limit", "GTC")
    assert (new["amount"], new["price"], new["filled"]) == (0.01, 50000, 0)
    assert new["fee"] is None

    task = await watching(pro.watch_orders)
    fake.fill("buy-1", "0.004")
    part = by_cid(await asyncio.wait_for(task, WAIT), "buy-1")
    assert part["status"] == "open"
    assert (part["filled"], part["remaining"], part["average"], part["cost"]) == (0.004, 0.006, 50000, 200)
    assert part["fee"] == {"currency": "USDT", "cost": 0.2}
    assert part["info"]["x"] == "TRADE" and part["info"]["X"] == "PARTIALLY_FILLED"

    task = await watching(pro.watch_orders)
    fake.fill("buy-1", price="49990")
    done = by_cid(await asyncio.wait_for(task, WAIT), "buy-1")
    assert done["status"] == "closed"
    assert (done["filled"], done["remaining"], done["cost"]) == (0.01, 0, 499.94)
    assert done["average"] == pytest.approx(49994)
    # ccxt adds each trade's commission to the order it has cached: 0.2 + 0.29994 USDT.
    assert done["fee"]["currency"] == "USDT"
    assert done["fee"]["cost"] == pytest.approx(float(fake.order("buy-1")["fee"]))
    assert done["fee"]["cost"] == pytest.approx(0.49994)
    assert done["timestamp"] == fake.order("buy-1")["created_ms"]
    assert done["lastTradeTimestamp"] == fake.trades[-1]["time_ms"]


async def test_watch_orders_sees_manual_and_rest_cancels(fake: FakeExchange, pro: Any) -> None:
    task = await subscribe(fake, pro.watch_orders)
    await pro.create_order(BTC, "limit", "sell", 0.1, 70000, {"clientOrderId": "ask-1"})
    await asyncio.wait_for(task, WAIT)
    task = await watching(pro.watch_orders)
    await pro.create_order(BTC, "limit", "sell", 0.1, 71000, {"clientOrderId": "ask-2"})
    await asyncio.wait_for(task, WAIT)

    task = await watching(pro.watch_orders)
    fake.cancel_manually("ask-1")
    canceled = by_cid(await asyncio.wait_for(task, WAIT), "ask-1")
    assert canceled["status"] == "canceled"
    assert canceled["filled"] == 0 and canceled["fee"] is None
    # Like Binance: c is the cancel's own client id (a web_* one from the website), C the order's.
    assert canceled["info"]["c"].startswith("web_") and canceled["info"]["C"] == "ask-1"

    task = await watching(pro.watch_orders)
    rest = await pro.cancel_order_with_client_order_id("ask-2", BTC)
    canceled = by_cid(await asyncio.wait_for(task, WAIT), "ask-2")
    assert canceled["status"] == "canceled"
    assert canceled["info"]["x"] == "CANCELED"
    assert canceled["info"]["c"] == rest["info"]["clientOrderId"]
    assert fake.balances["BTC"] == {"free": "0.5", "locked": "0", "total": "0.5"}


async def test_set_price_crossing_and_ioc_expiry_are_streamed(fake: FakeExchange, pro: Any) -> None:
    task = await subscribe(fake, pro.watch_orders)
    await pro.create_order(BTC, "limit", "buy", 0.01, 59000, {"clientOrderId": "dip"})
    await asyncio.wait_for(task, WAIT)

    task = await watching(pro.watch_orders)
    fake.set_price(BTC, "58000")
    filled = by_cid(await asyncio.wait_for(task, WAIT), "dip")
    assert (filled["status"], filled["filled"], filled["average"]) == ("closed", 0.01, 59000)

    # An IOC that cannot fill: NEW, then EXPIRED right away.  Two events back to back may reach
    # ccxt before a watcher registers again, so look at the cache watch_orders returns from.
    ioc = {"clientOrderId": "ioc", "timeInForce": "IOC"}
    await pro.create_order(BTC, "limit", "buy", 0.01, 50000, ioc)
    await until(lambda: cached_status(pro, "ioc") == "expired")
    assert by_cid(list(pro.orders), "ioc")["info"]["x"] == "EXPIRED"


async def test_watch_my_trades_yields_maker_and_taker_trades(fake: FakeExchange, pro: Any) -> None:
    task = await subscribe(fake, pro.watch_my_trades)
    await pro.create_order(BTC, "market", "buy", 0.002, None, {"clientOrderId": "taker"})
    trades = await asyncio.wait_for(task, WAIT)
    taker = fake.trades[0]
    assert [t["id"] for t in trades] == [taker["id"]]
    trade = trades[0]
    assert trade["order"] == fake.order("taker")["id"]
    assert (trade["symbol"], trade["side"], trade["type"], trade["takerOrMaker"]) == (
        BTC,
        "buy",
        "market",
        "taker",
    )
    assert (trade["amount"], trade["price"], trade["cost"]) == (0.002, 60000, 120)
    assert trade["fee"] == {"currency": "USDT", "cost": 0.12}
    assert trade["timestamp"] == taker["time_ms"]

    await pro.create_order(BTC, "limit", "sell", 0.003, 61000, {"clientOrderId": "maker"})
    task = await watching(pro.watch_my_trades)
    fake.fill("maker", "0.001")
    trades = await asyncio.wait_for(task, WAIT)
    maker = fake.trades[-1]
    assert trades[-1]["id"] == maker["id"] != taker["id"]
    assert (trades[-1]["side"], trades[-1]["takerOrMaker"]) == ("sell", "maker")
    assert (trades[-1]["amount"], trades[-1]["price"]) == (0.001, 61000)
    assert trades[-1]["fee"] == {"currency": "USDT", "cost": 0.061}


async def test_watch_balance_follows_outbound_account_position(fake: FakeExchange, pro: Any) -> None:
    task = await subscribe(fake, pro.watch_balance)
    await pro.create_order(BTC, "limit", "sell", 0.2, 65000, {"clientOrderId": "lock"})
    balance = await asyncio.wait_for(task, WAIT)
    assert balance["BTC"] == {"free": 0.3, "used": 0.2, "total": 0.5}
    assert balance["USDT"] == {"free": 10000, "used": 0, "total": 10000}


@pytest.mark.parametrize("abort", [False, True], ids=["close-frame", "tcp-reset"])
async def test_drop_streams_fails_the_watch_and_a_new_watch_reconnects(
    fake: FakeExchange, pro: Any, abort: bool
) -> None:
    task = await subscribe(fake, pro.watch_orders)
    assert fake.drop_streams(abort=abort) == 1
    assert fake.stream_connections == 0
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(task, WAIT)
    # Changes while nobody listens are not replayed (as on Binance): REST is the way to catch up.
    await pro.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": "missed"})

    task = await subscribe(fake, pro.watch_orders)
    assert fake.stream_connections == 1
    await pro.create_order(BTC, "limit", "buy", 0.01, 50001, {"clientOrderId": "seen"})
    orders = await asyncio.wait_for(task, WAIT)
    assert [o["clientOrderId"] for o in orders] == ["seen"]
    assert (await pro.fetch_order_with_client_order_id("missed", BTC))["status"] == "open"


async def test_bad_signature_is_refused(fake: FakeExchange) -> None:
    client = pro_client(fake, secret="not-the-secret")
    try:
        await client.load_markets()
        with pytest.raises((ccxt.AuthenticationError, KeyError)) as caught:
            await asyncio.wait_for(client.watch_orders(), WAIT)
    finally:
        await client.close()
    # ccxt 4.5.90 maps -1022 to AuthenticationError, then trips over its own cleanup
    # (KeyError 'spot' in ensure_user_data_stream_ws_subscribe_signature) and raises that instead.
    error = caught.value
    cause = error if isinstance(error, ccxt.AuthenticationError) else error.__context__
    assert isinstance(cause, ccxt.AuthenticationError)
    assert "-1022" in str(cause)
    assert fake.stream_connections == 0


async def test_pings_keep_a_ccxt_stream_alive(fake: FakeExchange) -> None:
    fake.stop()
    fake.ws_ping_interval, fake.ws_pong_timeout = 0.02, 0.1
    fake.start()
    client = pro_client(fake)
    try:
        await client.load_markets()
        task = await subscribe(fake, client.watch_orders)
        await asyncio.sleep(0.3)  # 15 pings; ccxt answers each with a pong
        assert fake.stream_connections == 1 and not task.done()
        await client.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": "alive"})
        assert by_cid(await asyncio.wait_for(task, WAIT), "alive")["status"] == "open"
    finally:
        await client.close()


# ---------------------------------------------------------------------- wire format


def signed_subscribe(fake: FakeExchange, request_id: Any, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"apiKey": fake.api_key, "timestamp": int(time.time() * 1000), **extra}
    payload = "&".join(f"{key}={value}" for key, value in sorted(params.items()))
    params["signature"] = hmac.new(fake.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return {"id": request_id, "method": "userDataStream.subscribe.signature", "params": params}


EXECUTION_REPORT_KEYS = list("eEscSofqpPFgCxXrilzLnNTtIwmMOZYQWV")


async def test_raw_execution_reports_match_binance(fake: FakeExchange, pro: Any) -> None:
    url = fake.ccxt_ws_urls()["ws-api"]["spot"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json(signed_subscribe(fake, "sub-1", recvWindow=5000))
        ack = await ws.receive_json(timeout=WAIT)
        assert ack["id"] == "sub-1" and ack["status"] == 200
        assert ack["result"] == {"subscriptionId": 0}
        assert ack["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
        assert fake.stream_connections == 1

        await pro.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": "raw-1"})
        new = await ws.receive_json(timeout=WAIT)
        assert new["subscriptionId"] == 0
        event = new["event"]
        assert list(event) == EXECUTION_REPORT_KEYS
        order = fake.order("raw-1")
        assert event == {
            **event,
            "e": "executionReport",
            "s": "BTCUSDT",
            "c": "raw-1",
            "S": "BUY",
            "o": "LIMIT",
            "f": "GTC",
            "q": "0.01000000",
            "p": "50000.00000000",
            "P": "0.00000000",
            "F": "0.00000000",
            "g": -1,
            "C": "",
            "x": "NEW",
            "X": "NEW",
            "r": "NONE",
            "i": int(order["id"]),
            "l": "0.00000000",
            "z": "0.00000000",
            "L": "0.00000000",
            "n": "0",
            "N": None,
            "t": -1,
            "w": True,
            "m": False,
            "M": False,
            "O": order["created_ms"],
            "Z": "0.00000000",
            "Y": "0.00000000",
            "Q": "0.00000000",
            "W": order["created_ms"],
            "V": "EXPIRE_MAKER",
        }
        assert all(isinstance(event[k], int) for k in "EgiTtIOW")
        position = (await ws.receive_json(timeout=WAIT))["event"]
        assert position["e"] == "outboundAccountPosition"
        assert position["B"] == [
            {"a": "BTC", "f": "0.50000000", "l": "0.00000000"},
            {"a": "USDT", "f": "9499.50000000", "l": "500.50000000"},
        ]

        fake.fill("raw-1", "0.004")
        trade = (await ws.receive_json(timeout=WAIT))["event"]
        record = fake.trades[-1]
        assert {k: trade[k] for k in "xXlzLnNtmMZYw"} == {
            "x": "TRADE",
            "X": "PARTIALLY_FILLED",
            "l": "0.00400000",
            "z": "0.00400000",
            "L": "50000.00000000",
            "n": "0.20000000",
            "N": "USDT",
            "t": int(record["id"]),
            "m": True,
            "M": True,
            "Z": "200.00000000",
            "Y": "200.00000000",
            "w": True,
        }
        assert trade["T"] == record["time_ms"] and trade["I"] > event["I"]
        await ws.receive_json(timeout=WAIT)  # outboundAccountPosition

        fake.cancel_manually("raw-1")
        cancel = (await ws.receive_json(timeout=WAIT))["event"]
        assert (cancel["x"], cancel["X"], cancel["C"], cancel["z"], cancel["w"]) == (
            "CANCELED",
            "CANCELED",
            "raw-1",
            "0.00400000",
            False,
        )

        # The rest of the stream API: listing and ending subscriptions.
        await ws.receive_json(timeout=WAIT)  # outboundAccountPosition
        await ws.send_json(
            {"id": 2, "method": "session.subscriptions", "params": {"returnRateLimits": False}}
        )
        assert await ws.receive_json(timeout=WAIT) == {
            "id": 2,
            "status": 200,
            "result": [{"subscriptionId": 0}],
        }
        await ws.send_json({"id": 3, "method": "userDataStream.unsubscribe"})
        ended = await ws.receive_json(timeout=WAIT)
        assert ended["subscriptionId"] == 0 and ended["event"]["e"] == "eventStreamTerminated"
        assert (await ws.receive_json(timeout=WAIT))["result"] == {}
        assert fake.stream_connections == 0


@pytest.mark.parametrize(
    ("signed", "after", "code"),
    [
        ({}, {"apiKey": "other-key"}, -2015),
        ({}, {"signature": "0" * 64}, -1022),
        ({"timestamp": 1_000_000_000_000}, {}, -1021),
        ({"recvWindow": 70000}, {}, -1131),
    ],
    ids=["api-key", "signature", "timestamp", "recv-window"],
)
async def test_raw_subscribe_errors(
    fake: FakeExchange, signed: dict[str, Any], after: dict[str, Any], code: int
) -> None:
    request = signed_subscribe(fake, 9, **signed)
    request["params"].update(after)
    url = fake.ccxt_ws_urls()["ws-api"]["spot"]
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json(request)
        reply = await ws.receive_json(timeout=WAIT)
    assert reply["id"] == 9 and reply["status"] in (400, 401)
    assert reply["error"]["code"] == code
    assert fake.stream_connections == 0


async def test_raw_ping_pong_and_keepalive_timeout(fake: FakeExchange) -> None:
    fake.stop()
    fake.ws_ping_interval, fake.ws_pong_timeout = 0.02, 0.1
    fake.start()
    url = fake.ccxt_ws_urls()["ws-api"]["spot"]
    async with aiohttp.ClientSession() as session:
        # autoping=False: aiohttp neither answers the server's pings nor hides pongs.
        async with session.ws_connect(url, autoping=False) as ws:
            await ws.ping(b"hello")
            kinds = []
            while True:
                message = await ws.receive(timeout=WAIT)
                kinds.append(message.type)
                if message.type == aiohttp.WSMsgType.PONG:
                    assert message.data == b"hello"
                if message.type == aiohttp.WSMsgType.CLOSE:
                    break
            assert aiohttp.WSMsgType.PING in kinds and aiohttp.WSMsgType.PONG in kinds
            assert message.data == 1011  # no pong for the server's ping within ws_pong_timeout
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(fake.ccxt_ws_urls()["spot"])  # market streams: not served
        assert refused.value.status == 403
