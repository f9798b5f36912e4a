"""A local fake Binance / Bybit / OKX / MEXC / Coinbase spot REST server for the *real* ccxt client.

The server runs uvicorn + Starlette in a daemon thread on ``127.0.0.1`` (random free port).
Point a ccxt client at it with ``ccxt.async_support.binance(fake.ccxt_config())`` (the config
carries the ``urls['api']`` overrides, credentials and the options ccxt needs to stay on the
spot endpoints).

What it models, per flavor:

* **binance** – ``/api/v3`` spot REST: exchangeInfo, time, ping, ticker/24hr, ticker/price,
  ticker/bookTicker, depth, klines, account, order (POST/GET/DELETE), openOrders (GET/DELETE),
  allOrders, myTrades.  Signed endpoints need ``X-MBX-APIKEY`` plus ``timestamp`` and an HMAC
  ``signature`` (verified).  Response shapes follow the recorded responses in
  ``shared/data/ccxt/binance_spot_response_excerpt.json``: decimals are 8-dp strings and, like
  that recording, integer ids/timestamps are also strings (the live API sends JSON integers;
  ccxt parses both the same way).
* **bybit** – ``/v5`` unified-account spot: market/time, instruments-info, tickers, orderbook,
  kline, asset/coin/query-info, user/query-api, account/info, account/wallet-balance,
  order/create, order/cancel, order/realtime, order/history, execution/list.  Private endpoints
  need the ``X-BAPI-*`` headers with a valid HMAC.
* **okx** – ``/api/v5`` spot (``tdMode=cash``): public/time, public/instruments, market/ticker(s),
  asset/currencies, account/balance, trade/order (POST/GET), trade/batch-orders, trade/cancel-order,
  trade/orders-pending, trade/orders-history(-archive), trade/fills(-history).  Private endpoints need
  ``OK-ACCESS-KEY/-PASSPHRASE/-TIMESTAMP`` and a valid base64 HMAC ``OK-ACCESS-SIGN``.  Envelope
  ``{"code": "0", "msg": "", "data": [...]}``; order failures are ``code "1"`` with ``sCode``/``sMsg``
  per order.  ``clOrdId`` must be 1-32 alphanumerics and is unique among *open* orders.
* **mexc** – ``/api/v3`` spot (binance-like): ping, time, exchangeInfo, ticker/24hr, ticker/price,
  capital/config/getall, account, order (POST/GET/DELETE), openOrders, allOrders, myTrades, plus the
  futures ``/api/v1/contract/detail`` list (empty) that ccxt's load_markets always asks for.
  ``X-MEXC-APIKEY`` + HMAC ``signature`` over the query string.  Create answers carry ids only.
* **coinbase** – Advanced Trade ``/api/v3/brokerage``: time, market/products (+ ``/{id}/ticker``),
  transaction_summary, accounts, orders (POST), orders/batch_cancel, orders/historical/{id},
  orders/historical/batch, orders/historical/fills; and the v2 currencies, currencies/crypto,
  exchange-rates, time that ccxt loads.  Private endpoints need ``Authorization: Bearer <JWT>``
  (ES256, verified against the EC key in ``api_secret``; ``kid``/``sub`` = the key name, ``uri`` =
  method + path).  A reused ``client_order_id`` creates nothing and answers with the existing order.
  Default markets are BTC/USDC and ETH/USDC.

Matching: market orders fill at once at the current price (one taker trade); a limit order
that crosses the current price fills at once at the *current* price (taker, price improvement
like a real book); otherwise it rests and is filled by :meth:`FakeExchange.fill` or when
:meth:`FakeExchange.set_price` moves the price through it (maker, at its limit price).
A fill can also land on an order after its cancel was answered (:meth:`FakeExchange.fill_after_cancel`,
:meth:`FakeExchange.fill_canceled`), as when a trade and a cancel cross on the wire: the order stays
canceled with more executed (filled once nothing remains), and the trade is in the history.
Commission is 0.1 %: on binance and coinbase always in the quote asset (binance says so in
``commissionAsset``; ccxt assumes the quote for coinbase); on bybit, okx and mexc in the received
asset (base for buys, quote for sells), because ccxt infers bybit's fee currency from the side and
would otherwise report the wrong asset, and okx/mexc spot charge that way.

Binance flavor also serves the **spot user-data stream** the way ccxt pro 4.5.90 consumes it: the
WebSocket API (``/ws-api/v3``, ``urls['api']['ws']['ws-api']['spot']``) with
``userDataStream.subscribe.signature`` (HMAC-signed ``apiKey`` + ``timestamp``), after which every
change of an order (REST create, fill, cancel, ``fill()``, ``cancel_manually()``, ``set_price()``
crossing, ``fill_on_checks``, ``fill_after_cancel``) is pushed as ``{"subscriptionId": n, "event": {"e":
"executionReport", ...}}`` followed by an ``outboundAccountPosition`` when balances moved.  The
legacy listenKey stream (``POST /api/v3/userDataStream`` + ``/ws/<listenKey>``) is not modelled:
ccxt no longer uses it for spot.  Use ``ccxt.pro.binance(fake.ccxt_pro_config())``.  uvicorn's own
WebSocket support needs ``websockets``/``wsproto`` (not installed), so the fake brings a small
RFC 6455 protocol (``_WebSocketProtocol``) that uvicorn hands upgraded connections to.

Everything in here is test-only; no network beyond 127.0.0.1 is ever used.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import secrets
import socket
import string
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

Flavor = Literal["binance", "bybit", "okx", "mexc", "coinbase"]
FLAVORS: tuple[Flavor, ...] = ("binance", "bybit", "okx", "mexc", "coinbase")

FEE_RATE = Decimal("0.001")
_MAX_PRICE = Decimal("1000000")
_MAX_QTY = Decimal("9000")
_MAX_NOTIONAL = Decimal("9000000")
_E8 = Decimal("0.00000001")

# Hosts ccxt uses in urls['api']; every key is redirected so that no request can leave the box.
_BINANCE_API_PATHS = {
    "public": "/api/v3",
    "private": "/api/v3",
    "v1": "/api/v1",
    "sapi": "/sapi/v1",
    "sapiV2": "/sapi/v2",
    "sapiV3": "/sapi/v3",
    "sapiV4": "/sapi/v4",
    "dapiPublic": "/dapi/v1",
    "dapiPrivate": "/dapi/v1",
    "dapiPrivateV2": "/dapi/v2",
    "dapiData": "/futures/data",
    "eapiPublic": "/eapi/v1",
    "eapiPrivate": "/eapi/v1",
    "fapiPublic": "/fapi/v1",
    "fapiPublicV2": "/fapi/v2",
    "fapiPublicV3": "/fapi/v3",
    "fapiPrivate": "/fapi/v1",
    "fapiPrivateV2": "/fapi/v2",
    "fapiPrivateV3": "/fapi/v3",
    "fapiData": "/futures/data",
    "papi": "/papi/v1",
    "papiV2": "/papi/v2",
}
_BYBIT_API_KEYS = ("spot", "futures", "v2", "public", "private")
# urls['api']['ws'] of ccxt.pro.binance; only the spot WebSocket API (user-data stream) is served,
# the others point at paths the fake refuses (403 on the handshake) so nothing leaves the box.
_BINANCE_WS_PATHS: dict[str, str] = {
    "spot": "/ws",
    "margin": "/ws",
    "linear": "/fstream/ws",
    "inverse": "/dstream/ws",
    "stock": "/equity/ws",
    "option": "/eoptions/public/ws",
    "optionMarket": "/eoptions/market/ws",
    "optionPrivate": "/eoptions/private/ws",
    "papi": "/pm/ws",
}
_BINANCE_WS_API_PATHS: dict[str, str] = {
    "spot": "/ws-api/v3",
    "linear": "/ws-fapi/v1",
    "inverse": "/ws-dapi/v1",
}


# okx, mexc, coinbase: the ccxt options that keep each client to the spot endpoints the fake serves.
SPOT_OPTIONS: dict[str, dict[str, Any]] = {
    "okx": {
        "defaultType": "spot",
        # Only GET /api/v5/public/instruments?instType=SPOT (default also loads futures/swap/options).
        "fetchMarkets": {"types": ["spot"]},
        # POST /api/v5/trade/order (ccxt's default is /api/v5/trade/batch-orders with a one-order list).
        "createOrder": "privatePostTradeOrder",
    },
    "mexc": {
        "defaultType": "spot",
        # Note: ccxt 4.5.90 ignores fetchMarkets.types for mexc (load_markets always asks for the
        # contract list too) and has no switch for fetchCurrencies (capital/config/getall with keys).
    },
    "coinbase": {
        # GET /api/v3/brokerage/accounts (ccxt's default is the v2 /v2/accounts wallet list).
        "fetchBalance": "v3PrivateGetBrokerageAccounts",
        # GET /api/v3/brokerage/time (default: v2 /v2/time).
        "fetchTime": "v3PublicGetBrokerageTime",
    },
}
# urls['api'] of ccxt.mexc: section -> access -> base URL (ccxt appends /api/v3/<path> for spot).
_MEXC_API_PATHS: dict[str, dict[str, str]] = {
    "spot": {"public": "", "private": ""},
    "spot2": {"public": "/open/api/v2", "private": "/open/api/v2"},
    "contract": {"public": "/api/v1/contract", "private": "/api/v1/private"},
    "broker": {"private": "/api/v3/broker"},
}
_MEXC_PRIVATE = frozenset(
    {
        "/api/v3/account",
        "/api/v3/order",
        "/api/v3/openOrders",
        "/api/v3/allOrders",
        "/api/v3/myTrades",
        "/api/v3/capital/config/getall",
    }
)


@dataclass(frozen=True)
class MarketSpec:
    """A spot market of the fake exchange; numbers are decimal strings."""

    symbol: str = "BTC/USDT"
    base: str = ""
    quote: str = ""
    amount_step: str = "0.00001"
    price_tick: str = "0.01"
    min_qty: str = "0.00001"
    min_notional: str = "5"

    def __post_init__(self) -> None:
        base, _, quote = self.symbol.partition("/")
        if not self.base:
            object.__setattr__(self, "base", base)
        if not self.quote:
            object.__setattr__(self, "quote", quote)

    @property
    def market_id(self) -> str:
        """The exchange's id for the market, e.g. ``BTCUSDT``."""
        return f"{self.base}{self.quote}"


DEFAULT_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("BTC/USDT", "BTC", "USDT", "0.00001", "0.01", "0.00001", "5"),
    MarketSpec("ETH/USDT", "ETH", "USDT", "0.0001", "0.01", "0.0001", "5"),
)
DEFAULT_PRICES: dict[str, str] = {
    "BTC/USDT": "60000",
    "ETH/USDT": "3000",
    "BTC/USDC": "60000",
    "ETH/USDC": "3000",
}
DEFAULT_BALANCES: dict[str, str] = {"USDT": "10000"}
# coinbase: Advanced Trade's spot books are quoted in USD, USDC (an alias of the USD book on the
# real exchange, not modelled), USDT, EUR, ...; the fake defaults to USDC.
COINBASE_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("BTC/USDC", "BTC", "USDC", "0.00000001", "0.01", "0.00000001", "1"),
    MarketSpec("ETH/USDC", "ETH", "USDC", "0.00000001", "0.01", "0.00000001", "1"),
)
COINBASE_BALANCES: dict[str, str] = {"USDC": "10000"}


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request as the fake saw it (status 0: connection dropped without a response)."""

    method: str
    path: str
    params: dict[str, Any]
    status: int


@dataclass
class _Fault:
    method: str
    path_contains: str
    status: int
    times: int
    retry_after: int | None
    body: str | None
    processed: bool = False  # True: the request is executed, then answered with the fault


@dataclass
class _Order:
    order_id: str
    client_order_id: str
    symbol: str
    side: str  # buy | sell
    kind: str  # market | limit
    amount: Decimal  # base quantity
    price: Decimal | None
    time_in_force: str
    post_only: bool
    created_ms: int
    updated_ms: int
    last_price_on_created: Decimal
    status: str = "open"  # open | closed | canceled | expired
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    fee_asset: str = ""
    reserved: Decimal = Decimal(0)  # funds still locked for the unfilled part
    quote_order_qty: Decimal | None = None
    requested_qty: Decimal | None = None  # bybit: qty as sent (quote units for quoteCoin orders)
    market_unit: str = ""
    iceberg_qty: Decimal | None = None
    stp_mode: str = "EXPIRE_MAKER"
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"


@dataclass
class _Trade:
    trade_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    price: Decimal
    amount: Decimal
    cost: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    time_ms: int


@dataclass
class _Ticker:
    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)
    last_qty: Decimal = Decimal(0)
    first_trade_id: int = -1
    last_trade_id: int = -1
    count: int = 0


class _ApiError(Exception):
    """An error answer in the exchange's own format."""

    def __init__(self, status: int, payload: Any) -> None:
        super().__init__(payload)
        self.status = status
        self.payload = payload


class _Reject(Exception):
    """A matching-engine rejection; each flavor maps the kind to its own error."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(eq=False)
class _StreamConn:
    """One connection to the binance WebSocket API; user-data subscriptions ride on it."""

    queue: asyncio.Queue[str | None]  # outgoing text frames in order; None: close the connection
    transport: asyncio.BaseTransport | None
    return_rate_limits: bool = True
    subscriptions: dict[int, str] = field(default_factory=dict)  # subscriptionId -> apiKey
    next_subscription: int = 0
    weight: int = 0


@dataclass
class _Req:
    method: str
    path: str
    params: dict[str, Any]
    raw_query: str
    body: str
    headers: dict[str, str]


@dataclass
class _Resp:
    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _d8(value: Decimal) -> str:
    return f"{value:.8f}"


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _q8(value: Decimal) -> Decimal:
    return value.quantize(_E8, rounding=ROUND_HALF_UP)


def _floor_to(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _fixed(value: Decimal, step: Decimal) -> str:
    return f"{value:.{_places(step)}f}"


def _binance_client_id() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(22))


# What each exchange's API answers with a 5xx, in its own error envelope (looked up in each
# exchange's documentation and in reports of real answers; ccxt maps them to different classes).
_SERVER_ERRORS: dict[str, dict[int, dict[str, Any]]] = {
    "binance": {  # Binance: every 5xx means "execution status unknown"
        500: {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
        502: {"code": -1000, "msg": "An unknown error occurred while processing the request."},
        503: {
            "code": -1008,
            "msg": "Server is currently overloaded with other requests. Please try again in a few minutes.",
        },
        504: {
            "code": -1007,
            "msg": "Timeout waiting for response from backend server. Send status unknown; "
            "execution status unknown.",
        },
    },
    "bybit": {  # v5 envelope; result/retExtInfo/time are added per answer
        500: {"retCode": 10016, "retMsg": "System error. Please try again later."},
        502: {"retCode": 10016, "retMsg": "Service not available."},
        503: {"retCode": 10016, "retMsg": "Service not available."},
        504: {"retCode": 10016, "retMsg": "Request timeout, please try again later"},
    },
    "okx": {
        500: {"code": "50026", "msg": "System error. Try again later.", "data": []},
        502: {"code": "50013", "msg": "Systems are busy. Please try again later.", "data": []},
        503: {"code": "50001", "msg": "Service temporarily unavailable. Try again later", "data": []},
        504: {
            "code": "50004",
            "msg": "Endpoint request timeout (does not mean that the request was successful or "
            "failed, please check the request result)",
            "data": [],
        },
    },
    "mexc": {
        500: {"code": 500, "msg": "Internal error"},
        502: {"code": 501, "msg": "System busy, try again later"},
        503: {"code": 503, "msg": "service not available, please try again"},
        504: {"code": 504, "msg": "Gateway Time-out"},
    },
    "coinbase": {  # Advanced Trade (gRPC gateway) error envelope
        500: {"error": "INTERNAL", "error_details": "internal error", "message": "internal error"},
        502: dict.fromkeys(("error_details", "message"), "upstream unavailable") | {"error": "UNAVAILABLE"},
        503: dict.fromkeys(("error_details", "message"), "service unavailable") | {"error": "UNAVAILABLE"},
        504: dict.fromkeys(("error_details", "message"), "context deadline exceeded")
        | {"error": "DEADLINE_EXCEEDED"},
    },
}

_HOSTS = {
    "binance": "api.binance.com",
    "bybit": "api.bybit.com",
    "okx": "www.okx.com",
    "mexc": "api.mexc.com",
    "coinbase": "api.coinbase.com",
}


def _edge_page(flavor: str, status: int) -> str:
    """The HTML error page of the edge in front of an exchange: CloudFront (Binance, Bybit), nginx
    (OKX), Cloudflare (MEXC, Coinbase)."""
    reason = HTTPStatus(status).phrase
    if flavor in ("binance", "bybit"):
        return (
            '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
            '"http://www.w3.org/TR/html4/loose.dtd">\n'
            '<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">\n'
            "<TITLE>ERROR: The request could not be satisfied</TITLE>\n</HEAD><BODY>\n"
            f"<H1>{status} ERROR</H1>\n<H2>The request could not be satisfied.</H2>\n"
            '<HR noshade size="1px">\nWe can\'t connect to the server for this app or website at this '
            "time. There might be too much traffic or a configuration error.\n"
            '<BR clear="all">\n<HR noshade size="1px">\n<PRE>\nGenerated by cloudfront (CloudFront)\n'
            f"Request ID: {secrets.token_urlsafe(40)[:56]}\n</PRE>\n<ADDRESS>\n</ADDRESS>\n</BODY></HTML>"
        )
    if flavor == "okx":
        return (
            f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
    host = _HOSTS[flavor]
    return (
        '<!DOCTYPE html>\n<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->\n'
        '<html class="no-js" lang="en-US">\n<head>\n'
        f"<title>{host} | {status}: {reason}</title>\n"
        '<meta charset="UTF-8" />\n</head>\n<body>\n<div id="cf-wrapper">\n'
        f'<h1><span class="cf-error-type">Error</span> <span class="cf-error-code">{status}</span></h1>\n'
        f"<p>{reason}</p>\n"
        f'<span class="cf-footer-item">Cloudflare Ray ID: <strong>{secrets.token_hex(8)}</strong></span>\n'
        "</div>\n</body>\n</html>\n"
    )


class FakeExchange:
    """A stateful fake spot exchange served over HTTP for the real ccxt client (see module doc)."""

    def __init__(
        self,
        flavor: Flavor,
        *,
        markets: list[MarketSpec] | None = None,
        balances: dict[str, str] | None = None,
        prices: dict[str, str] | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        api_password: str = "test-passphrase",  # noqa: S107 - a fake's test credential (okx)
    ) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}")
        self.flavor: Flavor = flavor
        if api_key is None:
            # coinbase CDP keys are named organizations/{org_id}/apiKeys/{key_id}.
            api_key = (
                f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}" if flavor == "coinbase" else "test-key"
            )
        self.api_key = api_key
        # coinbase signs with an EC key (ES256 JWT): the secret is a PEM private key.
        self.api_secret = api_secret if api_secret is not None else self._default_secret(flavor)
        self.api_password = api_password
        if markets is None:
            markets = list(COINBASE_MARKETS if flavor == "coinbase" else DEFAULT_MARKETS)
        specs = list(markets)
        self._markets: dict[str, MarketSpec] = {spec.symbol: spec for spec in specs}
        self.flavor = flavor
        self._by_id: dict[str, MarketSpec] = {self._mid(spec): spec for spec in specs}
        given_prices = DEFAULT_PRICES if prices is None else prices
        # A market needs a price to trade; unknown ones start at 1 (tests set what they use).
        self._prices: dict[str, Decimal] = {s: Decimal(given_prices.get(s, "1")) for s in self._markets}
        self._tickers = {s: _Ticker(p, p, p) for s, p in self._prices.items()}
        self._free: dict[str, Decimal] = {}
        self._locked: dict[str, Decimal] = {}
        for spec in specs:
            for asset in (spec.base, spec.quote):
                self._free.setdefault(asset, Decimal(0))
                self._locked.setdefault(asset, Decimal(0))
        if balances is None:
            balances = COINBASE_BALANCES if flavor == "coinbase" else DEFAULT_BALANCES
        for asset, amount in balances.items():
            self._free[asset] = Decimal(amount)
            self._locked.setdefault(asset, Decimal(0))
        self._start_balances = dict(self._free)  # for reset()
        self._orders: list[_Order] = []
        self._orders_by_id: dict[str, _Order] = {}
        self._trades: list[_Trade] = []
        self._order_ids = itertools.count(4_000_000_001)
        self._trade_ids = itertools.count(300_000_001)
        self._book_ids = itertools.count(25_000_001)
        self._faults: list[_Fault] = []
        self._delays: list[float] = []
        self._drops = 0
        self._hidden: dict[str, int] = {}
        self._fill_checks: dict[str, list[Decimal]] = {}
        self._late_fills: dict[str, tuple[Decimal, Decimal | None, float]] = {}
        self._timers: list[threading.Timer] = []
        self._log: list[RequestRecord] = []
        self._create_cids: list[str | None] = []
        # Real exchanges differ on who pays the commission in which asset (see module doc).
        self._fee_in_base_on_buy = flavor in ("bybit", "okx", "mexc")
        # binance WebSocket API: connections (guarded by _lock) and executionReport ids ("I").
        self._ws_conns: set[_StreamConn] = set()
        self._exec_ids = itertools.count(9_000_000_001)
        # Binance's WebSocket API pings every 20 s and drops a connection whose pong is a minute late;
        # set these before start() to exercise the keepalive in a test (None: no pings).
        self.ws_ping_interval: float | None = 20.0
        self.ws_pong_timeout: float | None = 60.0
        self._lock = threading.RLock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._routes = {
            "binance": self._binance_routes,
            "bybit": self._bybit_routes,
            "okx": self._okx_routes,
            "mexc": self._mexc_routes,
            "coinbase": self._coinbase_routes,
        }[flavor]()

    def _mid(self, spec: MarketSpec) -> str:
        """The flavor's market id: ``BTCUSDT`` (binance, bybit, mexc) or ``BTC-USDT`` (okx, coinbase)."""
        return f"{spec.base}-{spec.quote}" if self.flavor in ("okx", "coinbase") else spec.market_id

    @staticmethod
    def _default_secret(flavor: str) -> str:
        if flavor != "coinbase":
            return "test-secret"
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,  # "BEGIN EC PRIVATE KEY", as CDP hands it out
            serialization.NoEncryption(),
        ).decode()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Start serving in a daemon thread; returns the base URL (``http://127.0.0.1:PORT``)."""
        if self._base_url is not None:
            return self._base_url
        # proto=IPPROTO_TCP makes asyncio set TCP_NODELAY on accepted connections; without it
        # uvicorn's separate header/body writes meet delayed ACKs (+40 ms per request).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        routes: list[BaseRoute] = [
            Route("/{path:path}", self._endpoint, methods=["GET", "POST", "DELETE", "PUT"])
        ]
        if self.flavor == "binance":
            routes.append(WebSocketRoute(_BINANCE_WS_API_PATHS["spot"], self._b_ws_api))
        app = Starlette(routes=routes)
        config = uvicorn.Config(
            self._outer_app(app),
            log_level="warning",
            access_log=False,
            log_config=None,
            http="h11",
            ws=_WebSocketProtocol if self.flavor == "binance" else "none",
            ws_ping_interval=self.ws_ping_interval,
            ws_ping_timeout=self.ws_pong_timeout,
            lifespan="off",
            loop="asyncio",
        )
        server = uvicorn.Server(config)
        ready = threading.Event()
        thread = threading.Thread(
            target=asyncio.run,
            args=(self._serve(server, sock, ready),),
            name=f"fake-{self.flavor}",
            daemon=True,
        )
        thread.start()
        if not ready.wait(timeout=10) or not server.started:
            raise RuntimeError("fake exchange server did not start")
        self._server, self._thread = server, thread
        self._sock = sock
        self._base_url = f"http://127.0.0.1:{port}"
        return self._base_url

    async def _serve(self, server: uvicorn.Server, sock: socket.socket, ready: threading.Event) -> None:
        # uvicorn's own run loop polls for exit every 0.1 s and lingers 0.1 s on shutdown; a test
        # double starts and stops per test, so serve until an event and then hang up at once.
        config = server.config
        if not config.loaded:
            config.load()
        server.lifespan = config.lifespan_class(config)
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            await server.startup(sockets=[sock])
        finally:
            ready.set()
        await self._stopping.wait()
        for listener in server.servers:
            listener.close()
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        # Let handlers that were holding a delayed response finish quietly.
        pending = set(server.server_state.tasks)
        if pending:
            await asyncio.wait(pending, timeout=2)

    def stop(self) -> None:
        """Stop the server: close the port and every connection (held-back responses are abandoned)."""
        for timer in self._timers:
            timer.cancel()
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None or loop is None or stopping is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=10)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._server = self._thread = None
        self._loop = self._stopping = None
        self._base_url = None
        with self._lock:
            self._ws_conns.clear()

    def __enter__(self) -> FakeExchange:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The URL the server listens on (raises if not started)."""
        if self._base_url is None:
            raise RuntimeError("fake exchange not started")
        return self._base_url

    # ------------------------------------------------------------------ ccxt wiring

    def ccxt_urls(self) -> dict[str, Any]:
        """``urls['api']`` for a ccxt client of this flavor: every key points at the fake.

        Flat ``{key: url}`` except for mexc, whose ``urls['api']`` is nested
        (``{'spot': {'public': ..., 'private': ...}, 'contract': {...}, ...}``).
        """
        if self.flavor == "binance":
            return {key: self.base_url + path for key, path in _BINANCE_API_PATHS.items()}
        if self.flavor == "bybit":
            return dict.fromkeys(_BYBIT_API_KEYS, self.base_url)
        if self.flavor == "mexc":
            return {
                group: {key: self.base_url + path for key, path in paths.items()}
                for group, paths in _MEXC_API_PATHS.items()
            }
        # okx and coinbase: one 'rest' host; ccxt appends /api/v5/... or /api/v3/brokerage, /v2/...
        return {"rest": self.base_url}

    def ccxt_config(self) -> dict[str, Any]:
        """Constructor config for ``ccxt.async_support.<flavor>`` talking to this fake."""
        options: dict[str, Any]
        if self.flavor == "binance":
            options = {
                "defaultType": "spot",
                # Only GET /api/v3/exchangeInfo (default also loads linear+inverse futures).
                "fetchMarkets": {"types": ["spot"]},
                # Otherwise load_markets calls sapi capital/config/getall.
                "fetchCurrencies": False,
                # Otherwise load_markets (with keys) calls sapi margin/allPairs + isolated pairs.
                "fetchMargins": False,
                # Allow fetch_open_orders() without a symbol (ccxt raises a warning error otherwise).
                "fetchOpenOrders": {"warnWithoutSymbol": False},
            }
        elif self.flavor == "bybit":
            options = {
                "defaultType": "spot",
                # Only spot instruments-info (default also loads linear, inverse and options).
                "fetchMarkets": {"types": ["spot"]},
                # A unified trading account (UTA 2.0); skips user/query-api + account/info calls.
                "enableUnifiedMargin": False,
                "enableUnifiedAccount": True,
                "unifiedMarginStatus": 6,
                # ccxt refuses fetch_order on UTA without this acknowledgement (last-500 limit).
                "fetchOrder": {"acknowledged": True},
            }
        else:
            options = dict(SPOT_OPTIONS[self.flavor])
        config: dict[str, Any] = {
            "apiKey": self.api_key,
            "secret": self.api_secret,
            "enableRateLimit": False,
            "timeout": 5000,
            "options": options,
            "urls": {"api": self.ccxt_urls()},
        }
        if self.flavor == "okx":
            config["password"] = self.api_password  # the API key's passphrase
        return config

    def ccxt_ws_urls(self) -> dict[str, Any]:
        """``urls['api']['ws']`` for ``ccxt.pro.binance``: every key points at the fake.

        Only ``['ws-api']['spot']`` (the spot WebSocket API, which carries the user-data stream) is
        served; market-data streams and the futures/options endpoints are refused at the handshake.
        """
        if self.flavor != "binance":
            raise NotImplementedError(
                f"the fake serves no WebSocket streams for {self.flavor}: only binance spot has a "
                "user-data stream (use REST polling against the bybit fake)"
            )
        ws_base = "ws" + self.base_url.removeprefix("http")
        urls: dict[str, Any] = {key: ws_base + path for key, path in _BINANCE_WS_PATHS.items()}
        urls["ws-api"] = {key: ws_base + path for key, path in _BINANCE_WS_API_PATHS.items()}
        return urls

    def ccxt_pro_config(self) -> dict[str, Any]:
        """Constructor config for ``ccxt.pro.binance`` talking to this fake (REST and WebSocket)."""
        ws_urls = self.ccxt_ws_urls()  # raises for bybit
        config = self.ccxt_config()
        config["urls"] = {"api": {**self.ccxt_urls(), "ws": ws_urls}}
        return config

    # ------------------------------------------------------------------ market & state control

    def set_price(self, symbol: str, price: str) -> None:
        """Move the market price; resting limit orders it crosses fill (maker, at their limit)."""
        with self._lock:
            spec = self._markets[symbol]
            value = Decimal(price)
            self._prices[symbol] = value
            ticker = self._tickers[symbol]
            ticker.high = max(ticker.high, value)
            ticker.low = min(ticker.low, value)
            for order in list(self._orders):
                if order.symbol != spec.symbol or order.status != "open" or order.price is None:
                    continue
                crossed = order.price >= value if order.side == "buy" else order.price <= value
                if crossed:
                    self._execute(order, order.amount - order.filled, order.price, maker=True)

    def fill(self, client_order_id: str, amount: str | None = None, price: str | None = None) -> None:
        """(Partially) fill an open order as maker; ``amount=None`` fills the rest."""
        with self._lock:
            order = self._latest_open(client_order_id)
            remaining = order.amount - order.filled
            qty = remaining if amount is None else Decimal(amount)
            if qty <= 0 or qty > remaining:
                raise ValueError(f"cannot fill {qty} of {client_order_id}: {remaining} remaining")
            px = Decimal(price) if price is not None else order.price or self._prices[order.symbol]
            self._execute(order, qty, px, maker=True)

    def cancel_manually(self, client_order_id: str) -> None:
        """Cancel an open order as if the user did it on the exchange's website."""
        with self._lock:
            order = self._latest_open(client_order_id)
            # binance: a cancel from the website carries a web_* client id of its own.
            self._cancel(order, cancel_type="CancelByUser", cancel_client_id=f"web_{uuid.uuid4().hex}")

    def fill_after_cancel(
        self, client_order_id: str, amount: str, price: str | None = None, delay_s: float = 0.3
    ) -> None:
        """The next cancel of this order (ours, by hand, or a cancel-all) is answered "canceled" as
        usual, and ``delay_s`` later a trade of ``amount`` lands on it all the same: the fill raced
        the cancel on the wire.  It shows in later order lookups (still canceled, more executed, or
        filled if nothing remains), in the trade history, and on the user-data stream.
        """
        with self._lock:
            self._late_fills[client_order_id] = (
                Decimal(amount),
                None if price is None else Decimal(price),
                delay_s,
            )

    def fill_canceled(self, client_order_id: str, amount: str, price: str | None = None) -> None:
        """A trade of ``amount`` on the latest (canceled or expired) order with this client id, now."""
        with self._lock:
            order = self._latest(client_order_id)
            if order is None or order.status not in ("canceled", "expired"):
                raise KeyError(f"no canceled order with client order id {client_order_id!r}")
            self._late_fill(order, Decimal(amount), None if price is None else Decimal(price))

    def _late_fill(self, order: _Order, qty: Decimal, price: Decimal | None) -> None:
        remaining = order.amount - order.filled
        if qty <= 0 or qty > remaining:
            raise ValueError(f"cannot fill {qty} of {order.client_order_id}: {remaining} remaining")
        self._execute(order, qty, price or order.price or self._prices[order.symbol], maker=True)

    def _land_late_fill(self, order: _Order) -> None:
        """Called under ``_lock`` once an order is canceled: schedule the fill that raced the cancel."""
        late = self._late_fills.pop(order.client_order_id, None)
        if late is None:
            return
        qty, price, delay = late

        def land() -> None:
            with self._lock:
                self._late_fill(order, qty, price)

        timer = threading.Timer(delay, land)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def order(self, client_order_id: str) -> dict[str, Any] | None:
        """The fake's own record of the latest order with this client order id (or None).

        Keys: id, client_order_id, symbol, side, type (market|limit), post_only, time_in_force,
        price, amount, filled, remaining, cost, fee, fee_asset (decimal strings), status
        (open|closed|canceled|expired), exchange_status (the flavor's wording), created_ms,
        updated_ms.
        """
        with self._lock:
            found = self._latest(client_order_id)
            return None if found is None else self._order_record(found)

    @property
    def orders(self) -> list[dict[str, Any]]:
        """All orders ever accepted, oldest first (copies)."""
        with self._lock:
            return [self._order_record(order) for order in self._orders]

    @property
    def trades(self) -> list[dict[str, Any]]:
        """All executions, oldest first (copies)."""
        with self._lock:
            return [self._trade_record(trade) for trade in self._trades]

    @property
    def balances(self) -> dict[str, dict[str, str]]:
        """``{asset: {"free", "locked", "total"}}`` as decimal strings (copies)."""
        with self._lock:
            return {
                asset: {
                    "free": _plain(self._free[asset]),
                    "locked": _plain(self._locked[asset]),
                    "total": _plain(self._free[asset] + self._locked[asset]),
                }
                for asset in self._free
            }

    @property
    def stream_connections(self) -> int:
        """WebSocket API connections with an active user-data subscription (binance)."""
        with self._lock:
            return sum(1 for conn in self._ws_conns if conn.subscriptions)

    def drop_streams(self, *, abort: bool = False) -> int:
        """Close every WebSocket API connection (and so every user-data stream); returns how many.

        The subscriptions end at once: later order changes are not pushed to them.  Events already
        queued still go out, then a close frame (1001, going away).  ``abort=True`` resets the TCP
        connection instead (no close frame, queued events lost), like a network failure.
        """
        with self._lock:
            conns = list(self._ws_conns)
            for conn in conns:
                conn.subscriptions.clear()
        loop = self._loop
        if loop is None:
            return 0
        for conn in conns:
            with contextlib.suppress(RuntimeError):  # loop already closed
                if abort and conn.transport is not None:
                    loop.call_soon_threadsafe(conn.transport.abort)  # type: ignore[attr-defined]
                else:
                    loop.call_soon_threadsafe(conn.queue.put_nowait, None)
        return len(conns)

    @property
    def request_log(self) -> list[RequestRecord]:
        """Every request that reached the server, in arrival order (copy)."""
        with self._lock:
            return list(self._log)

    def creates(self, client_order_id: str | None = None) -> int:
        """How many order-create requests reached the server (accepted, rejected or faulted)."""
        with self._lock:
            if client_order_id is None:
                return len(self._create_cids)
            return sum(1 for cid in self._create_cids if cid == client_order_id)

    # ------------------------------------------------------------------ faults

    def fail_next(
        self,
        method: str,
        path_contains: str,
        status: int = 500,
        times: int = 1,
        retry_after: int | None = None,
        body: str | None = None,
        processed: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of executing them.

        ``method`` is an HTTP method or ``"*"``.  Without ``body`` the answer is what the
        exchange's edge sends: an HTML page for 5xx, the exchange's rate-limit JSON for 429/418
        (:meth:`server_error_body` gives each exchange's own 5xx answers).  ``retry_after`` adds a
        ``Retry-After`` header.  ``processed=True``: the request IS executed (an order is placed)
        and only then answered with the fault, as when the matching engine took the order but the
        gateway in front of it failed or timed out.
        """
        with self._lock:
            self._faults.append(
                _Fault(method.upper(), path_contains, status, times, retry_after, body, processed)
            )

    def server_error_body(self, status: int, kind: Literal["json", "html"]) -> str:
        """A body this exchange really sends with a 5xx: its API's own JSON error envelope
        (``"json"``), or the HTML page of the CDN or proxy in front of it (``"html"``)."""
        if kind == "html":
            return _edge_page(self.flavor, status)
        payload = _SERVER_ERRORS[self.flavor].get(status) or _SERVER_ERRORS[self.flavor][500]
        if self.flavor == "bybit":
            payload = {**payload, "result": {}, "retExtInfo": {}, "time": _now_ms()}
        return json.dumps(payload, separators=(",", ":"))

    def reset(self) -> None:
        """Forget every order, trade, pending fault and request; balances back to where they started
        (one server shared by many short scenarios)."""
        with self._lock:
            self._orders.clear()
            self._orders_by_id.clear()
            self._trades.clear()
            self._faults.clear()
            self._delays.clear()
            self._drops = 0
            self._hidden.clear()
            self._fill_checks.clear()
            self._log.clear()
            self._create_cids.clear()
            for asset in self._free:
                self._free[asset] = self._start_balances.get(asset, Decimal(0))
                self._locked[asset] = Decimal(0)

    def delay_next_create(self, seconds: float, times: int = 1) -> None:
        """The next creates execute at once but their response is held back ``seconds``."""
        with self._lock:
            self._delays.extend([seconds] * times)

    def drop_next_create(self, times: int = 1) -> None:
        """The next creates execute but the connection is closed without any response."""
        with self._lock:
            self._drops += times

    def hide_order(self, client_order_id: str, lookups: int) -> None:
        """The next ``lookups`` lookups of this order (by id/client id, open-order lists, cancel) miss it."""
        with self._lock:
            self._hidden[client_order_id] = lookups

    def fill_on_checks(self, client_order_id: str, amounts: list[str]) -> None:
        """Each following status check (fetch by id/client id) first fills the next amount."""
        with self._lock:
            self._fill_checks[client_order_id] = [Decimal(a) for a in amounts]

    # ------------------------------------------------------------------ records

    def _order_record(self, order: _Order) -> dict[str, Any]:
        return {
            "id": order.order_id,
            "client_order_id": order.client_order_id,
            "symbol": order.symbol,
            "side": order.side,
            "type": order.kind,
            "post_only": order.post_only,
            "time_in_force": order.time_in_force,
            "price": None if order.price is None else _plain(order.price),
            "amount": _plain(order.amount),
            "filled": _plain(order.filled),
            "remaining": _plain(order.amount - order.filled),
            "cost": _plain(order.cost),
            "fee": _plain(order.fee),
            "fee_asset": order.fee_asset or None,
            "status": order.status,
            "exchange_status": self._exchange_status(order),
            "created_ms": order.created_ms,
            "updated_ms": order.updated_ms,
        }

    @staticmethod
    def _trade_record(trade: _Trade) -> dict[str, Any]:
        return {
            "id": trade.trade_id,
            "order_id": trade.order_id,
            "client_order_id": trade.client_order_id,
            "symbol": trade.symbol,
            "side": trade.side,
            "price": _plain(trade.price),
            "amount": _plain(trade.amount),
            "cost": _plain(trade.cost),
            "fee": _plain(trade.fee),
            "fee_asset": trade.fee_asset,
            "taker_or_maker": "maker" if trade.is_maker else "taker",
            "time_ms": trade.time_ms,
        }

    def _exchange_status(self, order: _Order) -> str:
        if self.flavor == "binance":
            if order.status == "open":
                return "PARTIALLY_FILLED" if order.filled > 0 else "NEW"
            return {"closed": "FILLED", "canceled": "CANCELED", "expired": "EXPIRED"}[order.status]
        if self.flavor == "okx":
            if order.status == "open":
                return "partially_filled" if order.filled > 0 else "live"
            # okx has no 'expired': an unfilled IOC/FOK rest is 'canceled' too.
            return "filled" if order.status == "closed" else "canceled"
        if self.flavor == "mexc":
            if order.status == "open":
                return "PARTIALLY_FILLED" if order.filled > 0 else "NEW"
            if order.status == "closed":
                return "FILLED"
            return "PARTIALLY_CANCELED" if order.filled > 0 else "CANCELED"
        if self.flavor == "coinbase":
            return {"open": "OPEN", "closed": "FILLED", "canceled": "CANCELLED", "expired": "EXPIRED"}[
                order.status
            ]
        if order.status == "open":
            return "PartiallyFilled" if order.filled > 0 else "New"
        if order.status == "closed":
            return "Filled"
        # bybit reports a cancelled partial fill as PartiallyFilledCanceled (ccxt: 'closed').
        return "PartiallyFilledCanceled" if order.filled > 0 else "Cancelled"

    # ------------------------------------------------------------------ matching engine

    def _latest(self, client_order_id: str) -> _Order | None:
        for order in reversed(self._orders):
            if order.client_order_id == client_order_id:
                return order
        return None

    def _latest_open(self, client_order_id: str) -> _Order:
        for order in reversed(self._orders):
            if order.client_order_id == client_order_id and order.status == "open":
                return order
        raise KeyError(f"no open order with client order id {client_order_id!r}")

    def _place(
        self,
        spec: MarketSpec,
        side: str,
        kind: str,
        *,
        client_order_id: str,
        amount: Decimal | None,
        quote_qty: Decimal | None = None,
        price: Decimal | None = None,
        time_in_force: str = "GTC",
        post_only: bool = False,
        reject_post_only: bool = True,
        unique_among: Literal["open", "all", "none"] = "open",
        iceberg_qty: Decimal | None = None,
        stp_mode: str = "EXPIRE_MAKER",
        requested_qty: Decimal | None = None,
        market_unit: str = "",
    ) -> _Order:
        """Validate, reserve and match a new order; raises ``_Reject(kind)``."""
        clashes = (
            o
            for o in self._orders
            if unique_among != "none"
            and o.client_order_id == client_order_id
            and (unique_among == "all" or o.status == "open")
        )
        if any(True for _ in clashes):
            raise _Reject("duplicate")
        step, tick = Decimal(spec.amount_step), Decimal(spec.price_tick)
        min_qty, min_notional = Decimal(spec.min_qty), Decimal(spec.min_notional)
        current = self._prices[spec.symbol]
        if kind == "limit":
            assert price is not None
            if price % tick != 0:
                raise _Reject("price_tick")
            if price < tick or price > _MAX_PRICE:
                raise _Reject("price_range")
        if quote_qty is not None:
            # Market order sized in quote: as much base as the quote buys, on the lot step.
            if quote_qty < min_notional:
                raise _Reject("notional")
            amount = _floor_to(quote_qty / current, step)
        assert amount is not None
        if amount % step != 0:
            raise _Reject("qty_step")
        if amount < min_qty or amount <= 0:
            raise _Reject("qty_min")
        if amount > _MAX_QTY:
            raise _Reject("qty_max")
        reference = price if kind == "limit" and price is not None else current
        # okx spot has no minimum order value (only minSz).
        if amount * reference < min_notional and self.flavor != "okx":
            raise _Reject("notional")
        crosses = kind == "market" or (
            price is not None and (price >= current if side == "buy" else price <= current)
        )
        if post_only and crosses and reject_post_only:
            raise _Reject("would_take")
        fee_in_quote = side == "buy" and not self._fee_in_base_on_buy
        if side == "buy":
            unit_price = reference if kind == "limit" else current
            need = amount * unit_price * (1 + FEE_RATE if fee_in_quote else 1)
            asset = spec.quote
        else:
            need, asset = amount, spec.base
        if self._free.get(asset, Decimal(0)) < need:
            raise _Reject("insufficient")
        now = _now_ms()
        order = _Order(
            order_id=self._new_order_id(),
            client_order_id=client_order_id,
            symbol=spec.symbol,
            side=side,
            kind=kind,
            amount=amount,
            price=price if kind == "limit" else None,
            time_in_force=time_in_force,
            post_only=post_only,
            created_ms=now,
            updated_ms=now,
            last_price_on_created=current,
            quote_order_qty=quote_qty,
            requested_qty=requested_qty,
            market_unit=market_unit,
            iceberg_qty=iceberg_qty,
            stp_mode=stp_mode,
        )
        self._orders.append(order)
        self._orders_by_id[order.order_id] = order
        if kind == "limit":
            # Lock the funds of a limit order until it fills or is cancelled.
            order.reserved = need
            self._free[asset] -= need
            self._locked[asset] = self._locked.get(asset, Decimal(0)) + need
        self._b_stream_order(order, "NEW", balances=kind == "limit")
        if crosses and post_only:
            # bybit accepts a crossing PostOnly order and cancels it at once.
            order.reject_reason = "EC_PostOnlyWillTakeLiquidity"
            self._cancel(order)
        elif crosses:
            self._execute(order, amount, current, maker=False)
        elif time_in_force in ("IOC", "FOK"):
            self._cancel(order, status="expired")
        return order

    def _new_order_id(self) -> str:
        if self.flavor == "binance":
            return str(next(self._order_ids))
        if self.flavor == "okx":
            return str(2_900_000_000_000_000_000 + next(self._order_ids))  # 19-digit numbers
        if self.flavor == "mexc":
            return f"C02__{590_000_000_000_000_000 + next(self._order_ids)}{secrets.randbelow(1000):03d}"
        return str(uuid.uuid4())

    def _new_trade_id(self) -> str:
        if self.flavor in ("binance", "okx"):
            return str(next(self._trade_ids))
        if self.flavor == "mexc":
            return f"{590_000_000_000_000_000 + next(self._trade_ids)}X1"
        return str(uuid.uuid4())

    def _execute(self, order: _Order, qty: Decimal, price: Decimal, *, maker: bool) -> None:
        spec = self._markets[order.symbol]
        base, quote = spec.base, spec.quote
        cost = qty * price
        remaining_before = order.amount - order.filled
        if order.side == "buy":
            if self._fee_in_base_on_buy:
                fee, fee_asset = _q8(qty * FEE_RATE), base
            else:
                fee, fee_asset = _q8(cost * FEE_RATE), quote
            if order.reserved > 0:
                release = (
                    order.reserved if qty >= remaining_before else order.reserved * qty / remaining_before
                )
                self._unlock(quote, release, order)
            self._free[quote] -= cost + (fee if fee_asset == quote else 0)
            self._free[base] = self._free.get(base, Decimal(0)) + qty - (fee if fee_asset == base else 0)
        else:
            fee, fee_asset = _q8(cost * FEE_RATE), quote
            if order.reserved > 0:
                self._unlock(base, min(order.reserved, qty), order)
            self._free[base] -= qty
            self._free[quote] = self._free.get(quote, Decimal(0)) + cost - fee
        now = _now_ms()
        order.filled += qty
        order.cost += cost
        order.fee += fee
        order.fee_asset = fee_asset
        order.updated_ms = now
        if order.filled >= order.amount:
            order.status = "closed"
            if order.reserved > 0:
                self._unlock(quote if order.side == "buy" else base, order.reserved, order)
        trade = _Trade(
            trade_id=self._new_trade_id(),
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            amount=qty,
            cost=cost,
            fee=fee,
            fee_asset=fee_asset,
            is_maker=maker,
            time_ms=now,
        )
        self._trades.append(trade)
        ticker = self._tickers[order.symbol]
        ticker.volume += qty
        ticker.quote_volume += cost
        ticker.last_qty = qty
        ticker.count += 1
        if self.flavor == "binance":
            ticker.last_trade_id = int(trade.trade_id)
            if ticker.first_trade_id < 0:
                ticker.first_trade_id = ticker.last_trade_id
        self._b_stream_order(order, "TRADE", trade=trade)

    def _unlock(self, asset: str, amount: Decimal, order: _Order) -> None:
        self._locked[asset] -= amount
        self._free[asset] += amount
        order.reserved -= amount

    def _cancel(
        self,
        order: _Order,
        *,
        status: str = "canceled",
        cancel_type: str = "UNKNOWN",
        cancel_client_id: str | None = None,
    ) -> None:
        """End an open order; ``cancel_client_id`` is the cancel request's own client id (binance)."""
        spec = self._markets[order.symbol]
        had_funds = order.reserved > 0
        if had_funds:
            self._unlock(spec.quote if order.side == "buy" else spec.base, order.reserved, order)
        order.status = status
        order.cancel_type = cancel_type
        order.updated_ms = _now_ms()
        if status == "canceled":
            self._b_stream_order(order, "CANCELED", cancel_client_id=cancel_client_id, balances=had_funds)
        else:
            self._b_stream_order(order, "EXPIRED", balances=had_funds)
        self._land_late_fill(order)

    def _lookup_hidden(self, order: _Order) -> bool:
        """Consume one hidden lookup of this order; True while it is still hidden."""
        left = self._hidden.get(order.client_order_id, 0)
        if left <= 0:
            return False
        self._hidden[order.client_order_id] = left - 1
        return True

    def _status_check(self, order: _Order) -> None:
        """A direct status check: apply the next scheduled partial fill, if any."""
        pending = self._fill_checks.get(order.client_order_id)
        if not pending or order.status != "open":
            return
        qty = min(pending.pop(0), order.amount - order.filled)
        if qty > 0:
            self._execute(order, qty, order.price or self._prices[order.symbol], maker=True)

    # ------------------------------------------------------------------ HTTP plumbing

    def _outer_app(self, app: Starlette) -> Callable[..., Any]:
        async def outer(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                # uvicorn's send() is a bound method of its request cycle, which holds the
                # socket transport; keep it so a create can be answered by a dropped connection.
                transport = getattr(getattr(send, "__self__", None), "transport", None)
                scope.setdefault("extensions", {})["tradewire.transport"] = transport
            await app(scope, receive, send)

        return outer

    async def _endpoint(self, request: Request) -> Response:
        method = request.method.upper()
        path = request.url.path
        raw_query = request.scope.get("query_string", b"").decode("latin-1")
        body_bytes = await request.body()
        body = body_bytes.decode("utf-8", errors="replace")
        params = self._parse_params(raw_query, body, request.headers.get("content-type", ""))
        req = _Req(method, path, params, raw_query, body, {k.lower(): v for k, v in request.headers.items()})
        logged = {k: v for k, v in params.items() if k != "signature"}
        is_create = self._is_create(method, path)
        hold = 0.0
        drop = False
        with self._lock:
            if is_create:
                cid = self._create_cid(req)
                self._create_cids.append(None if cid is None else str(cid))
            fault = self._take_fault(method, path)
            if fault is not None:
                if fault.processed:
                    self._dispatch(req)  # executed; the answer that would say so is lost
                response = self._fault_response(fault)
                self._log.append(RequestRecord(method, path, logged, response.status_code))
                return response
            resp = self._dispatch(req)
            if is_create:
                if self._drops > 0:
                    self._drops -= 1
                    drop = True
                elif self._delays:
                    hold = self._delays.pop(0)
            self._log.append(RequestRecord(method, path, logged, 0 if drop else resp.status))
        if drop:
            transport = request.scope.get("extensions", {}).get("tradewire.transport")
            if transport is None:
                raise RuntimeError("cannot drop the connection: uvicorn transport not reachable")
            transport.abort()
            # Let uvicorn see the connection as lost so it doesn't try to answer with a 500.
            for _ in range(3):
                await asyncio.sleep(0)
            return Response(status_code=204)
        if hold > 0 and self._stopping is not None:
            # Hold the answer back, but let stop() end the wait (the connection is gone by then).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=hold)
        return self._render(resp)

    @staticmethod
    def _parse_params(raw_query: str, body: str, content_type: str) -> dict[str, Any]:
        params: dict[str, Any] = dict(parse_qsl(raw_query, keep_blank_values=True))
        if body:
            if "json" in content_type:
                with contextlib.suppress(ValueError):
                    decoded = json.loads(body)
                    if isinstance(decoded, dict):
                        params.update(decoded)
            else:
                params.update(parse_qsl(body, keep_blank_values=True))
        return params

    _CREATE_PATHS: dict[str, tuple[str, ...]] = {
        "binance": ("/api/v3/order",),
        "bybit": ("/v5/order/create",),
        "okx": ("/api/v5/trade/order", "/api/v5/trade/batch-orders"),
        "mexc": ("/api/v3/order",),
        "coinbase": ("/api/v3/brokerage/orders",),
    }

    def _is_create(self, method: str, path: str) -> bool:
        return method == "POST" and path in self._CREATE_PATHS[self.flavor]

    def _create_cid(self, req: _Req) -> Any:
        """The client order id a create request carries (None: none sent)."""
        params = req.params
        if self.flavor in ("binance", "mexc"):
            return params.get("newClientOrderId")
        if self.flavor == "bybit":
            return params.get("orderLinkId")
        if self.flavor == "coinbase":
            return params.get("client_order_id")
        if req.path.endswith("batch-orders"):
            with contextlib.suppress(ValueError, AttributeError, IndexError, TypeError):
                return json.loads(req.body)[0].get("clOrdId")
            return None
        return params.get("clOrdId")

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.method in ("*", method) and fault.path_contains in path:
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_response(self, fault: _Fault) -> Response:
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        body = fault.body
        if body is None:
            body = self._default_fault_body(fault.status)
        try:
            json.loads(body)
            media = "application/json"
        except ValueError:
            media = "text/html" if body.lstrip().startswith("<") else "text/plain"
        return Response(body, status_code=fault.status, headers=headers, media_type=media)

    def _default_fault_body(self, status: int) -> str:
        if status >= 500:
            return f"<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"
        if self.flavor == "binance":
            if status == 429:
                msg = (
                    "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute."
                    " Please use WebSocket Streams for live updates to avoid polling the API."
                )
                return json.dumps({"code": -1003, "msg": msg})
            if status == 418:
                msg = (
                    f"Way too many requests; IP(127.0.0.1) banned until {_now_ms() + 120_000}."
                    " Please use WebSocket Streams for live updates to avoid bans."
                )
                return json.dumps({"code": -1003, "msg": msg})
            return json.dumps(
                {"code": -1000, "msg": "An unknown error occurred while processing the request."}
            )
        if self.flavor == "okx":
            if status == 429:
                return json.dumps({"msg": "Too Many Requests", "code": "50011"})
            return json.dumps({"msg": "System error, please try again later.", "code": "50026"})
        if self.flavor == "mexc":
            if status == 429:
                return json.dumps({"code": 429, "msg": "Too Many Requests"})
            return json.dumps({"code": 400, "msg": "Bad Request"})
        if self.flavor == "coinbase":
            if status == 429:
                return json.dumps({"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]})
            return json.dumps({"error": "UNKNOWN_FAILURE_REASON", "message": "", "error_details": ""})
        if status == 429:
            return json.dumps(
                self._bybit_envelope({}, 10006, "Too many visits. Exceeded the API Rate Limit.")
            )
        if status == 418:
            return "<html><body>IP banned</body></html>"
        return json.dumps(self._bybit_envelope({}, 10016, "Server error."))

    def _dispatch(self, req: _Req) -> _Resp:
        key: tuple[str, str] = (req.method, req.path)
        if self.flavor == "coinbase":
            key, path_params = self._c_route(req.method, req.path)
            req.params.update(path_params)
        handler = self._routes.get(key)
        if handler is None:
            # Unknown endpoints answer like the exchange edge: 404 without a JSON body.
            return _Resp(404, None)
        try:
            if self._is_private(req.path):
                self._authenticate(req)
            result = handler(req)
        except _ApiError as error:
            return _Resp(error.status, error.payload)
        except (ValueError, ArithmeticError, TypeError):
            # A malformed number/JSON parameter: answer like the exchange, not with a 500.
            if self.flavor in ("binance", "mexc"):
                return _Resp(400, {"code": -1100, "msg": "Illegal characters found in a parameter."})
            if self.flavor == "okx":
                return _Resp(400, {"code": "50000", "msg": "Body can not be empty.", "data": []})
            if self.flavor == "coinbase":
                return _Resp(400, self._c_error_body("INVALID_ARGUMENT", "invalid request"))
            return _Resp(200, self._bybit_envelope({}, 10001, "params error"))
        if isinstance(result, _Resp):
            return result
        if self.flavor == "bybit":
            return _Resp(200, self._bybit_envelope(result))
        if self.flavor == "okx":
            return _Resp(200, {"code": "0", "msg": "", "data": result})
        if self.flavor == "binance":
            return _Resp(200, result, {"X-MBX-USED-WEIGHT-1M": "1"})
        return _Resp(200, result)

    @staticmethod
    def _render(resp: _Resp) -> Response:
        if resp.payload is None:
            return Response("", status_code=resp.status, headers=resp.headers, media_type="text/html")
        if isinstance(resp.payload, str):
            return Response(
                resp.payload, status_code=resp.status, headers=resp.headers, media_type="text/plain"
            )
        text = json.dumps(resp.payload, separators=(",", ":"))
        return Response(text, status_code=resp.status, headers=resp.headers, media_type="application/json")

    def _is_private(self, path: str) -> bool:
        if self.flavor == "binance":
            return path in {
                "/api/v3/account",
                "/api/v3/order",
                "/api/v3/openOrders",
                "/api/v3/allOrders",
                "/api/v3/myTrades",
            }
        if self.flavor == "okx":
            return path.startswith(("/api/v5/trade/", "/api/v5/account/", "/api/v5/asset/"))
        if self.flavor == "mexc":
            return path in _MEXC_PRIVATE
        if self.flavor == "coinbase":
            public = ("/api/v3/brokerage/market/", "/api/v3/brokerage/time")
            return path.startswith(
                ("/api/v3/brokerage/", "/v2/accounts", "/v2/user")
            ) and not path.startswith(public)
        return path.startswith(("/v5/order/", "/v5/account/", "/v5/execution/", "/v5/asset/", "/v5/user/"))

    def _authenticate(self, req: _Req) -> None:
        {
            "binance": self._binance_auth,
            "bybit": self._bybit_auth,
            "okx": self._okx_auth,
            "mexc": self._mexc_auth,
            "coinbase": self._coinbase_auth,
        }[self.flavor](req)

    def _sign(self, payload: str) -> str:
        return hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------------ binance

    def _binance_routes(self) -> dict[tuple[str, str], Callable[[_Req], Any]]:
        return {
            ("GET", "/api/v3/ping"): lambda req: {},
            ("GET", "/api/v3/time"): lambda req: {"serverTime": _now_ms()},
            ("GET", "/api/v3/exchangeInfo"): self._b_exchange_info,
            ("GET", "/api/v3/ticker/24hr"): self._b_ticker_24hr,
            ("GET", "/api/v3/ticker/price"): self._b_ticker_price,
            ("GET", "/api/v3/ticker/bookTicker"): self._b_book_ticker,
            ("GET", "/api/v3/depth"): self._b_depth,
            ("GET", "/api/v3/klines"): self._b_klines,
            ("GET", "/api/v3/account"): self._b_account,
            ("POST", "/api/v3/order"): self._b_new_order,
            ("GET", "/api/v3/order"): self._b_get_order,
            ("DELETE", "/api/v3/order"): self._b_cancel_order,
            ("GET", "/api/v3/openOrders"): self._b_open_orders,
            ("DELETE", "/api/v3/openOrders"): self._b_cancel_all,
            ("GET", "/api/v3/allOrders"): self._b_all_orders,
            ("GET", "/api/v3/myTrades"): self._b_my_trades,
        }

    @staticmethod
    def _b_error(code: int, msg: str, status: int = 400) -> _ApiError:
        return _ApiError(status, {"code": code, "msg": msg})

    @classmethod
    def _b_mandatory(cls, name: str) -> _ApiError:
        return cls._b_error(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )

    def _binance_auth(self, req: _Req) -> None:
        key = req.headers.get("x-mbx-apikey")
        if not key:
            raise self._b_error(-2014, "API-key format invalid.", 401)
        if key != self.api_key:
            raise self._b_error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if not req.params.get("timestamp"):
            raise self._b_mandatory("timestamp")
        signature = req.params.get("signature")
        if not signature:
            raise self._b_mandatory("signature")
        # Binance signs the query string followed by the body, both without the signature.
        unsigned = "".join(
            "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))
            for raw in (req.raw_query, req.body)
        )
        if not hmac.compare_digest(self._sign(unsigned), str(signature)):
            raise self._b_error(-1022, "Signature for this request is not valid.")
        try:
            stamp = int(req.params["timestamp"])
            window = int(req.params.get("recvWindow", 5000))
        except ValueError:
            raise self._b_error(-1100, "Illegal characters found in parameter 'timestamp'.") from None
        now = _now_ms()
        if stamp > now + 1000:
            raise self._b_error(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - stamp > window:
            raise self._b_error(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _b_spec(self, market_id: str | None) -> MarketSpec:
        if not market_id:
            raise self._b_mandatory("symbol")
        spec = self._by_id.get(str(market_id))
        if spec is None:
            raise self._b_error(-1121, "Invalid symbol.")
        return spec

    def _b_decimal(self, params: dict[str, Any], name: str) -> Decimal | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        try:
            value: Decimal | None = Decimal(str(raw))
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value < 0:
            raise self._b_error(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
            )
        return value

    def _b_exchange_info(self, req: _Req) -> dict[str, Any]:
        wanted: list[MarketSpec] = list(self._markets.values())
        if req.params.get("symbol"):
            wanted = [self._b_spec(req.params["symbol"])]
        elif req.params.get("symbols"):
            wanted = [self._b_spec(mid) for mid in json.loads(req.params["symbols"])]
        return {
            "timezone": "UTC",
            "serverTime": _now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": [self._b_symbol_info(spec) for spec in wanted],
        }

    @staticmethod
    def _b_symbol_info(spec: MarketSpec) -> dict[str, Any]:
        # Only filters the fake enforces are advertised (so ccxt's limits mean what they say).
        return {
            "symbol": spec.market_id,
            "status": "TRADING",
            "baseAsset": spec.base,
            "baseAssetPrecision": 8,
            "quoteAsset": spec.quote,
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8,
            "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
            "icebergAllowed": True,
            "ocoAllowed": False,
            "otoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": False,
            "cancelReplaceAllowed": False,
            "amendAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": _d8(Decimal(spec.price_tick)),
                    "maxPrice": _d8(_MAX_PRICE),
                    "tickSize": _d8(Decimal(spec.price_tick)),
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": _d8(Decimal(spec.min_qty)),
                    "maxQty": _d8(_MAX_QTY),
                    "stepSize": _d8(Decimal(spec.amount_step)),
                },
                {
                    "filterType": "NOTIONAL",
                    "minNotional": _d8(Decimal(spec.min_notional)),
                    "applyMinToMarket": True,
                    "maxNotional": _d8(_MAX_NOTIONAL),
                    "applyMaxToMarket": False,
                    "avgPriceMins": 5,
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    def _b_ticker_json(self, spec: MarketSpec) -> dict[str, Any]:
        price = self._prices[spec.symbol]
        ticker = self._tickers[spec.symbol]
        change = price - ticker.open
        percent = (change / ticker.open * 100) if ticker.open else Decimal(0)
        vwap = ticker.quote_volume / ticker.volume if ticker.volume else price
        now = _now_ms()
        return {
            "symbol": spec.market_id,
            "priceChange": _d8(change),
            "priceChangePercent": f"{percent:.3f}",
            "weightedAvgPrice": _d8(vwap),
            "prevClosePrice": _d8(ticker.open),
            "lastPrice": _d8(price),
            "lastQty": _d8(ticker.last_qty),
            "bidPrice": _d8(price),
            "bidQty": _d8(Decimal(1)),
            "askPrice": _d8(price),
            "askQty": _d8(Decimal(1)),
            "openPrice": _d8(ticker.open),
            "highPrice": _d8(ticker.high),
            "lowPrice": _d8(ticker.low),
            "volume": _d8(ticker.volume),
            "quoteVolume": _d8(ticker.quote_volume),
            "openTime": str(now - 86_400_000),
            "closeTime": str(now),
            "firstId": str(ticker.first_trade_id),
            "lastId": str(ticker.last_trade_id),
            "count": str(ticker.count),
        }

    def _b_selected(self, req: _Req) -> list[MarketSpec] | MarketSpec:
        if req.params.get("symbol"):
            return self._b_spec(req.params["symbol"])
        if req.params.get("symbols"):
            return [self._b_spec(mid) for mid in json.loads(req.params["symbols"])]
        return list(self._markets.values())

    def _b_ticker_24hr(self, req: _Req) -> Any:
        selected = self._b_selected(req)
        if isinstance(selected, MarketSpec):
            return self._b_ticker_json(selected)
        return [self._b_ticker_json(spec) for spec in selected]

    def _b_ticker_price(self, req: _Req) -> Any:
        def one(spec: MarketSpec) -> dict[str, str]:
            return {"symbol": spec.market_id, "price": _d8(self._prices[spec.symbol])}

        selected = self._b_selected(req)
        return one(selected) if isinstance(selected, MarketSpec) else [one(s) for s in selected]

    def _b_book_ticker(self, req: _Req) -> Any:
        def one(spec: MarketSpec) -> dict[str, str]:
            price = _d8(self._prices[spec.symbol])
            size = _d8(Decimal(1))
            return {
                "symbol": spec.market_id,
                "bidPrice": price,
                "bidQty": size,
                "askPrice": price,
                "askQty": size,
            }

        selected = self._b_selected(req)
        return one(selected) if isinstance(selected, MarketSpec) else [one(s) for s in selected]

    def _book_levels(self, spec: MarketSpec, depth: int) -> tuple[list[Decimal], list[Decimal]]:
        # A synthetic book around the current price: asks from the price up, bids one tick below.
        price, tick = self._prices[spec.symbol], Decimal(spec.price_tick)
        asks = [price + tick * i for i in range(depth)]
        bids = [price - tick * (i + 1) for i in range(depth) if price - tick * (i + 1) > 0]
        return bids, asks

    def _b_depth(self, req: _Req) -> dict[str, Any]:
        spec = self._b_spec(req.params.get("symbol"))
        depth = min(int(req.params.get("limit", 100)), 20)
        bids, asks = self._book_levels(spec, depth)
        size = _d8(Decimal(1))
        return {
            "lastUpdateId": str(next(self._book_ids)),
            "bids": [[_d8(p), size] for p in bids],
            "asks": [[_d8(p), size] for p in asks],
        }

    _INTERVALS_MS: dict[str, int] = {
        "1s": 1_000,
        "1m": 60_000,
        "3m": 180_000,
        "5m": 300_000,
        "15m": 900_000,
        "30m": 1_800_000,
        "1h": 3_600_000,
        "2h": 7_200_000,
        "4h": 14_400_000,
        "6h": 21_600_000,
        "8h": 28_800_000,
        "12h": 43_200_000,
        "1d": 86_400_000,
        "3d": 259_200_000,
        "1w": 604_800_000,
    }

    def _candle_opens(self, interval_ms: int, start: int | None, end: int | None, limit: int) -> list[int]:
        now = _now_ms()
        last_open = ((end if end is not None else now) // interval_ms) * interval_ms
        if start is not None:
            first = -(-start // interval_ms) * interval_ms
            opens = list(range(first, last_open + 1, interval_ms))[:limit]
        else:
            opens = [last_open - interval_ms * i for i in range(limit)][::-1]
        return opens

    def _b_klines(self, req: _Req) -> list[list[Any]]:
        spec = self._b_spec(req.params.get("symbol"))
        interval = req.params.get("interval")
        if not interval:
            raise self._b_mandatory("interval")
        interval_ms = self._INTERVALS_MS.get(str(interval))
        if interval_ms is None:
            raise self._b_error(-1120, "Invalid interval.")
        limit = min(int(req.params.get("limit", 500)), 1000)
        start = int(req.params["startTime"]) if req.params.get("startTime") else None
        end = int(req.params["endTime"]) if req.params.get("endTime") else None
        price = _d8(self._prices[spec.symbol])
        zero = _d8(Decimal(0))
        # Flat candles at the current price: the fake has no price history.
        return [
            [o, price, price, price, price, zero, o + interval_ms - 1, zero, 0, zero, zero, "0"]
            for o in self._candle_opens(interval_ms, start, end, limit)
        ]

    def _b_account(self, req: _Req) -> dict[str, Any]:
        balances = [
            {"asset": asset, "free": _d8(self._free[asset]), "locked": _d8(self._locked[asset])}
            for asset in self._free
        ]
        if str(req.params.get("omitZeroBalances", "")).lower() == "true":
            balances = [b for b in balances if Decimal(b["free"]) or Decimal(b["locked"])]
        updated = max([o.updated_ms for o in self._orders], default=_now_ms())
        return {
            "makerCommission": "10",
            "takerCommission": "10",
            "buyerCommission": "0",
            "sellerCommission": "0",
            "commissionRates": {
                "maker": _d8(FEE_RATE),
                "taker": _d8(FEE_RATE),
                "buyer": _d8(Decimal(0)),
                "seller": _d8(Decimal(0)),
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": str(updated),
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": "365859102",
        }

    _B_REJECTS: dict[str, tuple[int, str]] = {
        "duplicate": (-2010, "Duplicate order sent."),
        "insufficient": (-2010, "Account has insufficient balance for requested action."),
        "would_take": (-2010, "Order would immediately match and take."),
        "price_tick": (-1013, "Filter failure: PRICE_FILTER"),
        "price_range": (-1013, "Filter failure: PRICE_FILTER"),
        "qty_step": (-1013, "Filter failure: LOT_SIZE"),
        "qty_min": (-1013, "Filter failure: LOT_SIZE"),
        "qty_max": (-1013, "Filter failure: LOT_SIZE"),
        "notional": (-1013, "Filter failure: NOTIONAL"),
    }

    def _b_new_order(self, req: _Req) -> Any:
        p = req.params
        spec = self._b_spec(p.get("symbol"))
        side = str(p.get("side", "")).upper()
        if not side:
            raise self._b_mandatory("side")
        if side not in ("BUY", "SELL"):
            raise self._b_error(-1117, "Invalid side.")
        order_type = str(p.get("type", "")).upper()
        if not order_type:
            raise self._b_mandatory("type")
        if order_type not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            # The fake only implements these three spot types.
            raise self._b_error(-1116, "Invalid orderType.")
        quantity = self._b_decimal(p, "quantity")
        quote_qty = self._b_decimal(p, "quoteOrderQty")
        price = self._b_decimal(p, "price")
        tif = str(p.get("timeInForce") or "")
        if order_type in ("LIMIT", "LIMIT_MAKER"):
            if order_type == "LIMIT" and not tif:
                raise self._b_mandatory("timeInForce")
            if quantity is None:
                raise self._b_mandatory("quantity")
            if price is None:
                raise self._b_mandatory("price")
        elif quantity is None and quote_qty is None:
            raise self._b_error(
                -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            )
        if tif and tif not in ("GTC", "IOC", "FOK"):
            raise self._b_error(-1115, "Invalid timeInForce.")
        cid = str(p.get("newClientOrderId") or _binance_client_id())
        try:
            order = self._place(
                spec,
                side.lower(),
                "market" if order_type == "MARKET" else "limit",
                client_order_id=cid,
                amount=quantity if order_type != "MARKET" or quote_qty is None else None,
                quote_qty=quote_qty if order_type == "MARKET" and quantity is None else None,
                price=price if order_type != "MARKET" else None,
                time_in_force=tif or "GTC",
                post_only=order_type == "LIMIT_MAKER",
                unique_among="open",
                iceberg_qty=self._b_decimal(p, "icebergQty"),
                stp_mode=str(p.get("selfTradePreventionMode") or "EXPIRE_MAKER"),
            )
        except _Reject as reject:
            code, msg = self._B_REJECTS[reject.kind]
            raise self._b_error(code, msg) from None
        default_resp = "FULL" if order_type in ("MARKET", "LIMIT") else "ACK"
        return self._b_new_order_json(order, str(p.get("newOrderRespType") or default_resp))

    def _b_type(self, order: _Order) -> str:
        if order.kind == "market":
            return "MARKET"
        return "LIMIT_MAKER" if order.post_only else "LIMIT"

    def _b_new_order_json(self, order: _Order, resp_type: str) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        head = {
            "symbol": spec.market_id,
            "orderId": order.order_id,
            "orderListId": "-1",
            "clientOrderId": order.client_order_id,
            "transactTime": str(order.updated_ms),
        }
        if resp_type == "ACK":
            return head
        result: dict[str, Any] = {
            **head,
            "price": _d8(order.price or Decimal(0)),
            "origQty": _d8(order.amount),
            "executedQty": _d8(order.filled),
            "origQuoteOrderQty": _d8(order.quote_order_qty or Decimal(0)),
            "cummulativeQuoteQty": _d8(order.cost),
            "status": self._exchange_status(order),
            "timeInForce": order.time_in_force,
            "type": self._b_type(order),
            "side": order.side.upper(),
            "workingTime": str(order.created_ms),
        }
        if order.iceberg_qty is not None:
            result["icebergQty"] = _d8(order.iceberg_qty)
        if resp_type == "FULL":
            result["fills"] = [
                {
                    "price": _d8(t.price),
                    "qty": _d8(t.amount),
                    "commission": _d8(t.fee),
                    "commissionAsset": t.fee_asset,
                    "tradeId": t.trade_id,
                }
                for t in self._trades
                if t.order_id == order.order_id
            ]
        result["selfTradePreventionMode"] = order.stp_mode
        return result

    def _b_query_json(self, order: _Order) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        return {
            "symbol": spec.market_id,
            "orderId": order.order_id,
            "orderListId": "-1",
            "clientOrderId": order.client_order_id,
            "price": _d8(order.price or Decimal(0)),
            "origQty": _d8(order.amount),
            "executedQty": _d8(order.filled),
            "cummulativeQuoteQty": _d8(order.cost),
            "status": self._exchange_status(order),
            "timeInForce": order.time_in_force,
            "type": self._b_type(order),
            "side": order.side.upper(),
            "stopPrice": _d8(Decimal(0)),
            "icebergQty": _d8(order.iceberg_qty or Decimal(0)),
            "time": str(order.created_ms),
            "updateTime": str(order.updated_ms),
            "isWorking": True,
            "workingTime": str(order.created_ms),
            "origQuoteOrderQty": _d8(order.quote_order_qty or Decimal(0)),
            "selfTradePreventionMode": order.stp_mode,
        }

    def _b_find(self, spec: MarketSpec, params: dict[str, Any]) -> _Order | None:
        order_id = params.get("orderId")
        cid = params.get("origClientOrderId")
        if not order_id and not cid:
            raise self._b_error(
                -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
            )
        for order in reversed(self._orders):
            if order.symbol != spec.symbol:
                continue
            if order_id and order.order_id != str(order_id):
                continue
            if cid and order.client_order_id != str(cid):
                continue
            return order
        return None

    def _b_get_order(self, req: _Req) -> dict[str, Any]:
        spec = self._b_spec(req.params.get("symbol"))
        order = self._b_find(spec, req.params)
        if order is None or self._lookup_hidden(order):
            raise self._b_error(-2013, "Order does not exist.")
        self._status_check(order)
        return self._b_query_json(order)

    def _b_cancel_json(self, order: _Order, cancel_cid: str) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        # Note: clientOrderId here is the *cancel request's* id, the original is origClientOrderId.
        return {
            "symbol": spec.market_id,
            "origClientOrderId": order.client_order_id,
            "orderId": order.order_id,
            "orderListId": "-1",
            "clientOrderId": cancel_cid,
            "transactTime": str(order.updated_ms),
            "price": _d8(order.price or Decimal(0)),
            "origQty": _d8(order.amount),
            "executedQty": _d8(order.filled),
            "origQuoteOrderQty": _d8(order.quote_order_qty or Decimal(0)),
            "cummulativeQuoteQty": _d8(order.cost),
            "status": self._exchange_status(order),
            "timeInForce": order.time_in_force,
            "type": self._b_type(order),
            "side": order.side.upper(),
            "selfTradePreventionMode": order.stp_mode,
        }

    def _b_cancel_order(self, req: _Req) -> dict[str, Any]:
        spec = self._b_spec(req.params.get("symbol"))
        order = self._b_find(spec, req.params)
        if order is None or self._lookup_hidden(order) or order.status != "open":
            raise self._b_error(-2011, "Unknown order sent.")
        cancel_cid = str(req.params.get("newClientOrderId") or _binance_client_id())
        self._cancel(order, cancel_client_id=cancel_cid)
        return self._b_cancel_json(order, cancel_cid)

    def _b_visible_open(self, spec: MarketSpec | None) -> list[_Order]:
        result = []
        for order in self._orders:
            if order.status != "open" or (spec is not None and order.symbol != spec.symbol):
                continue
            if self._lookup_hidden(order):
                continue
            result.append(order)
        return result

    def _b_open_orders(self, req: _Req) -> list[dict[str, Any]]:
        spec = self._b_spec(req.params["symbol"]) if req.params.get("symbol") else None
        return [self._b_query_json(order) for order in self._b_visible_open(spec)]

    def _b_cancel_all(self, req: _Req) -> list[dict[str, Any]]:
        spec = self._b_spec(req.params.get("symbol"))
        orders = self._b_visible_open(spec)
        if not orders:
            raise self._b_error(-2011, "Unknown order sent.")
        result = []
        for order in orders:
            cancel_cid = _binance_client_id()
            self._cancel(order, cancel_client_id=cancel_cid)
            result.append(self._b_cancel_json(order, cancel_cid))
        return result

    @staticmethod
    def _window(items: list[Any], params: dict[str, Any], stamp: Callable[[Any], int]) -> list[Any]:
        if params.get("startTime"):
            items = [i for i in items if stamp(i) >= int(params["startTime"])]
        if params.get("endTime"):
            items = [i for i in items if stamp(i) <= int(params["endTime"])]
        return items

    def _b_all_orders(self, req: _Req) -> list[dict[str, Any]]:
        spec = self._b_spec(req.params.get("symbol"))
        limit = min(int(req.params.get("limit", 500)), 1000)
        orders = [o for o in self._orders if o.symbol == spec.symbol]
        orders = self._window(orders, req.params, lambda o: o.created_ms)
        if req.params.get("orderId"):
            # orderId: that order and newer ones, oldest first.
            orders = [o for o in orders if int(o.order_id) >= int(req.params["orderId"])][:limit]
        else:
            orders = orders[-limit:]
        return [self._b_query_json(o) for o in orders]

    def _b_trade_json(self, trade: _Trade) -> dict[str, Any]:
        spec = self._markets[trade.symbol]
        return {
            "symbol": spec.market_id,
            "id": trade.trade_id,
            "orderId": trade.order_id,
            "orderListId": "-1",
            "price": _d8(trade.price),
            "qty": _d8(trade.amount),
            "quoteQty": _d8(trade.cost),
            "commission": _d8(trade.fee),
            "commissionAsset": trade.fee_asset,
            "time": str(trade.time_ms),
            "isBuyer": trade.side == "buy",
            "isMaker": trade.is_maker,
            "isBestMatch": True,
        }

    def _b_my_trades(self, req: _Req) -> list[dict[str, Any]]:
        spec = self._b_spec(req.params.get("symbol"))
        limit = min(int(req.params.get("limit", 500)), 1000)
        trades = [t for t in self._trades if t.symbol == spec.symbol]
        if req.params.get("orderId"):
            trades = [t for t in trades if t.order_id == str(req.params["orderId"])]
        trades = self._window(trades, req.params, lambda t: t.time_ms)
        if req.params.get("fromId"):
            trades = [t for t in trades if int(t.trade_id) >= int(req.params["fromId"])][:limit]
        else:
            trades = trades[-limit:]
        return [self._b_trade_json(t) for t in trades]

    # ------------------------------------------------------------------ binance WebSocket API

    def _b_stream_order(
        self,
        order: _Order,
        exec_type: str,
        *,
        trade: _Trade | None = None,
        cancel_client_id: str | None = None,
        balances: bool = True,
    ) -> None:
        """Push an order change to every user-data subscription (called under ``_lock``)."""
        loop = self._loop
        if self.flavor != "binance" or loop is None:
            return
        targets = [
            (conn, subscription)
            for conn in self._ws_conns
            for subscription, key in conn.subscriptions.items()
            if key == self.api_key
        ]
        if not targets:
            return
        events = [self._b_execution_report(order, exec_type, trade, cancel_client_id)]
        if balances:
            events.append(self._b_account_position(order))
        for conn, subscription in targets:
            for event in events:
                text = json.dumps({"subscriptionId": subscription, "event": event}, separators=(",", ":"))
                # From any thread: call_soon_threadsafe keeps the events in order per connection.
                with contextlib.suppress(RuntimeError):  # loop already closed
                    loop.call_soon_threadsafe(conn.queue.put_nowait, text)

    def _b_execution_report(
        self, order: _Order, exec_type: str, trade: _Trade | None, cancel_client_id: str | None
    ) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        zero = _d8(Decimal(0))
        canceled = exec_type == "CANCELED"
        report: dict[str, Any] = {
            "e": "executionReport",
            "E": _now_ms(),
            "s": spec.market_id,
            # A cancel reports the cancel request's client id in c and the order's own in C.
            "c": (cancel_client_id or _binance_client_id()) if canceled else order.client_order_id,
            "S": order.side.upper(),
            "o": self._b_type(order),
            "f": order.time_in_force,
            "q": _d8(order.amount),
            "p": _d8(order.price or Decimal(0)),
            "P": zero,
            "F": _d8(order.iceberg_qty or Decimal(0)),
            "g": -1,
            "C": order.client_order_id if canceled else "",
            "x": exec_type,
            "X": self._exchange_status(order),
            "r": "NONE",
            "i": int(order.order_id),
            "l": _d8(trade.amount) if trade else zero,
            "z": _d8(order.filled),
            "L": _d8(trade.price) if trade else zero,
            "n": _d8(trade.fee) if trade else "0",
            "N": trade.fee_asset if trade else None,
            "T": trade.time_ms if trade else order.updated_ms,
            "t": int(trade.trade_id) if trade else -1,
            "I": next(self._exec_ids),
            "w": order.kind == "limit" and order.status == "open",
            "m": trade.is_maker if trade else False,
            "M": trade is not None,
            "O": order.created_ms,
            "Z": _d8(order.cost),
            "Y": _d8(trade.cost) if trade else zero,
            "Q": _d8(order.quote_order_qty or Decimal(0)),
        }
        if order.kind == "limit":
            report["W"] = order.created_ms  # working time: only for orders that went on the book
        report["V"] = order.stp_mode
        return report

    def _b_account_position(self, order: _Order) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        return {
            "e": "outboundAccountPosition",
            "E": _now_ms(),
            "u": order.updated_ms,
            "B": [
                {
                    "a": asset,
                    "f": _d8(self._free.get(asset, Decimal(0))),
                    "l": _d8(self._locked.get(asset, Decimal(0))),
                }
                for asset in (spec.base, spec.quote)
            ],
        }

    async def _b_ws_api(self, websocket: WebSocket) -> None:
        """``/ws-api/v3``: JSON requests in, responses and user-data events out (one pump task)."""
        await websocket.accept()
        query = dict(parse_qsl(websocket.scope.get("query_string", b"").decode("latin-1")))
        conn = _StreamConn(
            queue=asyncio.Queue(),
            transport=websocket.scope.get("extensions", {}).get("tradewire.transport"),
            return_rate_limits=str(query.get("returnRateLimits", "true")).lower() != "false",
        )
        with self._lock:
            self._ws_conns.add(conn)
        pump = asyncio.create_task(self._b_ws_pump(websocket, conn))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
                with self._lock:
                    self._b_ws_call(conn, text)
        finally:
            with self._lock:
                self._ws_conns.discard(conn)
                conn.subscriptions.clear()
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    @staticmethod
    async def _b_ws_pump(websocket: WebSocket, conn: _StreamConn) -> None:
        while True:
            text = await conn.queue.get()
            try:
                if text is None:
                    await websocket.close(code=1001, reason="going away")
                    return
                await websocket.send_text(text)
            except (WebSocketDisconnect, OSError, RuntimeError):
                return  # the peer is gone; the receive side cleans up

    def _b_ws_reply(
        self,
        conn: _StreamConn,
        request_id: Any,
        *,
        result: Any = None,
        error: _ApiError | None = None,
        rate_limits: bool | None = None,
    ) -> None:
        reply: dict[str, Any] = {"id": request_id, "status": 200 if error is None else error.status}
        if error is None:
            reply["result"] = result
        else:
            reply["error"] = error.payload
        if conn.return_rate_limits if rate_limits is None else rate_limits:
            reply["rateLimits"] = [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                    "count": conn.weight,
                }
            ]
        conn.queue.put_nowait(json.dumps(reply, separators=(",", ":")))

    def _b_ws_call(self, conn: _StreamConn, text: str) -> None:
        """Answer one WebSocket API request (on the server loop, under ``_lock``)."""
        conn.weight += 2
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("params", {}), dict):
            error = self._b_error(-1000, "Malformed request: expected a JSON object with id, method, params.")
            self._b_ws_reply(conn, None, error=error)
            return
        request_id = request.get("id")
        method = request.get("method")
        params: dict[str, Any] = request.get("params") or {}
        flag = params.get("returnRateLimits")
        rate_limits = None if flag is None else str(flag).lower() != "false"
        try:
            if method == "userDataStream.subscribe.signature":
                result: Any = self._b_ws_subscribe(conn, params)
            elif method == "userDataStream.unsubscribe":
                result = self._b_ws_unsubscribe(conn, params)
            elif method == "session.subscriptions":
                result = [{"subscriptionId": sid} for sid in conn.subscriptions]
            elif method == "ping":
                result = {}
            elif method == "time":
                result = {"serverTime": _now_ms()}
            else:
                # Not modelled: session.logon (Ed25519 keys only), userDataStream.subscribe, trading.
                raise self._b_error(
                    -1000,
                    f"The fake WebSocket API does not serve method {method!r} (served: "
                    "userDataStream.subscribe.signature, userDataStream.unsubscribe, "
                    "session.subscriptions, ping, time).",
                )
        except _ApiError as error:
            self._b_ws_reply(conn, request_id, error=error, rate_limits=rate_limits)
            return
        self._b_ws_reply(conn, request_id, result=result, rate_limits=rate_limits)

    def _b_ws_subscribe(self, conn: _StreamConn, params: dict[str, Any]) -> dict[str, int]:
        for name in ("apiKey", "timestamp", "signature"):
            if params.get(name) in (None, ""):
                raise self._b_mandatory(name)
        if params["apiKey"] != self.api_key:
            raise self._b_error(-2015, "Invalid API-key, IP, or permissions for action.", 401)

        def text(value: Any) -> str:
            return ("true" if value else "false") if isinstance(value, bool) else str(value)

        # WebSocket API signature: every other param, sorted by name, as key=value&... (HMAC-SHA256).
        payload = "&".join(f"{k}={text(v)}" for k, v in sorted(params.items()) if k != "signature")
        if not hmac.compare_digest(self._sign(payload), str(params["signature"])):
            raise self._b_error(-1022, "Signature for this request is not valid.")
        try:
            stamp = int(params["timestamp"])
            window = float(params.get("recvWindow", 5000))
        except (TypeError, ValueError):
            raise self._b_error(-1100, "Illegal characters found in parameter 'timestamp'.") from None
        if window > 60000:
            raise self._b_error(-1131, "recvWindow must be less than 60000")
        now = _now_ms()
        if stamp > now + 1000:
            raise self._b_error(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - stamp > window:
            raise self._b_error(-1021, "Timestamp for this request is outside of the recvWindow.")
        if self.api_key in conn.subscriptions.values():
            # Binance allows one subscription per account and connection (the fake's wording).
            raise self._b_error(-1000, "This account already has a user data stream on this connection.")
        subscription = conn.next_subscription
        conn.next_subscription += 1
        conn.subscriptions[subscription] = self.api_key
        return {"subscriptionId": subscription}

    def _b_ws_unsubscribe(self, conn: _StreamConn, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("subscriptionId")
        ended = [sid for sid in conn.subscriptions if wanted is None or str(sid) == str(wanted)]
        for sid in ended:
            del conn.subscriptions[sid]
            event = {"e": "eventStreamTerminated", "E": _now_ms()}
            text = json.dumps({"subscriptionId": sid, "event": event}, separators=(",", ":"))
            conn.queue.put_nowait(text)
        return {}

    # ------------------------------------------------------------------ bybit

    def _bybit_routes(self) -> dict[tuple[str, str], Callable[[_Req], Any]]:
        return {
            ("GET", "/v5/market/time"): self._y_time,
            ("GET", "/v5/market/instruments-info"): self._y_instruments,
            ("GET", "/v5/market/tickers"): self._y_tickers,
            ("GET", "/v5/market/orderbook"): self._y_orderbook,
            ("GET", "/v5/market/kline"): self._y_kline,
            ("GET", "/v5/asset/coin/query-info"): self._y_coin_info,
            ("GET", "/v5/user/query-api"): self._y_query_api,
            ("GET", "/v5/account/info"): self._y_account_info,
            ("GET", "/v5/account/wallet-balance"): self._y_wallet_balance,
            ("POST", "/v5/order/create"): self._y_create,
            ("POST", "/v5/order/cancel"): self._y_cancel,
            ("GET", "/v5/order/realtime"): self._y_realtime,
            ("GET", "/v5/order/history"): self._y_history,
            ("GET", "/v5/execution/list"): self._y_executions,
        }

    @staticmethod
    def _bybit_envelope(result: Any, code: int = 0, msg: str = "OK") -> dict[str, Any]:
        return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": _now_ms()}

    @classmethod
    def _y_error(cls, code: int, msg: str, status: int = 200) -> _ApiError:
        # bybit answers business errors with HTTP 200 and a non-zero retCode.
        return _ApiError(status, cls._bybit_envelope({}, code, msg))

    def _bybit_auth(self, req: _Req) -> None:
        key = req.headers.get("x-bapi-api-key")
        if not key or key != self.api_key:
            raise self._y_error(10003, "API key is invalid.", 401)
        stamp = req.headers.get("x-bapi-timestamp", "")
        window = req.headers.get("x-bapi-recv-window", "5000")
        signature = req.headers.get("x-bapi-sign", "")
        payload = stamp + key + window + (req.body if req.method == "POST" else req.raw_query)
        if not signature or not hmac.compare_digest(self._sign(payload), signature):
            raise self._y_error(10004, f"error sign! origin_string[{payload}]", 401)
        now = _now_ms()
        try:
            stamp_ms, window_ms = int(stamp), int(window)
        except ValueError:
            raise self._y_error(10002, "invalid request, please check your timestamp") from None
        if not now - window_ms <= stamp_ms < now + 1000:
            raise self._y_error(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{stamp_ms}],server_timestamp[{now}],recv_window[{window_ms}]",
            )

    def _y_category(self, params: dict[str, Any]) -> None:
        category = params.get("category")
        if not category:
            raise self._y_error(10001, "params error: category is empty")
        if category != "spot":
            # The fake only has a spot market; other categories exist on the real exchange.
            raise self._y_error(10001, f"params error: category {category} not served by the fake")

    def _y_spec(self, market_id: Any) -> MarketSpec:
        spec = self._by_id.get(str(market_id)) if market_id else None
        if spec is None:
            raise self._y_error(10001, "params error: symbol invalid")
        return spec

    def _y_time(self, req: _Req) -> dict[str, Any]:
        ns = time.time_ns()
        return {"timeSecond": str(ns // 1_000_000_000), "timeNano": str(ns)}

    def _y_instruments(self, req: _Req) -> dict[str, Any]:
        self._y_category(req.params)
        specs = list(self._markets.values())
        if req.params.get("symbol"):
            specs = [s for s in specs if s.market_id == req.params["symbol"]]
        return {
            "category": "spot",
            "list": [
                {
                    "symbol": spec.market_id,
                    "baseCoin": spec.base,
                    "quoteCoin": spec.quote,
                    "innovation": "0",
                    "status": "Trading",
                    "marginTrading": "none",
                    "stTag": "0",
                    "lotSizeFilter": {
                        "basePrecision": spec.amount_step,
                        "quotePrecision": "0.00000001",
                        "minOrderQty": spec.min_qty,
                        "maxOrderQty": _plain(_MAX_QTY),
                        "minOrderAmt": spec.min_notional,
                        "maxOrderAmt": _plain(_MAX_NOTIONAL),
                    },
                    "priceFilter": {"tickSize": spec.price_tick},
                    "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"},
                }
                for spec in specs
            ],
        }

    def _y_ticker_json(self, spec: MarketSpec) -> dict[str, str]:
        price = self._prices[spec.symbol]
        ticker = self._tickers[spec.symbol]
        tick = Decimal(spec.price_tick)
        pcnt = (price - ticker.open) / ticker.open if ticker.open else Decimal(0)
        return {
            "symbol": spec.market_id,
            "bid1Price": _fixed(price, tick),
            "bid1Size": "1",
            "ask1Price": _fixed(price, tick),
            "ask1Size": "1",
            "lastPrice": _fixed(price, tick),
            "prevPrice24h": _fixed(ticker.open, tick),
            "price24hPcnt": f"{pcnt:.4f}",
            "highPrice24h": _fixed(ticker.high, tick),
            "lowPrice24h": _fixed(ticker.low, tick),
            "turnover24h": _plain(ticker.quote_volume),
            "volume24h": _plain(ticker.volume),
            "usdIndexPrice": _plain(price),
        }

    def _y_tickers(self, req: _Req) -> dict[str, Any]:
        self._y_category(req.params)
        specs = list(self._markets.values())
        if req.params.get("symbol"):
            specs = [self._y_spec(req.params["symbol"])]
        return {"category": "spot", "list": [self._y_ticker_json(spec) for spec in specs]}

    def _y_orderbook(self, req: _Req) -> dict[str, Any]:
        self._y_category(req.params)
        spec = self._y_spec(req.params.get("symbol"))
        bids, asks = self._book_levels(spec, min(int(req.params.get("limit", 1)), 200))
        tick = Decimal(spec.price_tick)
        now = _now_ms()
        seq = next(self._book_ids)
        return {
            "s": spec.market_id,
            "b": [[_fixed(p, tick), "1"] for p in bids],
            "a": [[_fixed(p, tick), "1"] for p in asks],
            "ts": now,
            "u": seq,
            "seq": seq,
            "cts": now,
        }

    _Y_INTERVALS_MS: dict[str, int] = {
        "1": 60_000,
        "3": 180_000,
        "5": 300_000,
        "15": 900_000,
        "30": 1_800_000,
        "60": 3_600_000,
        "120": 7_200_000,
        "240": 14_400_000,
        "360": 21_600_000,
        "720": 43_200_000,
        "D": 86_400_000,
        "W": 604_800_000,
    }

    def _y_kline(self, req: _Req) -> dict[str, Any]:
        self._y_category(req.params)
        spec = self._y_spec(req.params.get("symbol"))
        interval_ms = self._Y_INTERVALS_MS.get(str(req.params.get("interval")))
        if interval_ms is None:
            raise self._y_error(10001, "params error: interval invalid")
        limit = min(int(req.params.get("limit", 200)), 1000)
        start = int(req.params["start"]) if req.params.get("start") else None
        end = int(req.params["end"]) if req.params.get("end") else None
        price = _fixed(self._prices[spec.symbol], Decimal(spec.price_tick))
        opens = self._candle_opens(interval_ms, start, end, limit)
        # bybit lists candles newest first; flat at the current price (no history in the fake).
        rows = [[str(o), price, price, price, price, "0", "0"] for o in reversed(opens)]
        return {"category": "spot", "symbol": spec.market_id, "list": rows}

    def _y_coin_info(self, req: _Req) -> dict[str, Any]:
        coins = [c for c in self._free if not req.params.get("coin") or c == req.params["coin"]]
        return {
            "rows": [
                {
                    "name": coin,
                    "coin": coin,
                    "remainAmount": "1000000",
                    "chains": [
                        {
                            "chainType": coin,
                            "confirmation": "1",
                            "withdrawFee": "0",
                            "depositMin": "0",
                            "withdrawMin": "0",
                            "chain": coin,
                            "chainDeposit": "1",
                            "chainWithdraw": "1",
                            "minAccuracy": "8",
                            "withdrawPercentageFee": "0",
                            "contractAddress": "",
                            "safeConfirmNumber": "1",
                            "depositLimit": "",
                        }
                    ],
                }
                for coin in coins
            ]
        }

    def _y_query_api(self, req: _Req) -> dict[str, Any]:
        return {
            "id": "1",
            "note": "tradewire-fake",
            "apiKey": self.api_key,
            "readOnly": 0,
            "secret": "",
            "permissions": {"Spot": ["SpotTrade"], "Wallet": ["AccountTransfer"]},
            "ips": ["*"],
            "type": 1,
            "deadlineDay": 90,
            "expiredAt": "",
            "createdAt": "",
            "unified": 0,
            "uta": 1,
            "userID": 365859102,
            "inviterID": 0,
            "vipLevel": "No VIP",
            "mktMakerLevel": "0",
            "affiliateID": 0,
            "rsaPublicKey": "",
            "isMaster": True,
            "parentUid": "0",
        }

    def _y_account_info(self, req: _Req) -> dict[str, Any]:
        return {
            "marginMode": "REGULAR_MARGIN",
            "updatedTime": str(_now_ms()),
            "unifiedMarginStatus": 6,
            "dcpStatus": "OFF",
            "timeWindow": 10,
            "smpGroup": 0,
            "isMasterTrader": False,
            "spotHedgingStatus": "OFF",
        }

    def _y_wallet_balance(self, req: _Req) -> dict[str, Any]:
        account_type = req.params.get("accountType")
        if account_type != "UNIFIED":
            raise self._y_error(10001, "accountType only support UNIFIED.")
        wanted = {c for c in str(req.params.get("coin", "")).split(",") if c}
        coins = []
        for asset in self._free:
            if wanted and asset not in wanted:
                continue
            total = self._free[asset] + self._locked[asset]
            coins.append(
                {
                    "availableToBorrow": "",
                    "bonus": "0",
                    "accruedInterest": "0",
                    # UTA 2.0 no longer fills availableToWithdraw; ccxt derives free = total - used.
                    "availableToWithdraw": "",
                    "totalOrderIM": "0",
                    "equity": _plain(total),
                    "totalPositionMM": "0",
                    "usdValue": _plain(total),
                    "spotHedgingQty": "0",
                    "unrealisedPnl": "0",
                    "collateralSwitch": True,
                    "borrowAmount": "0",
                    "totalPositionIM": "0",
                    "walletBalance": _plain(total),
                    "cumRealisedPnl": "0",
                    "locked": _plain(self._locked[asset]),
                    "marginCollateral": True,
                    "coin": asset,
                }
            )
        return {
            "list": [
                {
                    "totalEquity": "0",
                    "accountIMRate": "0",
                    "totalMarginBalance": "0",
                    "totalInitialMargin": "0",
                    "accountType": "UNIFIED",
                    "totalAvailableBalance": "0",
                    "accountMMRate": "0",
                    "totalPerpUPL": "0",
                    "totalWalletBalance": "0",
                    "accountLTV": "0",
                    "totalMaintenanceMargin": "0",
                    "coin": coins,
                }
            ]
        }

    _Y_REJECTS: dict[str, tuple[int, str]] = {
        # 12141 is what bybit spot answered in a response ccxt recorded in its exceptions map.
        "duplicate": (12141, "Duplicate clientOrderId."),
        "insufficient": (170131, "Insufficient balance."),
        "would_take": (170218, "The LIMIT-MAKER order is rejected due to invalid price."),
        "price_tick": (170134, "Order price has too many decimals."),
        "price_range": (170133, "Order price lower than the minimum."),
        "qty_step": (170137, "Order quantity has too many decimals."),
        "qty_min": (170136, "Order quantity exceeded lower limit."),
        "qty_max": (170135, "Order quantity exceeded upper limit."),
        "notional": (170140, "Order value exceeded lower limit."),
    }

    @staticmethod
    def _y_str(params: dict[str, Any], name: str) -> str:
        value = params.get(name)
        return "" if value is None else str(value)

    def _y_decimal(self, params: dict[str, Any], name: str) -> Decimal | None:
        raw = self._y_str(params, name)
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise self._y_error(10001, f"params error: {name} invalid") from None
        if not value.is_finite() or value <= 0:
            raise self._y_error(10001, f"params error: {name} invalid")
        return value

    def _y_create(self, req: _Req) -> dict[str, Any]:
        p = req.params
        self._y_category(p)
        spec = self._by_id.get(self._y_str(p, "symbol"))
        if spec is None:
            raise self._y_error(170121, "Invalid symbol.")
        side = self._y_str(p, "side")
        order_type = self._y_str(p, "orderType")
        if side not in ("Buy", "Sell"):
            raise self._y_error(10001, "params error: side invalid")
        if order_type not in ("Market", "Limit"):
            raise self._y_error(10001, "params error: orderType invalid")
        if self._y_str(p, "orderFilter") not in ("", "Order"):
            # Conditional (StopOrder / tpslOrder) spot orders are not modelled by the fake.
            raise self._y_error(10001, "params error: orderFilter not served by the fake")
        qty = self._y_decimal(p, "qty")
        if qty is None:
            raise self._y_error(10001, "params error: qty invalid")
        price = self._y_decimal(p, "price")
        tif = self._y_str(p, "timeInForce") or ("IOC" if order_type == "Market" else "GTC")
        if tif not in ("GTC", "IOC", "FOK", "PostOnly"):
            raise self._y_error(10001, "params error: timeInForce invalid")
        link_id = self._y_str(p, "orderLinkId") or f"{_now_ms()}{secrets.randbelow(10**6):06d}"
        market_unit = ""
        amount: Decimal | None = qty
        quote_qty: Decimal | None = None
        if order_type == "Market":
            # Spot market buys are sized in quote coin unless marketUnit says otherwise.
            market_unit = self._y_str(p, "marketUnit") or ("quoteCoin" if side == "Buy" else "baseCoin")
            if market_unit not in ("baseCoin", "quoteCoin"):
                raise self._y_error(10001, "params error: marketUnit invalid")
            if market_unit == "quoteCoin":
                amount, quote_qty = None, qty
        elif price is None:
            raise self._y_error(10001, "params error: price invalid")
        try:
            order = self._place(
                spec,
                side.lower(),
                order_type.lower(),
                client_order_id=link_id,
                amount=amount,
                quote_qty=quote_qty,
                price=price if order_type == "Limit" else None,
                time_in_force="GTC" if tif == "PostOnly" else tif,
                post_only=tif == "PostOnly",
                reject_post_only=False,
                unique_among="all",
                requested_qty=qty,
                market_unit=market_unit,
            )
        except _Reject as reject:
            code, msg = self._Y_REJECTS[reject.kind]
            raise self._y_error(code, msg) from None
        return {"orderId": order.order_id, "orderLinkId": order.client_order_id}

    def _y_order_json(self, order: _Order) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        step, tick = Decimal(spec.amount_step), Decimal(spec.price_tick)
        remaining = order.amount - order.filled if order.status == "open" else Decimal(0)
        avg = order.cost / order.filled if order.filled else Decimal(0)
        tif = "IOC" if order.kind == "market" else "PostOnly" if order.post_only else order.time_in_force
        qty = order.requested_qty if order.requested_qty is not None else order.amount
        leaves_value = remaining * (order.price or self._prices[order.symbol])
        cancel_type = order.cancel_type if order.status in ("canceled", "expired") else "UNKNOWN"
        result: dict[str, Any] = {
            "orderId": order.order_id,
            "orderLinkId": order.client_order_id,
            "blockTradeId": "",
            "symbol": spec.market_id,
            "price": _fixed(order.price, tick) if order.price is not None else "0",
            "qty": _plain(qty),
            "side": order.side.capitalize(),
            "isLeverage": "0",
            "positionIdx": 0,
            "orderStatus": self._exchange_status(order),
            "cancelType": cancel_type,
            "rejectReason": order.reject_reason,
            "avgPrice": _plain(avg) if order.filled else "0",
            "leavesQty": _fixed(remaining, step),
            "leavesValue": _plain(leaves_value),
            "cumExecQty": _fixed(order.filled, step),
            "cumExecValue": _plain(order.cost),
            "cumExecFee": _plain(order.fee),
            "timeInForce": tif,
            "orderType": order.kind.capitalize(),
            "stopOrderType": "",
            "orderIv": "",
            "marketUnit": order.market_unit,
            "triggerPrice": "0",
            "takeProfit": "0",
            "stopLoss": "0",
            "tpTriggerBy": "",
            "slTriggerBy": "",
            "triggerDirection": 0,
            "triggerBy": "",
            "lastPriceOnCreated": _fixed(order.last_price_on_created, tick),
            "reduceOnly": False,
            "closeOnTrigger": False,
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "tpLimitPrice": "",
            "slLimitPrice": "",
            "placeType": "",
            "createdTime": str(order.created_ms),
            "updatedTime": str(order.updated_ms),
        }
        if order.fee > 0:
            result["cumFeeDetail"] = {order.fee_asset: _plain(order.fee)}
        return result

    def _y_matching(self, params: dict[str, Any], orders: list[_Order]) -> tuple[list[_Order], bool]:
        """Filter by symbol / orderId / orderLinkId (empty values count as absent)."""
        symbol, order_id, link_id = (self._y_str(params, k) for k in ("symbol", "orderId", "orderLinkId"))
        if symbol:
            orders = [o for o in orders if self._markets[o.symbol].market_id == symbol]
        if order_id:
            orders = [o for o in orders if o.order_id == order_id]
        if link_id:
            orders = [o for o in orders if o.client_order_id == link_id]
        return orders, bool(order_id or link_id)

    @staticmethod
    def _y_limit(params: dict[str, Any], default: int, maximum: int) -> int:
        raw = params.get("limit")
        return min(int(raw), maximum) if raw not in (None, "") else default

    def _y_realtime(self, req: _Req) -> dict[str, Any]:
        p = req.params
        self._y_category(p)
        orders, by_id = self._y_matching(p, list(self._orders))
        if not by_id:
            # openOnly=0 (default): open orders only; by id the order shows in any status.
            wanted_open = self._y_str(p, "openOnly") in ("", "0")
            orders = [o for o in orders if (o.status == "open") == wanted_open]
        visible = []
        for order in orders:
            if (by_id or order.status == "open") and self._lookup_hidden(order):
                continue
            if by_id:
                self._status_check(order)
            visible.append(order)
        visible.reverse()  # newest first (orders are kept in arrival order)
        limit = self._y_limit(p, 20, 50)
        return {
            "nextPageCursor": "",
            "category": "spot",
            "list": [self._y_order_json(o) for o in visible[:limit]],
        }

    def _y_history(self, req: _Req) -> dict[str, Any]:
        p = req.params
        self._y_category(p)
        # History holds orders in a final state; live ones are served by /v5/order/realtime.
        orders = [o for o in self._orders if o.status != "open"]
        orders, by_id = self._y_matching(p, orders)
        status = self._y_str(p, "orderStatus")
        if status:
            orders = [o for o in orders if self._exchange_status(o) == status]
        orders = self._window(orders, p, lambda o: o.created_ms)
        if by_id:
            orders = [o for o in orders if not self._lookup_hidden(o)]
        orders.reverse()  # newest first
        limit = self._y_limit(p, 20, 50)
        return {
            "nextPageCursor": "",
            "category": "spot",
            "list": [self._y_order_json(o) for o in orders[:limit]],
        }

    def _y_cancel(self, req: _Req) -> dict[str, Any]:
        p = req.params
        self._y_category(p)
        spec = self._by_id.get(self._y_str(p, "symbol"))
        if spec is None:
            raise self._y_error(170121, "Invalid symbol.")
        candidates, by_id = self._y_matching(p, list(self._orders))
        if not by_id:
            raise self._y_error(10001, "params error: orderId or orderLinkId is required")
        order = candidates[-1] if candidates else None
        if order is None or self._lookup_hidden(order) or order.status != "open":
            raise self._y_error(170213, "Order does not exist.")
        self._cancel(order, cancel_type="CancelByUser")
        return {"orderId": order.order_id, "orderLinkId": order.client_order_id}

    def _y_execution_json(self, trade: _Trade) -> dict[str, Any]:
        order = self._orders_by_id[trade.order_id]
        spec = self._markets[trade.symbol]
        step, tick = Decimal(spec.amount_step), Decimal(spec.price_tick)
        price = self._prices[trade.symbol]
        return {
            "symbol": spec.market_id,
            "orderType": order.kind.capitalize(),
            "underlyingPrice": "",
            "orderLinkId": trade.client_order_id,
            "side": trade.side.capitalize(),
            "indexPrice": "",
            "orderId": trade.order_id,
            "stopOrderType": "",
            "leavesQty": _fixed(order.amount - order.filled, step),
            "execTime": str(trade.time_ms),
            "feeCurrency": trade.fee_asset,
            "isMaker": trade.is_maker,
            "execFee": _plain(trade.fee),
            "feeRate": _plain(FEE_RATE),
            "execId": trade.trade_id,
            "tradeIv": "",
            "blockTradeId": "",
            "markPrice": _fixed(price, tick),
            "execPrice": _fixed(trade.price, tick),
            "markIv": "",
            "orderQty": _fixed(order.amount, step),
            "orderPrice": _fixed(order.price, tick) if order.price is not None else "0",
            "execValue": _plain(trade.cost),
            "execType": "Trade",
            "execQty": _fixed(trade.amount, step),
            "closedSize": "",
            "seq": self._trades.index(trade) + 1,
        }

    def _y_executions(self, req: _Req) -> dict[str, Any]:
        p = req.params
        self._y_category(p)
        exec_type = self._y_str(p, "execType")
        trades = list(self._trades) if exec_type in ("", "Trade") else []
        symbol, order_id, link_id = (self._y_str(p, k) for k in ("symbol", "orderId", "orderLinkId"))
        if symbol:
            trades = [t for t in trades if self._markets[t.symbol].market_id == symbol]
        if order_id:
            trades = [t for t in trades if t.order_id == order_id]
        if link_id:
            trades = [t for t in trades if t.client_order_id == link_id]
        trades = self._window(trades, p, lambda t: t.time_ms)
        trades.reverse()  # newest first
        limit = self._y_limit(p, 50, 100)
        return {
            "nextPageCursor": "",
            "category": "spot",
            "list": [self._y_execution_json(t) for t in trades[:limit]],
        }

    # ------------------------------------------------------------------ okx

    def _okx_routes(self) -> dict[tuple[str, str], Callable[[_Req], Any]]:
        return {
            ("GET", "/api/v5/public/time"): lambda req: [{"ts": str(_now_ms())}],
            ("GET", "/api/v5/public/instruments"): self._o_instruments,
            ("GET", "/api/v5/market/ticker"): self._o_ticker,
            ("GET", "/api/v5/market/tickers"): self._o_tickers,
            ("GET", "/api/v5/asset/currencies"): self._o_currencies,
            ("GET", "/api/v5/account/balance"): self._o_balance,
            ("POST", "/api/v5/trade/order"): self._o_create,
            ("POST", "/api/v5/trade/batch-orders"): self._o_batch_create,
            ("POST", "/api/v5/trade/cancel-order"): self._o_cancel,
            ("GET", "/api/v5/trade/order"): self._o_get_order,
            ("GET", "/api/v5/trade/orders-pending"): self._o_pending,
            ("GET", "/api/v5/trade/orders-history"): self._o_history,
            ("GET", "/api/v5/trade/orders-history-archive"): self._o_history,
            ("GET", "/api/v5/trade/fills"): self._o_fills,
            ("GET", "/api/v5/trade/fills-history"): self._o_fills,
        }

    @staticmethod
    def _o_error(code: str, msg: str, status: int = 200, data: Any = None) -> _ApiError:
        # okx: business errors come with HTTP 200, auth errors with 401; code is a string.
        return _ApiError(status, {"code": code, "msg": msg, "data": [] if data is None else data})

    def _okx_auth(self, req: _Req) -> None:
        key = req.headers.get("ok-access-key", "")
        passphrase = req.headers.get("ok-access-passphrase", "")
        stamp = req.headers.get("ok-access-timestamp", "")
        signature = req.headers.get("ok-access-sign", "")
        if not key:
            raise self._o_error("50103", 'Request header "OK-ACCESS-KEY" cannot be empty.', 401)
        if not passphrase:
            raise self._o_error("50104", 'Request header "OK-ACCESS-PASSPHRASE" cannot be empty.', 401)
        if not signature:
            raise self._o_error("50106", 'Request header "OK-ACCESS-SIGN" cannot be empty.', 401)
        if not stamp:
            raise self._o_error("50107", 'Request header "OK-ACCESS-TIMESTAMP" cannot be empty.', 401)
        if key != self.api_key:
            raise self._o_error("50111", "Invalid OK-ACCESS-KEY.", 401)
        try:
            sent = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        except ValueError:
            raise self._o_error("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401) from None
        if abs(time.time() - sent) > 30:
            raise self._o_error("50102", "Timestamp request expired.", 401)
        if passphrase != self.api_password:
            raise self._o_error("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
        request_path = req.path + (f"?{req.raw_query}" if req.raw_query else "")
        payload = stamp + req.method + request_path + (req.body if req.method != "GET" else "")
        digest = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), signature):
            raise self._o_error("50113", "Invalid Sign.", 401)

    def _o_spec(self, inst_id: Any, *, required: bool = True) -> MarketSpec | None:
        if not inst_id:
            if required:
                raise self._o_error("50014", "Parameter instId can not be empty.")
            return None
        spec = self._by_id.get(str(inst_id))
        if spec is None:
            raise self._o_error("51001", f"Instrument ID or Spread ID doesn't exist. ({inst_id})")
        return spec

    def _o_inst_type(self, params: dict[str, Any], *, required: bool) -> None:
        inst_type = params.get("instType")
        if not inst_type:
            if required:
                raise self._o_error("50014", "Parameter instType can not be empty.")
            return
        if inst_type != "SPOT":
            # The real exchange has MARGIN/SWAP/FUTURES/OPTION too; the fake only serves spot.
            raise self._o_error("51000", f"Parameter instType error (the fake serves SPOT only: {inst_type})")

    def _o_instruments(self, req: _Req) -> list[dict[str, Any]]:
        self._o_inst_type(req.params, required=True)
        specs = list(self._markets.values())
        if req.params.get("instId"):
            specs = [self._o_spec(req.params["instId"])]  # type: ignore[list-item]
        return [
            {
                "alias": "",
                "auctionEndTime": "",
                "baseCcy": spec.base,
                "category": "1",
                "ctMult": "",
                "ctType": "",
                "ctVal": "",
                "ctValCcy": "",
                "expTime": "",
                "instFamily": "",
                "instId": self._mid(spec),
                "instType": "SPOT",
                "lever": "",  # no margin trading on the fake's markets
                "listTime": "1606468572000",
                "lotSz": spec.amount_step,
                "maxIcebergSz": _plain(_MAX_QTY),
                "maxLmtAmt": _plain(_MAX_NOTIONAL),
                "maxLmtSz": _plain(_MAX_QTY),
                "maxMktAmt": _plain(_MAX_NOTIONAL),
                "maxMktSz": _plain(_MAX_NOTIONAL),
                "maxStopSz": _plain(_MAX_QTY),
                "maxTriggerSz": _plain(_MAX_QTY),
                "maxTwapSz": _plain(_MAX_QTY),
                "minSz": spec.min_qty,
                "optType": "",
                "quoteCcy": spec.quote,
                "ruleType": "normal",
                "settleCcy": "",
                "state": "live",
                "stk": "",
                "tickSz": spec.price_tick,
                "uly": "",
            }
            for spec in specs
        ]

    def _o_ticker_json(self, spec: MarketSpec) -> dict[str, str]:
        price, ticker = self._prices[spec.symbol], self._tickers[spec.symbol]
        return {
            "instType": "SPOT",
            "instId": self._mid(spec),
            "last": _plain(price),
            "lastSz": _plain(ticker.last_qty),
            "askPx": _plain(price),
            "askSz": "1",
            "bidPx": _plain(price),
            "bidSz": "1",
            "open24h": _plain(ticker.open),
            "high24h": _plain(ticker.high),
            "low24h": _plain(ticker.low),
            "volCcy24h": _plain(ticker.quote_volume),
            "vol24h": _plain(ticker.volume),
            "ts": str(_now_ms()),
            "sodUtc0": _plain(ticker.open),
            "sodUtc8": _plain(ticker.open),
        }

    def _o_ticker(self, req: _Req) -> list[dict[str, str]]:
        spec = self._o_spec(req.params.get("instId"))
        assert spec is not None
        return [self._o_ticker_json(spec)]

    def _o_tickers(self, req: _Req) -> list[dict[str, str]]:
        self._o_inst_type(req.params, required=True)
        return [self._o_ticker_json(spec) for spec in self._markets.values()]

    def _o_currencies(self, req: _Req) -> list[dict[str, Any]]:
        wanted = {c for c in str(req.params.get("ccy", "")).split(",") if c}
        return [
            {
                "ccy": asset,
                "chain": f"{asset}-{asset}",
                "name": asset,
                "canDep": True,
                "canWd": True,
                "canInternal": True,
                "minDep": "0.00000001",
                "minWd": "0.0001",
                "maxWd": "1000000",
                "wdTickSz": "8",
                "fee": "0",
                "minFee": "0",
                "maxFee": "0",
                "mainNet": True,
            }
            for asset in self._free
            if not wanted or asset in wanted
        ]

    def _o_balance(self, req: _Req) -> list[dict[str, Any]]:
        wanted = {c for c in str(req.params.get("ccy", "")).split(",") if c}
        now = str(_now_ms())
        details = []
        for asset in self._free:
            total = self._free[asset] + self._locked[asset]
            if (wanted and asset not in wanted) or (not wanted and total == 0):
                continue
            details.append(
                {
                    "ccy": asset,
                    "eq": _plain(total),
                    "cashBal": _plain(total),
                    "availBal": _plain(self._free[asset]),
                    "frozenBal": _plain(self._locked[asset]),
                    "ordFrozen": _plain(self._locked[asset]),
                    "availEq": "",  # spot mode: only margin modes report availEq
                    "disEq": _plain(total),
                    "eqUsd": _plain(total),
                    "fixedBal": "0",
                    "liab": "",
                    "upl": "",
                    "interest": "",
                    "spotInUseAmt": "",
                    "uTime": now,
                }
            )
        return [
            {
                "adjEq": "",
                "details": details,
                "imr": "",
                "isoEq": "0",
                "mgnRatio": "",
                "mmr": "",
                "notionalUsd": "",
                "ordFroz": "",
                "totalEq": "0",
                "uTime": now,
                "upl": "",
            }
        ]

    _O_REJECTS: dict[str, tuple[str, str]] = {
        "duplicate": ("51016", "Duplicated clOrdId"),
        "insufficient": ("51008", "Order failed. Insufficient balance."),
        "would_take": ("51124", "You can only place limit orders after Call Auction has started."),
        "price_tick": ("51000", "Parameter px error"),
        "price_range": ("51137", "The highest price limit for buy orders is exceeded."),
        "qty_step": ("51121", "Order quantity must be a multiple of the lot size."),
        "qty_min": ("51020", "Your order should meet or exceed the minimum order amount."),
        "qty_max": ("51202", "Market order amount exceeds the maximum amount."),
        "notional": ("51020", "Your order should meet or exceed the minimum order amount."),
    }
    _O_CLORDID_CHARS = frozenset(string.ascii_letters + string.digits)

    def _o_batch_create(self, req: _Req) -> Any:
        try:
            entries = json.loads(req.body or "[]")
        except ValueError:
            raise self._o_error("50000", "Body can not be empty.") from None
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise self._o_error("51000", "Parameter body error")
        return self._o_create_many(entries)

    def _o_create(self, req: _Req) -> Any:
        return self._o_create_many([req.params])

    def _o_create_many(self, entries: list[dict[str, Any]]) -> Any:
        results = [self._o_place(entry) for entry in entries]
        failed = sum(1 for r in results if r["sCode"] != "0")
        if not failed:
            return results
        code, msg = (
            ("1", "All operations failed")
            if failed == len(results)
            else ("2", "Batch operation partially succeeded")
        )
        now = str(_now_ms())
        return _Resp(200, {"code": code, "msg": msg, "data": results, "inTime": now, "outTime": now})

    def _o_place(self, p: dict[str, Any]) -> dict[str, Any]:
        """One order of a create request: the data entry with sCode/sMsg."""
        cid = "" if p.get("clOrdId") is None else str(p.get("clOrdId"))
        result = {"clOrdId": cid, "ordId": "", "tag": str(p.get("tag") or ""), "ts": str(_now_ms())}

        def failed(code: str, msg: str) -> dict[str, Any]:
            return {**result, "sCode": code, "sMsg": msg}

        spec = self._by_id.get(str(p.get("instId") or ""))
        if spec is None:
            return failed("51001", "Instrument ID or Spread ID doesn't exist.")
        if cid and (len(cid) > 32 or not set(cid) <= self._O_CLORDID_CHARS):
            # okx: case-sensitive alphanumerics, 1-32 characters.
            return failed("51000", "Parameter clOrdId error")
        side, ord_type = str(p.get("side") or ""), str(p.get("ordType") or "")
        if side not in ("buy", "sell"):
            return failed("51000", "Parameter side error")
        if ord_type not in ("market", "limit", "post_only", "ioc", "fok"):
            # optimal_limit_ioc, mmp, rpi ... are not modelled by the fake.
            return failed("51000", "Parameter ordType error")
        if str(p.get("tdMode") or "") != "cash":
            return failed("51000", "Parameter tdMode error (the fake serves cash spot trading only)")
        try:
            size = Decimal(str(p.get("sz")))
            price = Decimal(str(p["px"])) if p.get("px") not in (None, "") else None
        except InvalidOperation:
            return failed("51000", "Parameter sz error")
        if not size.is_finite() or size <= 0:
            return failed("51000", "Parameter sz error")
        if ord_type != "market" and (price is None or not price.is_finite() or price <= 0):
            return failed("51000", "Parameter px error")
        tgt = str(p.get("tgtCcy") or ("quote_ccy" if ord_type == "market" and side == "buy" else "base_ccy"))
        quote_sized = ord_type == "market" and side == "buy" and tgt == "quote_ccy"
        try:
            order = self._place(
                spec,
                side,
                "market" if ord_type == "market" else "limit",
                client_order_id=cid,
                amount=None if quote_sized else size,
                quote_qty=size if quote_sized else None,
                price=price if ord_type != "market" else None,
                time_in_force={"ioc": "IOC", "fok": "FOK"}.get(ord_type, "GTC"),
                post_only=ord_type == "post_only",
                # okx cancels a crossing post_only order at once (state canceled), like bybit.
                reject_post_only=False,
                unique_among="open",
                requested_qty=size,
                market_unit=tgt if ord_type == "market" else "",
            )
        except _Reject as reject:
            return failed(*self._O_REJECTS[reject.kind])
        return {**result, "ordId": order.order_id, "sCode": "0", "sMsg": "Order placed"}

    def _o_order_json(self, order: _Order) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        trades = [t for t in self._trades if t.order_id == order.order_id]
        last = trades[-1] if trades else None
        kind = order.kind
        if kind == "limit":
            kind = (
                "post_only"
                if order.post_only
                else {"IOC": "ioc", "FOK": "fok"}.get(order.time_in_force, "limit")
            )
        quote_sized = order.market_unit == "quote_ccy"
        size = order.requested_qty if order.requested_qty is not None else order.amount
        return {
            "accFillSz": _plain(order.filled),
            "algoClOrdId": "",
            "algoId": "",
            "attachAlgoClOrdId": "",
            "attachAlgoOrds": [],
            "avgPx": _plain(order.cost / order.filled) if order.filled else "",
            "cTime": str(order.created_ms),
            "cancelSource": "1" if order.status == "canceled" and order.cancel_type == "CancelByUser" else "",
            "cancelSourceReason": "",
            "category": "normal",
            "ccy": "",
            "clOrdId": order.client_order_id,
            "fee": _plain(-order.fee),
            "feeCcy": order.fee_asset or (spec.base if order.side == "buy" else spec.quote),
            "fillPx": _plain(last.price) if last else "",
            "fillSz": _plain(last.amount) if last else "",
            "fillTime": str(last.time_ms) if last else "",
            "instId": self._mid(spec),
            "instType": "SPOT",
            "isTpLimit": "false",
            "lever": "",
            "linkedAlgoOrd": {"algoId": ""},
            "ordId": order.order_id,
            "ordType": kind,
            "pnl": "0",
            "posSide": "net",
            "px": _plain(order.price) if order.price is not None else "",
            "pxType": "",
            "pxUsd": "",
            "pxVol": "",
            "quickMgnType": "",
            "rebate": "0",
            "rebateCcy": spec.quote if order.side == "buy" else spec.base,
            "reduceOnly": "false",
            "side": order.side,
            "slOrdPx": "",
            "slTriggerPx": "",
            "slTriggerPxType": "",
            "source": "",
            "state": self._exchange_status(order),
            "stpId": "",
            "stpMode": "cancel_maker",
            "sz": _plain(size),
            "tag": "",
            "tdMode": "cash",
            "tgtCcy": order.market_unit if quote_sized else "",
            "tpOrdPx": "",
            "tpTriggerPx": "",
            "tpTriggerPxType": "",
            "tradeId": last.trade_id if last else "",
            "tradeQuoteCcy": spec.quote,
            "uTime": str(order.updated_ms),
        }

    def _o_find(self, params: dict[str, Any]) -> _Order | None:
        spec = self._o_spec(params.get("instId"))
        order_id, cid = params.get("ordId"), params.get("clOrdId")
        if not order_id and not cid:
            raise self._o_error("51003", "Either client order ID or order ID is required.")
        for order in reversed(self._orders):
            if spec is not None and order.symbol != spec.symbol:
                continue
            # okx: ordId wins when both are sent.
            if (order.order_id == str(order_id)) if order_id else (order.client_order_id == str(cid)):
                return order
        return None

    def _o_get_order(self, req: _Req) -> list[dict[str, Any]]:
        order = self._o_find(req.params)
        if order is None or self._lookup_hidden(order):
            raise self._o_error("51603", "Order does not exist")
        self._status_check(order)
        return [self._o_order_json(order)]

    def _o_cancel(self, req: _Req) -> Any:
        p = req.params
        order = self._o_find(p)
        now = str(_now_ms())
        if order is None or self._lookup_hidden(order) or order.status != "open":
            entry = {
                "clOrdId": str(p.get("clOrdId") or ""),
                "ordId": str(p.get("ordId") or ""),
                "sCode": "51400",
                "sMsg": "Order cancellation failed as the order has been filled, canceled or does not exist.",
                "ts": now,
            }
            body = {
                "code": "1",
                "msg": "All operations failed",
                "data": [entry],
                "inTime": now,
                "outTime": now,
            }
            return _Resp(200, body)
        self._cancel(order, cancel_type="CancelByUser")
        return [
            {"clOrdId": order.client_order_id, "ordId": order.order_id, "sCode": "0", "sMsg": "", "ts": now}
        ]

    def _o_limit(self, params: dict[str, Any]) -> int:
        raw = params.get("limit")
        return min(int(raw), 100) if raw not in (None, "") else 100

    def _o_filtered(self, orders: list[_Order], params: dict[str, Any]) -> list[_Order]:
        spec = self._o_spec(params.get("instId"), required=False)
        if spec is not None:
            orders = [o for o in orders if o.symbol == spec.symbol]
        if params.get("ordType"):
            orders = [
                o for o in orders if self._o_order_json(o)["ordType"] in str(params["ordType"]).split(",")
            ]
        if params.get("state"):
            orders = [o for o in orders if self._exchange_status(o) == params["state"]]
        if params.get("begin"):
            orders = [o for o in orders if o.updated_ms >= int(params["begin"])]
        if params.get("end"):
            orders = [o for o in orders if o.updated_ms <= int(params["end"])]
        return orders

    def _o_pending(self, req: _Req) -> list[dict[str, Any]]:
        self._o_inst_type(req.params, required=False)
        orders = [o for o in self._orders if o.status == "open"]
        orders = [o for o in self._o_filtered(orders, req.params) if not self._lookup_hidden(o)]
        orders.reverse()  # newest first
        return [self._o_order_json(o) for o in orders[: self._o_limit(req.params)]]

    def _o_history(self, req: _Req) -> list[dict[str, Any]]:
        self._o_inst_type(req.params, required=True)
        orders = self._o_filtered([o for o in self._orders if o.status != "open"], req.params)
        orders.sort(key=lambda o: o.updated_ms, reverse=True)  # newest update first (stable)
        return [self._o_order_json(o) for o in orders[: self._o_limit(req.params)]]

    def _o_fill_json(self, trade: _Trade) -> dict[str, Any]:
        spec = self._markets[trade.symbol]
        return {
            "billId": trade.trade_id,
            "clOrdId": trade.client_order_id,
            "execType": "M" if trade.is_maker else "T",
            "fee": _plain(-trade.fee),
            "feeCcy": trade.fee_asset,
            "feeRate": _plain(-FEE_RATE),
            "fillIdxPx": "",
            "fillMarkPx": "",
            "fillMarkVol": "",
            "fillPnl": "0",
            "fillPx": _plain(trade.price),
            "fillPxUsd": "",
            "fillPxVol": "",
            "fillSz": _plain(trade.amount),
            "fillTime": str(trade.time_ms),
            "instId": self._mid(spec),
            "instType": "SPOT",
            "ordId": trade.order_id,
            "posSide": "net",
            "side": trade.side,
            "subType": "1" if trade.side == "buy" else "2",
            "tag": "",
            "tradeId": trade.trade_id,
            "tradeQuoteCcy": spec.quote,
            "ts": str(trade.time_ms),
        }

    def _o_fills(self, req: _Req) -> list[dict[str, Any]]:
        p = req.params
        self._o_inst_type(p, required=req.path.endswith("fills-history"))
        spec = self._o_spec(p.get("instId"), required=False)
        trades = [t for t in self._trades if spec is None or t.symbol == spec.symbol]
        if p.get("ordId"):
            trades = [t for t in trades if t.order_id == str(p["ordId"])]
        if p.get("begin"):
            trades = [t for t in trades if t.time_ms >= int(p["begin"])]
        if p.get("end"):
            trades = [t for t in trades if t.time_ms <= int(p["end"])]
        trades.reverse()  # newest first
        return [self._o_fill_json(t) for t in trades[: self._o_limit(p)]]

    # ------------------------------------------------------------------ mexc

    def _mexc_routes(self) -> dict[tuple[str, str], Callable[[_Req], Any]]:
        return {
            ("GET", "/api/v3/ping"): lambda req: {},
            ("GET", "/api/v3/time"): lambda req: {"serverTime": _now_ms()},
            ("GET", "/api/v3/exchangeInfo"): self._m_exchange_info,
            # ccxt's load_markets always loads the futures contracts too (no option skips it).
            ("GET", "/api/v1/contract/detail"): lambda req: {"success": True, "code": 0, "data": []},
            ("GET", "/api/v3/ticker/24hr"): self._m_ticker_24hr,
            ("GET", "/api/v3/ticker/price"): self._m_ticker_price,
            ("GET", "/api/v3/capital/config/getall"): self._m_currencies,
            ("GET", "/api/v3/account"): self._m_account,
            ("POST", "/api/v3/order"): self._m_new_order,
            ("GET", "/api/v3/order"): self._m_get_order,
            ("DELETE", "/api/v3/order"): self._m_cancel_order,
            ("GET", "/api/v3/openOrders"): self._m_open_orders,
            ("GET", "/api/v3/allOrders"): self._m_all_orders,
            ("GET", "/api/v3/myTrades"): self._m_my_trades,
        }

    @staticmethod
    def _m_error(code: int, msg: str, status: int = 400) -> _ApiError:
        return _ApiError(status, {"code": code, "msg": msg})

    def _mexc_auth(self, req: _Req) -> None:
        key = req.headers.get("x-mexc-apikey")
        if not key or key != self.api_key:
            # ccxt maps 10072 to BadRequest (not AuthenticationError).
            raise self._m_error(10072, "Api key info invalid")
        signature = req.params.get("signature")
        if not req.params.get("timestamp"):
            raise self._m_error(
                700004, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            )
        if not signature:
            raise self._m_error(700002, "Signature for this request is not valid.")
        # mexc signs the query string (ccxt sends every param there, for POST/DELETE too) + the body.
        unsigned = "".join(
            "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))
            for raw in (req.raw_query, req.body)
        )
        if not hmac.compare_digest(self._sign(unsigned), str(signature)):
            raise self._m_error(700002, "Signature for this request is not valid.")
        now, stamp = _now_ms(), int(req.params["timestamp"])
        window = int(req.params.get("recvWindow", 5000))
        if window > 60000:
            raise self._m_error(700005, "recvWindow must less than 60000")
        if stamp > now + 1000 or now - stamp > window:
            raise self._m_error(700003, "Timestamp for this request is outside of the recvWindow.")

    def _m_spec(self, market_id: Any) -> MarketSpec:
        if not market_id:
            raise self._m_error(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        spec = self._by_id.get(str(market_id))
        if spec is None:
            raise self._m_error(-1121, "Invalid symbol.")
        return spec

    def _m_exchange_info(self, req: _Req) -> dict[str, Any]:
        specs = list(self._markets.values())
        if req.params.get("symbol"):
            specs = [self._m_spec(req.params["symbol"])]
        return {
            "timezone": "CST",
            "serverTime": _now_ms(),
            "rateLimits": [],
            "exchangeFilters": [],
            "symbols": [
                {
                    "symbol": spec.market_id,
                    "status": "1",  # 1 online, 2 paused, 3 offline
                    "baseAsset": spec.base,
                    # Precisions are numbers of decimals (the fake's steps are powers of ten).
                    "baseAssetPrecision": _places(Decimal(spec.amount_step)),
                    "quoteAsset": spec.quote,
                    "quotePrecision": _places(Decimal(spec.price_tick)),
                    "quoteAssetPrecision": _places(Decimal(spec.price_tick)),
                    "baseCommissionPrecision": _places(Decimal(spec.amount_step)),
                    "quoteCommissionPrecision": _places(Decimal(spec.price_tick)),
                    "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "quoteAmountPrecision": spec.min_notional,
                    "baseSizePrecision": spec.min_qty,
                    "permissions": ["SPOT"],
                    "filters": [],
                    "maxQuoteAmount": _plain(_MAX_NOTIONAL),
                    "makerCommission": _plain(FEE_RATE),
                    "takerCommission": _plain(FEE_RATE),
                    "quoteAmountPrecisionMarket": spec.min_notional,
                    "maxQuoteAmountMarket": _plain(_MAX_NOTIONAL),
                    "fullName": spec.base,
                    "tradeSideType": 1,
                }
                for spec in specs
            ],
        }

    def _m_ticker_json(self, spec: MarketSpec) -> dict[str, Any]:
        price, ticker = self._prices[spec.symbol], self._tickers[spec.symbol]
        change = price - ticker.open
        now = _now_ms()
        return {
            "symbol": spec.market_id,
            "priceChange": _plain(change),
            "priceChangePercent": _plain((change / ticker.open).quantize(Decimal("0.0001")))
            if ticker.open
            else "0",
            "prevClosePrice": _plain(ticker.open),
            "lastPrice": _plain(price),
            "bidPrice": _plain(price),
            "bidQty": "1",
            "askPrice": _plain(price),
            "askQty": "1",
            "openPrice": _plain(ticker.open),
            "highPrice": _plain(ticker.high),
            "lowPrice": _plain(ticker.low),
            "volume": _plain(ticker.volume),
            "quoteVolume": _plain(ticker.quote_volume),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "count": None,
        }

    def _m_ticker_24hr(self, req: _Req) -> Any:
        if req.params.get("symbol"):
            return self._m_ticker_json(self._m_spec(req.params["symbol"]))
        return [self._m_ticker_json(spec) for spec in self._markets.values()]

    def _m_ticker_price(self, req: _Req) -> Any:
        def one(spec: MarketSpec) -> dict[str, str]:
            return {"symbol": spec.market_id, "price": _plain(self._prices[spec.symbol])}

        if req.params.get("symbol"):
            return one(self._m_spec(req.params["symbol"]))
        return [one(spec) for spec in self._markets.values()]

    def _m_currencies(self, req: _Req) -> list[dict[str, Any]]:
        return [
            {
                "coin": asset,
                "name": asset,
                "networkList": [
                    {
                        "coin": asset,
                        "depositEnable": True,
                        "withdrawEnable": True,
                        "name": asset,
                        "network": asset,
                        "netWork": asset,
                        "withdrawFee": "0",
                        "withdrawMin": "0.0001",
                        "withdrawMax": "1000000",
                        "minConfirm": 1,
                        "contract": "",
                    }
                ],
            }
            for asset in self._free
        ]

    def _m_account(self, req: _Req) -> dict[str, Any]:
        balances = [
            {"asset": asset, "free": _plain(self._free[asset]), "locked": _plain(self._locked[asset])}
            for asset in self._free
            if self._free[asset] or self._locked[asset]
        ]
        return {
            "makerCommission": None,
            "takerCommission": None,
            "buyerCommission": None,
            "sellerCommission": None,
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": None,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
        }

    _M_REJECTS: dict[str, tuple[int, str]] = {
        # Unverified against the live API: binance's wording, which mexc's v3 mostly copies.
        "duplicate": (-2010, "Duplicate order sent."),
        "insufficient": (30004, "Insufficient position"),
        "would_take": (30041, "current order type can not place order"),
        "price_tick": (30087, "Order price exceeds allowed range"),
        "price_range": (30087, "Order price exceeds allowed range"),
        "qty_step": (10096, "amount decimal places is too long"),
        "qty_min": (30002, "The minimum transaction volume cannot be less than the limit"),
        "qty_max": (30003, "The maximum transaction volume cannot be greater than the limit"),
        "notional": (30002, "The minimum transaction volume cannot be less than the limit"),
    }

    def _m_decimal(self, params: dict[str, Any], name: str) -> Decimal | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value <= 0:
            raise self._m_error(700008, f"Illegal characters found in parameter '{name}'")
        return value

    def _m_new_order(self, req: _Req) -> dict[str, Any]:
        p = req.params
        spec = self._m_spec(p.get("symbol"))
        side = str(p.get("side") or "").upper()
        order_type = str(p.get("type") or "").upper()
        if side not in ("BUY", "SELL"):
            raise self._m_error(
                700004, "Mandatory parameter 'side' was not sent, was empty/null, or malformed."
            )
        types = ("LIMIT", "MARKET", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")
        if order_type not in types:
            raise self._m_error(-1128, "Combination of optional parameters invalid.")
        quantity = self._m_decimal(p, "quantity")
        quote_qty = self._m_decimal(p, "quoteOrderQty")
        price = self._m_decimal(p, "price")
        is_market = order_type == "MARKET"
        if not is_market and (quantity is None or price is None):
            raise self._m_error(-1128, "Combination of optional parameters invalid.")
        if is_market and quantity is None and quote_qty is None:
            raise self._m_error(-1128, "Combination of optional parameters invalid.")
        cid = str(p.get("newClientOrderId") or "")
        try:
            order = self._place(
                spec,
                side.lower(),
                "market" if is_market else "limit",
                client_order_id=cid,
                amount=quantity if not is_market or quote_qty is None else None,
                quote_qty=quote_qty if is_market and quantity is None else None,
                price=price if not is_market else None,
                time_in_force={"IMMEDIATE_OR_CANCEL": "IOC", "FILL_OR_KILL": "FOK"}.get(order_type, "GTC"),
                post_only=order_type == "LIMIT_MAKER",
                reject_post_only=False,
                # Unverified: modelled like binance (a client id is refused only while its order is open).
                unique_among="open" if cid else "none",
                market_unit=order_type,
            )
        except _Reject as reject:
            code, msg = self._M_REJECTS[reject.kind]
            raise self._m_error(code, msg) from None
        # mexc answers a create with ids and the request's own numbers only (no status, no clientOrderId).
        return {
            "symbol": spec.market_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "price": _plain(order.price) if order.price is not None else _plain(Decimal(0)),
            "origQty": _plain(quantity) if quantity is not None else "",
            "type": order_type,
            "side": side,
            "transactTime": order.created_ms,
        }

    def _m_order_json(self, order: _Order) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        return {
            "symbol": spec.market_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_order_id or None,
            "price": _plain(order.price) if order.price is not None else "0",
            "origQty": _plain(order.amount),
            "executedQty": _plain(order.filled),
            "cummulativeQuoteQty": _plain(order.cost),
            "status": self._exchange_status(order),
            "timeInForce": None,
            "type": order.market_unit or ("MARKET" if order.kind == "market" else "LIMIT"),
            "side": order.side.upper(),
            "stopPrice": None,
            "icebergQty": None,
            "time": order.created_ms,
            "updateTime": order.updated_ms,
            "isWorking": True,
            "origQuoteOrderQty": _plain(order.quote_order_qty) if order.quote_order_qty is not None else "0",
        }

    def _m_find(self, params: dict[str, Any]) -> _Order | None:
        spec = self._m_spec(params.get("symbol"))
        order_id, cid = params.get("orderId"), params.get("origClientOrderId")
        if not order_id and not cid:
            raise self._m_error(
                700004, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null"
            )
        for order in reversed(self._orders):
            if order.symbol != spec.symbol:
                continue
            if order_id and order.order_id != str(order_id):
                continue
            if cid and order.client_order_id != str(cid):
                continue
            return order
        return None

    def _m_get_order(self, req: _Req) -> dict[str, Any]:
        order = self._m_find(req.params)
        if order is None or self._lookup_hidden(order):
            # ccxt has no mapping for -2013: it raises a plain ExchangeError.
            raise self._m_error(-2013, "Order does not exist.")
        self._status_check(order)
        return self._m_order_json(order)

    def _m_cancel_order(self, req: _Req) -> dict[str, Any]:
        order = self._m_find(req.params)
        if order is None or self._lookup_hidden(order) or order.status != "open":
            # ccxt maps -2011 to BadRequest (not OrderNotFound).
            raise self._m_error(-2011, "Unknown order sent.")
        self._cancel(order, cancel_type="CancelByUser")
        return self._m_order_json(order)

    def _m_open_orders(self, req: _Req) -> list[dict[str, Any]]:
        spec = self._m_spec(req.params.get("symbol"))  # mexc: symbol is mandatory here
        orders = [o for o in self._orders if o.status == "open" and o.symbol == spec.symbol]
        orders = [o for o in orders if not self._lookup_hidden(o)]
        return [self._m_order_json(o) for o in orders]

    def _m_all_orders(self, req: _Req) -> list[dict[str, Any]]:
        # mexc ignores unknown params such as the 'states' ccxt sends from fetch_closed_orders.
        spec = self._m_spec(req.params.get("symbol"))
        limit = min(int(req.params.get("limit") or 500), 1000)
        orders = self._window(
            [o for o in self._orders if o.symbol == spec.symbol], req.params, lambda o: o.created_ms
        )
        return [self._m_order_json(o) for o in orders[-limit:]]

    def _m_my_trades(self, req: _Req) -> list[dict[str, Any]]:
        spec = self._m_spec(req.params.get("symbol"))
        limit = min(int(req.params.get("limit") or 100), 1000)
        trades = [t for t in self._trades if t.symbol == spec.symbol]
        if req.params.get("orderId"):
            trades = [t for t in trades if t.order_id == str(req.params["orderId"])]
        trades = self._window(trades, req.params, lambda t: t.time_ms)[-limit:]
        return [
            {
                "symbol": spec.market_id,
                "id": t.trade_id,
                "orderId": t.order_id,
                "orderListId": -1,
                "price": _plain(t.price),
                "qty": _plain(t.amount),
                "quoteQty": _plain(t.cost),
                "commission": _plain(t.fee),
                "commissionAsset": t.fee_asset,
                "time": t.time_ms,
                "isBuyer": t.side == "buy",
                "isMaker": t.is_maker,
                "isBestMatch": True,
                "isSelfTrade": False,
                "clientOrderId": t.client_order_id or None,
            }
            for t in trades
        ]

    # ------------------------------------------------------------------ coinbase

    def _coinbase_routes(self) -> dict[tuple[str, str], Callable[[_Req], Any]]:
        return {
            ("GET", "/v2/time"): self._c_v2_time,
            ("GET", "/api/v3/brokerage/time"): self._c_time,
            ("GET", "/v2/currencies"): self._c_fiat_currencies,
            ("GET", "/v2/currencies/crypto"): self._c_crypto_currencies,
            ("GET", "/v2/exchange-rates"): self._c_exchange_rates,
            ("GET", "/api/v3/brokerage/market/products"): self._c_products,
            ("GET", "/api/v3/brokerage/products"): self._c_products,
            ("GET", "/api/v3/brokerage/market/products/{product_id}/ticker"): self._c_ticker,
            ("GET", "/api/v3/brokerage/products/{product_id}/ticker"): self._c_ticker,
            ("GET", "/api/v3/brokerage/transaction_summary"): self._c_transaction_summary,
            ("GET", "/api/v3/brokerage/accounts"): self._c_accounts,
            ("POST", "/api/v3/brokerage/orders"): self._c_create,
            ("POST", "/api/v3/brokerage/orders/batch_cancel"): self._c_batch_cancel,
            ("GET", "/api/v3/brokerage/orders/historical/batch"): self._c_list_orders,
            ("GET", "/api/v3/brokerage/orders/historical/fills"): self._c_fills,
            ("GET", "/api/v3/brokerage/orders/historical/{order_id}"): self._c_get_order,
        }

    @staticmethod
    def _c_route(method: str, path: str) -> tuple[tuple[str, str], dict[str, str]]:
        """Map a concrete coinbase path onto its templated route (and the path parameters)."""
        parts = path.split("/")
        historical = path.startswith("/api/v3/brokerage/orders/historical/") and len(parts) == 7
        if historical and parts[6] not in ("batch", "fills"):
            return (method, "/api/v3/brokerage/orders/historical/{order_id}"), {"order_id": parts[6]}
        products = path.startswith(("/api/v3/brokerage/market/products/", "/api/v3/brokerage/products/"))
        if products and parts[-1] == "ticker":
            return (method, "/".join([*parts[:-2], "{product_id}", "ticker"])), {"product_id": parts[-2]}
        return (method, path), {}

    @staticmethod
    def _c_error_body(error: str, message: str) -> dict[str, Any]:
        return {"error": error, "message": message, "error_details": message}

    @classmethod
    def _c_error(cls, status: int, error: str, message: str) -> _ApiError:
        return _ApiError(status, cls._c_error_body(error, message))

    def _coinbase_auth(self, req: _Req) -> None:
        """CDP keys: ``Authorization: Bearer <ES256 JWT>`` signed with the key's EC private key."""
        import jwt
        from cryptography.hazmat.primitives import serialization

        unauthorized = _ApiError(401, "Unauthorized")  # coinbase answers text/plain "Unauthorized"
        header = req.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            raise unauthorized
        token = header.removeprefix("Bearer ")
        try:
            head = jwt.get_unverified_header(token)
            key = serialization.load_pem_private_key(self.api_secret.encode(), password=None)
            claims = jwt.decode(
                token,
                key.public_key(),  # type: ignore[arg-type]
                algorithms=["ES256"],
                audience=["retail_rest_api_proxy", "cdp_service"],
                options={"require": ["exp", "nbf", "sub", "iss"]},
                leeway=5,
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            raise unauthorized from None
        if head.get("kid") != self.api_key or claims.get("sub") != self.api_key:
            raise unauthorized
        # "uri": "<METHOD> <host><path>" (ccxt strips only https://, so a plain-http URL keeps it).
        uri = str(claims.get("uri") or next(iter(claims.get("uris") or []), ""))
        method, _, target = uri.partition(" ")
        target = target.removeprefix("http://").removeprefix("https://")
        if method != req.method or not target.endswith(req.path) or "/" not in target:
            raise unauthorized

    @staticmethod
    def _c_iso(ms: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}000Z"

    def _c_v2_time(self, req: _Req) -> dict[str, Any]:
        now = _now_ms()
        return {"data": {"iso": self._c_iso(now)[:19] + "Z", "epoch": now // 1000}}

    def _c_time(self, req: _Req) -> dict[str, Any]:
        now = _now_ms()
        return {"iso": self._c_iso(now), "epochSeconds": str(now // 1000), "epochMillis": str(now)}

    _C_FIAT = ("USD", "EUR", "GBP")

    def _c_fiat_currencies(self, req: _Req) -> dict[str, Any]:
        return {"data": [{"id": code, "name": code, "min_size": "0.01"} for code in self._C_FIAT]}

    def _c_crypto_currencies(self, req: _Req) -> dict[str, Any]:
        return {
            "data": [
                {
                    "asset_id": str(uuid.uuid5(uuid.NAMESPACE_URL, asset)),
                    "code": asset,
                    "name": asset,
                    "color": "#000000",
                    "sort_index": index,
                    "exponent": 8,
                    "type": "crypto",
                    "address_regex": "",
                }
                for index, asset in enumerate(self._free)
                if asset not in self._C_FIAT
            ]
        }

    def _c_exchange_rates(self, req: _Req) -> dict[str, Any]:
        rates = {asset: "1" for asset in self._free}
        for spec in self._markets.values():
            if spec.quote in ("USD", "USDC") and self._prices[spec.symbol]:
                rates[spec.base] = _plain(1 / self._prices[spec.symbol])
        return {"data": {"currency": req.params.get("currency", "USD"), "rates": rates}}

    def _c_product_json(self, spec: MarketSpec) -> dict[str, Any]:
        price, ticker = self._prices[spec.symbol], self._tickers[spec.symbol]
        pct = (price - ticker.open) / ticker.open * 100 if ticker.open else Decimal(0)
        return {
            "product_id": self._mid(spec),
            "price": _plain(price),
            "price_percentage_change_24h": _plain(pct.quantize(Decimal("0.0001"))),
            "volume_24h": _plain(ticker.volume),
            "volume_percentage_change_24h": "0",
            "base_increment": spec.amount_step,
            "quote_increment": spec.price_tick,
            "quote_min_size": spec.min_notional,
            "quote_max_size": _plain(_MAX_NOTIONAL),
            "base_min_size": spec.min_qty,
            "base_max_size": _plain(_MAX_QTY),
            "base_name": spec.base,
            "quote_name": spec.quote,
            "watched": False,
            "is_disabled": False,
            "new": False,
            "status": "online",
            "cancel_only": False,
            "limit_only": False,
            "post_only": False,
            "trading_disabled": False,
            "auction_mode": False,
            "product_type": "SPOT",
            "quote_currency_id": spec.quote,
            "base_currency_id": spec.base,
            "fcm_trading_session_details": None,
            "mid_market_price": "",
            "alias": "",
            "alias_to": [],
            "base_display_symbol": spec.base,
            "quote_display_symbol": spec.quote,
            "view_only": False,
            "price_increment": spec.price_tick,
            "display_name": f"{spec.base}/{spec.quote}",
            "product_venue": "CBE",
            "approximate_quote_24h_volume": _plain(ticker.quote_volume),
        }

    def _c_products(self, req: _Req) -> dict[str, Any]:
        product_type = str(req.params.get("product_type") or "SPOT")
        specs = list(self._markets.values()) if product_type == "SPOT" else []  # no futures on the fake
        wanted = [v for k, v in parse_qsl(req.raw_query) if k == "product_ids"]
        if wanted:
            specs = [s for s in specs if self._mid(s) in wanted]
        return {"products": [self._c_product_json(s) for s in specs], "num_products": len(specs)}

    def _c_spec(self, product_id: Any) -> MarketSpec:
        spec = self._by_id.get(str(product_id or ""))
        if spec is None:
            raise self._c_error(404, "NOT_FOUND", "ProductID is invalid")
        return spec

    def _c_ticker(self, req: _Req) -> dict[str, Any]:
        spec = self._c_spec(req.params.get("product_id"))
        price, tick = self._prices[spec.symbol], Decimal(spec.price_tick)
        trades = [t for t in self._trades if t.symbol == spec.symbol][-int(req.params.get("limit") or 1) :]
        now = _now_ms()
        last = [
            {
                "trade_id": str(next(self._book_ids)),
                "product_id": self._mid(spec),
                "price": _plain(price),
                "size": _plain(trades[-1].amount) if trades else "0",
                "time": self._c_iso(trades[-1].time_ms if trades else now),
                "side": "BUY",
                "exchange": "CBE",
            }
        ]
        return {"trades": last, "best_bid": _fixed(price, tick), "best_ask": _fixed(price, tick)}

    def _c_transaction_summary(self, req: _Req) -> dict[str, Any]:
        volume = sum((t.cost for t in self._trades), Decimal(0))
        fees = sum((t.fee for t in self._trades), Decimal(0))
        return {
            "total_volume": float(volume),
            "total_fees": float(fees),
            "fee_tier": {
                "pricing_tier": "Advanced 1",
                "usd_from": "0",
                "usd_to": "10000",
                "taker_fee_rate": _plain(FEE_RATE),
                "maker_fee_rate": _plain(FEE_RATE),
                "aop_from": "",
                "aop_to": "",
            },
            "margin_rate": None,
            "goods_and_services_tax": None,
            "advanced_trade_only_volume": float(volume),
            "advanced_trade_only_fees": float(fees),
            "coinbase_pro_volume": 0,
            "coinbase_pro_fees": 0,
        }

    def _c_accounts(self, req: _Req) -> dict[str, Any]:
        now = self._c_iso(_now_ms())
        accounts = [
            {
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{self.api_key}/{asset}")),
                "name": f"{asset} Wallet",
                "currency": asset,
                "available_balance": {"value": _plain(self._free[asset]), "currency": asset},
                "default": True,
                "active": True,
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
                "type": "ACCOUNT_TYPE_FIAT" if asset in self._C_FIAT else "ACCOUNT_TYPE_CRYPTO",
                "ready": True,
                "hold": {"value": _plain(self._locked[asset]), "currency": asset},
                "retail_portfolio_id": "00000000-0000-4000-8000-000000000000",
                "platform": "ACCOUNT_PLATFORM_CONSUMER",
            }
            for asset in self._free
        ]
        return {"accounts": accounts, "has_next": False, "cursor": "", "size": len(accounts)}

    _C_REJECTS: dict[str, tuple[str, str, str]] = {
        # error, preview_failure_reason (what ccxt maps), message
        "insufficient": (
            "INSUFFICIENT_FUND",
            "PREVIEW_INSUFFICIENT_FUND",
            "Insufficient balance in source account",
        ),
        "would_take": (
            "INVALID_LIMIT_PRICE_POST_ONLY",
            "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
            "Post-only order would cross",
        ),
        "price_tick": (
            "INVALID_PRICE_PRECISION",
            "PREVIEW_INVALID_PRICE_PRECISION",
            "Price precision is invalid",
        ),
        "price_range": ("INVALID_LIMIT_PRICE", "PREVIEW_INVALID_LIMIT_PRICE", "Limit price is invalid"),
        "qty_step": ("INVALID_SIZE_PRECISION", "PREVIEW_INVALID_SIZE_PRECISION", "Size precision is invalid"),
        "qty_min": ("INVALID_ORDER_SIZE", "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL", "Order size is too small"),
        "qty_max": ("INVALID_ORDER_SIZE", "PREVIEW_INVALID_BASE_SIZE_TOO_LARGE", "Order size is too large"),
        "notional": ("INVALID_ORDER_SIZE", "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL", "Order size is too small"),
    }

    def _c_create(self, req: _Req) -> dict[str, Any]:
        p = req.params
        raw_config = p.get("order_configuration")
        config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
        cid = str(p.get("client_order_id") or "")
        side = str(p.get("side") or "")

        def failed(error: str, preview: str, message: str) -> dict[str, Any]:
            return {
                "success": False,
                "failure_reason": "UNKNOWN_FAILURE_REASON",
                "order_id": "",
                "error_response": {
                    "error": error,
                    "message": message,
                    "error_details": "",
                    "preview_failure_reason": preview,
                    "new_order_failure_reason": error,
                },
                "order_configuration": config,
            }

        if not cid:
            raise self._c_error(400, "INVALID_ARGUMENT", "client_order_id is required")
        spec = self._by_id.get(str(p.get("product_id") or ""))
        if spec is None:
            return failed("UNKNOWN_FAILURE_REASON", "PREVIEW_INVALID_PRODUCT_ID", "ProductID is invalid")
        if side not in ("BUY", "SELL"):
            raise self._c_error(400, "INVALID_ARGUMENT", "invalid side")
        existing = self._latest(cid)
        if existing is not None:
            # coinbase: a reused client_order_id creates nothing; the order with that id is returned.
            return self._c_create_ok(existing, config)
        kinds = {
            "market_market_ioc": ("market", "IOC"),
            "limit_limit_gtc": ("limit", "GTC"),
            "sor_limit_ioc": ("limit", "IOC"),
            "limit_limit_fok": ("limit", "FOK"),
        }
        if len(config) != 1 or next(iter(config)) not in kinds:
            # GTD, stop-limit, bracket, TWAP ... are not modelled by the fake.
            return failed(
                "UNSUPPORTED_ORDER_CONFIGURATION",
                "PREVIEW_INVALID_ORDER_CONFIG",
                "unsupported order configuration",
            )
        name = next(iter(config))
        kind, tif = kinds[name]
        body = config[name] if isinstance(config[name], dict) else {}
        try:
            base_size = Decimal(str(body["base_size"])) if body.get("base_size") else None
            quote_size = Decimal(str(body["quote_size"])) if body.get("quote_size") else None
            limit_price = Decimal(str(body["limit_price"])) if body.get("limit_price") else None
        except InvalidOperation:
            raise self._c_error(400, "INVALID_ARGUMENT", "invalid number") from None
        if kind == "limit" and (base_size is None or limit_price is None):
            raise self._c_error(400, "INVALID_ARGUMENT", "base_size and limit_price are required")
        if kind == "market" and (base_size is None) == (quote_size is None):
            raise self._c_error(
                400, "INVALID_ARGUMENT", "exactly one of base_size and quote_size is required"
            )
        if quote_size is not None and side == "SELL":
            raise self._c_error(400, "INVALID_ARGUMENT", "quote_size is for market buys only in the fake")
        try:
            order = self._place(
                spec,
                side.lower(),
                kind,
                client_order_id=cid,
                amount=base_size,
                quote_qty=quote_size,
                price=limit_price,
                time_in_force=tif,
                post_only=bool(body.get("post_only")),
                reject_post_only=True,
                unique_among="all",
                market_unit="quote" if quote_size is not None else "base",
                requested_qty=quote_size if quote_size is not None else base_size,
            )
        except _Reject as reject:
            return failed(*self._C_REJECTS[reject.kind])
        return self._c_create_ok(order, config)

    def _c_create_ok(self, order: _Order, config: dict[str, Any]) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        return {
            "success": True,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": order.order_id,
            "success_response": {
                "order_id": order.order_id,
                "product_id": self._mid(spec),
                "side": order.side.upper(),
                "client_order_id": order.client_order_id,
            },
            "order_configuration": config,
        }

    def _c_config(self, order: _Order) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        step = Decimal(spec.amount_step)
        if order.kind == "market":
            if order.market_unit == "quote" and order.requested_qty is not None:
                return {"market_market_ioc": {"quote_size": _plain(order.requested_qty)}}
            return {"market_market_ioc": {"base_size": _fixed(order.amount, step)}}
        body: dict[str, Any] = {
            "base_size": _fixed(order.amount, step),
            "limit_price": _plain(order.price or Decimal(0)),
        }
        if order.time_in_force == "IOC":
            return {"sor_limit_ioc": body}
        if order.time_in_force == "FOK":
            return {"limit_limit_fok": body}
        return {"limit_limit_gtc": {**body, "post_only": order.post_only}}

    def _c_order_json(self, order: _Order) -> dict[str, Any]:
        spec = self._markets[order.symbol]
        fills = [t for t in self._trades if t.order_id == order.order_id]
        tif = {"IOC": "IMMEDIATE_OR_CANCEL", "FOK": "FILL_OR_KILL"}.get(
            order.time_in_force, "GOOD_UNTIL_CANCELLED"
        )
        pct = order.filled / order.amount * 100 if order.amount else Decimal(0)
        return {
            "order_id": order.order_id,
            "product_id": self._mid(spec),
            "user_id": "00000000-0000-4000-8000-000000000001",
            "order_configuration": self._c_config(order),
            "side": order.side.upper(),
            "client_order_id": order.client_order_id,
            "status": self._exchange_status(order),
            "time_in_force": "IMMEDIATE_OR_CANCEL" if order.kind == "market" else tif,
            "created_time": self._c_iso(order.created_ms),
            "completion_percentage": _plain(pct.quantize(Decimal("0.01"))),
            "filled_size": _plain(order.filled),
            "average_filled_price": _plain(order.cost / order.filled) if order.filled else "0",
            "fee": "",
            "number_of_fills": str(len(fills)),
            "filled_value": _plain(order.cost),
            "pending_cancel": False,
            "size_in_quote": order.market_unit == "quote",
            "total_fees": _plain(order.fee),
            "size_inclusive_of_fees": False,
            "total_value_after_fees": _plain(
                order.cost + order.fee if order.side == "buy" else order.cost - order.fee
            ),
            "trigger_status": "INVALID_ORDER_TYPE",
            "order_type": order.kind.upper(),
            "reject_reason": "REJECT_REASON_UNSPECIFIED",
            "settled": order.status != "open",
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": "User requested cancel" if order.status == "canceled" else "",
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": _plain(order.reserved),
            "is_liquidation": False,
            "last_fill_time": self._c_iso(fills[-1].time_ms) if fills else None,
            "edit_history": [],
            "leverage": "",
            "margin_type": "UNKNOWN_MARGIN_TYPE",
            "retail_portfolio_id": "00000000-0000-4000-8000-000000000000",
        }

    def _c_get_order(self, req: _Req) -> dict[str, Any]:
        order = self._orders_by_id.get(str(req.params.get("order_id") or ""))
        if order is None or self._lookup_hidden(order):
            # ccxt has no mapping for this answer: it raises a plain ExchangeError.
            message = "order with this orderID was not found"
            raise _ApiError(404, {"error": "NOT_FOUND", "error_details": message, "message": message})
        self._status_check(order)
        return {"order": self._c_order_json(order)}

    def _c_list_orders(self, req: _Req) -> dict[str, Any]:
        multi = parse_qsl(req.raw_query)
        statuses = [v for k, v in multi if k == "order_status"]
        products = [v for k, v in multi if k == "product_ids"] + [v for k, v in multi if k == "product_id"]
        order_ids = [v for k, v in multi if k == "order_ids"]
        orders = list(self._orders)
        if statuses:
            orders = [o for o in orders if self._exchange_status(o) in statuses]
        if products:
            orders = [o for o in orders if self._mid(self._markets[o.symbol]) in products]
        if order_ids:
            orders = [o for o in orders if o.order_id in order_ids]
        orders = [o for o in orders if not (o.status == "open" and self._lookup_hidden(o))]
        orders.reverse()  # newest first
        limit = int(req.params.get("limit") or 100)
        return {
            "orders": [self._c_order_json(o) for o in orders[:limit]],
            "sequence": "0",
            "has_next": False,
            "cursor": "",
        }

    def _c_batch_cancel(self, req: _Req) -> dict[str, Any]:
        ids = req.params.get("order_ids")
        if not isinstance(ids, list) or not ids:
            raise self._c_error(400, "INVALID_ARGUMENT", "order_ids is required")
        results = []
        for order_id in ids:
            order = self._orders_by_id.get(str(order_id))
            if order is None or self._lookup_hidden(order) or order.status != "open":
                # ccxt raises BadRequest for any unsuccessful cancel.
                results.append(
                    {"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": str(order_id)}
                )
                continue
            self._cancel(order, cancel_type="CancelByUser")
            results.append(
                {
                    "success": True,
                    "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON",
                    "order_id": order.order_id,
                }
            )
        return {"results": results}

    def _c_fills(self, req: _Req) -> dict[str, Any]:
        multi = parse_qsl(req.raw_query)
        order_ids = [v for k, v in multi if k in ("order_id", "order_ids")]
        products = [v for k, v in multi if k in ("product_id", "product_ids")]
        trades = list(self._trades)
        if order_ids:
            trades = [t for t in trades if t.order_id in order_ids]
        if products:
            trades = [t for t in trades if self._mid(self._markets[t.symbol]) in products]
        trades.reverse()  # newest first
        limit = int(req.params.get("limit") or 100)
        return {
            "fills": [
                {
                    "entry_id": t.trade_id,
                    "trade_id": t.trade_id,
                    "order_id": t.order_id,
                    "trade_time": self._c_iso(t.time_ms),
                    "trade_type": "FILL",
                    "price": _plain(t.price),
                    "size": _plain(t.amount),
                    "commission": _plain(t.fee),
                    "product_id": self._mid(self._markets[t.symbol]),
                    "sequence_timestamp": self._c_iso(t.time_ms),
                    "liquidity_indicator": "MAKER" if t.is_maker else "TAKER",
                    "size_in_quote": False,
                    "user_id": "00000000-0000-4000-8000-000000000001",
                    "side": t.side.upper(),
                    "retail_portfolio_id": "00000000-0000-4000-8000-000000000000",
                }
                for t in trades[:limit]
            ],
            "cursor": "",
        }


# ---------------------------------------------------------------------- WebSocket transport

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_CONTINUATION, _OP_TEXT, _OP_BINARY = 0x0, 0x1, 0x2
_OP_CLOSE, _OP_PING, _OP_PONG = 0x8, 0x9, 0xA
_ws_logger = logging.getLogger("uvicorn.error")


class _ClientGone(ConnectionError):
    """The WebSocket peer is gone (Starlette turns an OSError from send into WebSocketDisconnect)."""


def _ws_frame(opcode: int, payload: bytes = b"") -> bytes:
    """One final, unmasked (server-to-client) frame."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
    return header + payload


def _ws_unmask(payload: bytes, mask: bytes) -> bytes:
    size = len(payload)
    if not size:
        return payload
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(size, "big")


class _WebSocketProtocol(asyncio.Protocol):
    """Server side of RFC 6455 for uvicorn's ``ws=`` setting, speaking ASGI to the app.

    uvicorn hands over the connection after the HTTP upgrade request (replayed through
    ``data_received``).  Supported: text/binary messages (fragmented too), ping/pong (answers
    pings; sends its own every ``ws_ping_interval`` and closes with 1011 when no pong arrives
    within ``ws_ping_timeout``), the close handshake, close before accept (HTTP 403).  No
    extensions: a permessage-deflate offer is declined by not answering it, so frames are never
    compressed.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app = config.loaded_app
        self.app_state = app_state
        self.loop = _loop or asyncio.get_event_loop()
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.transport: asyncio.Transport | None = None
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.buffer = bytearray()
        self.scope: dict[str, Any] = {}
        self.key = ""
        self.handshake_seen = False
        self.accepted = False
        self.rejected = False
        self.close_sent = False
        self.disconnected = False  # the app has been told (or will be, via the queue)
        self.message: bytearray | None = None  # fragments of the message being received
        self.message_opcode = _OP_TEXT
        self.ping_timer: asyncio.TimerHandle | None = None
        self.pong_timer: asyncio.TimerHandle | None = None
        self.close_timer: asyncio.TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        for timer in (self.ping_timer, self.pong_timer, self.close_timer):
            if timer is not None:
                timer.cancel()
        self._tell_app_disconnect(1006, "")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.handshake_seen:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self._reject_http(431, "Request Header Fields Too Large")
                return
            head = bytes(self.buffer[:end])
            del self.buffer[: end + 4]
            self.handshake_seen = True
            self._handshake(head)
        elif self.accepted:
            self._parse_frames()

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def shutdown(self) -> None:
        """Called by ``uvicorn.Server.shutdown``: going away."""
        if self.accepted:
            self._close(1012, "service restart")
        if self.transport is not None:
            self.transport.close()

    # handshake

    def _handshake(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        method, target, *_ = [*lines[0].split(" "), "", ""]
        headers: list[tuple[bytes, bytes]] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower().encode("latin-1"), value.strip().encode("latin-1")))
        by_name = dict(headers)
        self.key = by_name.get(b"sec-websocket-key", b"").decode("latin-1")
        if (
            method != "GET"
            or not self.key
            or by_name.get(b"sec-websocket-version") != b"13"
            or b"websocket" not in by_name.get(b"upgrade", b"").lower()
        ):
            self._reject_http(400, "Bad WebSocket handshake")
            return
        assert self.transport is not None
        raw_path, _, query = target.partition("?")
        offered = by_name.get(b"sec-websocket-protocol", b"").decode("latin-1")
        server, client = self.transport.get_extra_info("sockname"), self.transport.get_extra_info("peername")
        self.scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "ws",
            "server": tuple(server[:2]) if server else None,
            "client": tuple(client[:2]) if client else None,
            "root_path": "",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "headers": headers,
            "subprotocols": [p.strip() for p in offered.split(",") if p.strip()],
            "state": self.app_state.copy(),
            # The app may reach the socket (FakeExchange.drop_streams(abort=True)).
            "extensions": {"tradewire.transport": self.transport},
        }
        self.incoming.put_nowait({"type": "websocket.connect"})
        task = self.loop.create_task(self._run_asgi())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _reject_http(self, status: int, body: str) -> None:
        self.rejected = True
        data = body.encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
            "content-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(data)}\r\nconnection: close\r\n\r\n"
        )
        self._write(head.encode("latin-1") + data)
        if self.transport is not None:
            self.transport.close()

    # ASGI

    async def _run_asgi(self) -> None:
        try:
            await self.app(self.scope, self._receive, self._send)
        except _ClientGone:
            pass
        except Exception:
            _ws_logger.exception("Exception in ASGI application")
            if not self.accepted and not self.rejected:
                self._reject_http(500, "Internal Server Error")
            else:
                self._close(1011, "internal error")
            return
        if not self.accepted and not self.rejected:
            self._reject_http(500, "Internal Server Error")
        elif self.accepted:
            self._close(1000, "")

    async def _receive(self) -> dict[str, Any]:
        return await self.incoming.get()

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if not self.accepted:
            if self.rejected or self.disconnected:
                raise _ClientGone("the WebSocket peer is gone")
            if kind == "websocket.accept":
                # RFC 6455 fixes SHA-1 for the accept token (not a security use).
                digest = hashlib.sha1((self.key + _WS_GUID).encode(), usedforsecurity=False).digest()
                accept = base64.b64encode(digest).decode()
                lines = [
                    "HTTP/1.1 101 Switching Protocols",
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    f"Sec-WebSocket-Accept: {accept}",
                ]
                if message.get("subprotocol"):
                    lines.append(f"Sec-WebSocket-Protocol: {message['subprotocol']}")
                extra = message.get("headers", [])
                lines += [f"{n.decode('latin-1')}: {v.decode('latin-1')}" for n, v in extra]
                self._write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
                self.accepted = True
                self._schedule_ping()
                if self.buffer:
                    self._parse_frames()
            elif kind == "websocket.close":
                # Closing before accepting refuses the handshake, like uvicorn does.
                self._reject_http(403, "")
                self._tell_app_disconnect(1006, "")
            else:
                raise RuntimeError(f"Expected 'websocket.accept' or 'websocket.close', got {kind!r}")
            return
        if self.close_sent or self.transport is None or self.transport.is_closing():
            raise _ClientGone("the WebSocket connection is closed")
        if kind == "websocket.send":
            if message.get("bytes") is not None:
                self._write(_ws_frame(_OP_BINARY, message["bytes"]))
            else:
                self._write(_ws_frame(_OP_TEXT, str(message.get("text", "")).encode()))
        elif kind == "websocket.close":
            self._close(int(message.get("code") or 1000), str(message.get("reason") or ""))
        else:
            raise RuntimeError(f"Expected 'websocket.send' or 'websocket.close', got {kind!r}")

    # frames

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _parse_frames(self) -> None:
        buf = self.buffer
        while self.transport is not None and not self.transport.is_closing() and len(buf) >= 2:
            first, second = buf[0], buf[1]
            size, offset = second & 0x7F, 2
            if size == 126:
                if len(buf) < 4:
                    return
                size, offset = struct.unpack_from("!H", buf, 2)[0], 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size, offset = struct.unpack_from("!Q", buf, 2)[0], 10
            if first & 0x70 or not second & 0x80:
                # RSV bits without a negotiated extension, or an unmasked client frame.
                self._fail(1002, "protocol error")
                return
            if size > self.config.ws_max_size:
                self._fail(1009, "message too big")
                return
            if len(buf) < offset + 4 + size:
                return
            mask = bytes(buf[offset : offset + 4])
            payload = _ws_unmask(bytes(buf[offset + 4 : offset + 4 + size]), mask)
            del buf[: offset + 4 + size]
            self._frame(bool(first & 0x80), first & 0x0F, payload)

    def _frame(self, fin: bool, opcode: int, payload: bytes) -> None:
        if opcode >= _OP_CLOSE:
            if not fin or len(payload) > 125:
                self._fail(1002, "protocol error")
            elif opcode == _OP_CLOSE:
                self._peer_closed(payload)
            elif opcode == _OP_PING:
                self._write(_ws_frame(_OP_PONG, payload))
            elif opcode == _OP_PONG:
                if self.pong_timer is not None:
                    self.pong_timer.cancel()
                    self.pong_timer = None
            else:
                self._fail(1002, "protocol error")
            return
        if opcode == _OP_CONTINUATION and self.message is not None:
            self.message += payload
        elif opcode in (_OP_TEXT, _OP_BINARY) and self.message is None:
            self.message, self.message_opcode = bytearray(payload), opcode
        else:
            self._fail(1002, "protocol error")
            return
        if len(self.message) > self.config.ws_max_size:
            self._fail(1009, "message too big")
            return
        if not fin:
            return
        data, self.message = bytes(self.message), None
        if self.close_sent:
            return
        if self.message_opcode == _OP_BINARY:
            self.incoming.put_nowait({"type": "websocket.receive", "bytes": data})
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(1007, "invalid UTF-8")
            return
        self.incoming.put_nowait({"type": "websocket.receive", "text": text})

    def _peer_closed(self, payload: bytes) -> None:
        if self.close_sent:
            # The peer's answer to our close frame: the closing handshake is complete.
            if self.transport is not None:
                self.transport.close()
            return
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        self.close_sent = True
        self._write(_ws_frame(_OP_CLOSE, payload[:2]))  # echo the status code
        self._tell_app_disconnect(code, payload[2:].decode("utf-8", errors="replace"))
        if self.transport is not None:
            self.transport.close()

    def _close(self, code: int, reason: str) -> None:
        """Start the closing handshake; the transport closes on the peer's answer or after 1 s."""
        if self.close_sent or self.transport is None or self.transport.is_closing():
            return
        self.close_sent = True
        self._write(_ws_frame(_OP_CLOSE, struct.pack("!H", code) + reason.encode()[:123]))
        self._tell_app_disconnect(code, reason)
        self.close_timer = self.loop.call_later(1.0, self.transport.close)

    def _fail(self, code: int, reason: str) -> None:
        self._close(code, reason)
        if self.transport is not None:
            self.transport.close()

    def _tell_app_disconnect(self, code: int, reason: str) -> None:
        if not self.disconnected:
            self.disconnected = True
            self.incoming.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})

    # keepalive

    def _schedule_ping(self) -> None:
        interval = self.config.ws_ping_interval
        if interval and interval > 0:
            self.ping_timer = self.loop.call_later(interval, self._ping)

    def _ping(self) -> None:
        self.ping_timer = None
        if self.close_sent or self.transport is None or self.transport.is_closing():
            return
        self._write(_ws_frame(_OP_PING))  # Binance pings with an empty payload
        timeout = self.config.ws_ping_timeout
        if timeout and self.pong_timer is None:
            self.pong_timer = self.loop.call_later(timeout, self._pong_missed)
        self._schedule_ping()

    def _pong_missed(self) -> None:
        self.pong_timer = None
        self._fail(1011, "keepalive ping timeout")
