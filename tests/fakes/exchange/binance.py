"""Binance spot: ``/api/v3`` REST, and the user-data stream over the WebSocket API.

Endpoints: exchangeInfo, time, ping, ticker/24hr, ticker/price, ticker/bookTicker, depth, klines,
account, order (POST/GET/DELETE), openOrders (GET/DELETE), allOrders, myTrades.  Signed endpoints
need ``X-MBX-APIKEY`` plus ``timestamp`` and an HMAC ``signature`` (verified).  Response shapes
follow the recorded responses in ``shared/data/ccxt/binance_spot_response_excerpt.json``: decimals
are 8-dp strings and, like that recording, integer ids/timestamps are also strings (the live API
sends JSON integers; ccxt parses both the same way).  Commission is always in the quote asset
(binance says so in ``commissionAsset``).  A client order id is refused only while its order is
open.  Every 5xx means "execution status unknown"; the edge in front is CloudFront.

The user-data stream is in :mod:`tests.fakes.exchange.binance_stream`.  MEXC's v3 API copies this
one; :mod:`tests.fakes.exchange.mexc` builds on these classes.
"""

from __future__ import annotations

import hmac
import json
import secrets
import string
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from starlette.routing import BaseRoute, WebSocketRoute

from tests.fakes.exchange.book import (
    FEE_RATE,
    MAX_NOTIONAL,
    MAX_PRICE,
    MAX_QTY,
    Book,
    MarketSpec,
    Order,
    Reject,
    Trade,
)
from tests.fakes.exchange.formats import candle_opens, d8, now_ms, window
from tests.fakes.exchange.scenarios import Scenarios
from tests.fakes.exchange.server import ApiError, Edge, Req, Resp
from tests.fakes.exchange.venue import (
    Credentials,
    Endpoints,
    Handler,
    RouteKey,
    Venue,
    delete,
    get,
    numbered,
    post,
    spot_only,
    wording,
)
from tests.fakes.exchange.websocket import WebSocketProtocol

# Hosts ccxt uses in urls['api']; every key is redirected so that no request can leave the box.
API_PATHS = {
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
# urls['api']['ws'] of ccxt.pro.binance; only the spot WebSocket API (user-data stream) and the spot
# market-data streams' <symbol>@trade (binance_trades.py) are served,
# the others point at paths the fake refuses (403 on the handshake) so nothing leaves the box.
WS_PATHS: dict[str, str] = {
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
WS_API_PATHS: dict[str, str] = {
    "spot": "/ws-api/v3",
    "linear": "/ws-fapi/v1",
    "inverse": "/ws-dapi/v1",
}
REJECTS: dict[str, tuple[int, str]] = {
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
INTERVALS_MS: dict[str, int] = {
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


def error(code: int, msg: str, status: int = 400) -> ApiError:
    return ApiError(status, {"code": code, "msg": msg})


def mandatory(name: str) -> ApiError:
    return error(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def client_id() -> str:
    """A client id as binance makes one up when the request names none."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(22))


def order_type(order: Order) -> str:
    if order.kind == "market":
        return "MARKET"
    return "LIMIT_MAKER" if order.post_only else "LIMIT"


def unsigned_payload(req: Req) -> str:
    """What binance and mexc sign: the query string followed by the body, both without the signature."""
    return "".join(
        "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))
        for raw in (req.raw_query, req.body)
    )


def check_window(stamp: int, window_ms: float) -> None:
    now = now_ms()
    if stamp > now + 1000:
        raise error(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now - stamp > window_ms:
        raise error(-1021, "Timestamp for this request is outside of the recvWindow.")


class Binance(Venue):
    flavor = "binance"
    host = "api.binance.com"
    edge: ClassVar[Edge] = "cloudfront"
    server_errors: ClassVar[dict[int, dict[str, Any]]] = {
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
    }
    create_paths = ("/api/v3/order",)
    create_cid_param = "newClientOrderId"
    private_paths: ClassVar[frozenset[str]] = frozenset(
        {"/api/v3/account", "/api/v3/order", "/api/v3/openOrders", "/api/v3/allOrders", "/api/v3/myTrades"}
    )
    streams_user_data: ClassVar[bool] = True
    statuses = wording(
        open=("NEW", "PARTIALLY_FILLED"), closed="FILLED", canceled="CANCELED", expired="EXPIRED"
    )
    order_id = trade_id = staticmethod(numbered())

    def __init__(self, book: Book, scenarios: Scenarios, credentials: Credentials) -> None:
        super().__init__(book, scenarios, credentials)
        if self.streams_user_data:
            # Imported here: the stream module uses this module's helpers.
            from tests.fakes.exchange.binance_stream import UserDataStream
            from tests.fakes.exchange.binance_trades import TradeStream

            self.stream = UserDataStream(self)
            self.trade_stream = TradeStream(self)

    def make_routes(self) -> dict[RouteKey, Handler]:
        return {**BinanceMarket(self).routes(), **BinanceAccount(self).routes()}

    def is_private(self, path: str) -> bool:
        return path in self.private_paths

    def authenticate(self, req: Req) -> None:
        key = req.headers.get("x-mbx-apikey")
        if not key:
            raise error(-2014, "API-key format invalid.", 401)
        if key != self.api_key:
            raise error(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if not req.params.get("timestamp"):
            raise mandatory("timestamp")
        signature = req.params.get("signature")
        if not signature:
            raise mandatory("signature")
        if not hmac.compare_digest(self.sign(unsigned_payload(req)), str(signature)):
            raise error(-1022, "Signature for this request is not valid.")
        try:
            stamp = int(req.params["timestamp"])
            window_ms = int(req.params.get("recvWindow", 5000))
        except ValueError:
            raise error(-1100, "Illegal characters found in parameter 'timestamp'.") from None
        check_window(stamp, window_ms)

    def ok(self, result: Any) -> Resp:
        return Resp(200, result, {"X-MBX-USED-WEIGHT-1M": "1"})

    def malformed(self) -> Resp:
        return Resp(400, {"code": -1100, "msg": "Illegal characters found in a parameter."})

    def client_error_body(self, status: int) -> str:
        if status == 429:
            msg = (
                "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute."
                " Please use WebSocket Streams for live updates to avoid polling the API."
            )
            return json.dumps({"code": -1003, "msg": msg})
        if status == 418:
            msg = (
                f"Way too many requests; IP(127.0.0.1) banned until {now_ms() + 120_000}."
                " Please use WebSocket Streams for live updates to avoid bans."
            )
            return json.dumps({"code": -1003, "msg": msg})
        return json.dumps({"code": -1000, "msg": "An unknown error occurred while processing the request."})

    def spec(self, market_id: Any) -> MarketSpec:
        if not market_id:
            raise mandatory("symbol")
        spec = self.by_id.get(str(market_id))
        if spec is None:
            raise error(-1121, "Invalid symbol.")
        return spec

    def decimal(self, params: dict[str, Any], name: str) -> Decimal | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        try:
            value: Decimal | None = Decimal(str(raw))
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value < 0:
            raise error(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
            )
        return value

    def ccxt_urls(self, base_url: str) -> dict[str, Any]:
        return {key: base_url + path for key, path in API_PATHS.items()}

    def ccxt_options(self) -> dict[str, Any]:
        return {
            **spot_only(),  # only GET /api/v3/exchangeInfo
            # Otherwise load_markets calls sapi capital/config/getall.
            "fetchCurrencies": False,
            # Otherwise load_markets (with keys) calls sapi margin/allPairs + isolated pairs.
            "fetchMargins": False,
            # Allow fetch_open_orders() without a symbol (ccxt raises a warning error otherwise).
            "fetchOpenOrders": {"warnWithoutSymbol": False},
        }

    def ccxt_ws_urls(self, base_url: Callable[[], str]) -> dict[str, Any]:
        if self.stream is None:
            return super().ccxt_ws_urls(base_url)
        ws_base = "ws" + base_url().removeprefix("http")
        urls: dict[str, Any] = {key: ws_base + path for key, path in WS_PATHS.items()}
        urls["ws-api"] = {key: ws_base + path for key, path in WS_API_PATHS.items()}
        return urls

    def websocket_routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = []
        if self.stream is not None:
            routes.append(WebSocketRoute(WS_API_PATHS["spot"], self.stream.endpoint))
        if self.trade_stream is not None:
            # ccxt numbers its market-data connections: /ws/0, /ws/1...
            routes.append(WebSocketRoute(WS_PATHS["spot"] + "/{number:int}", self.trade_stream.endpoint))
        return routes

    def websocket_protocol(self) -> Any:
        return "none" if self.stream is None else WebSocketProtocol


def symbol_info(spec: MarketSpec) -> dict[str, Any]:
    """A market in exchangeInfo; only filters the fake enforces are advertised (so ccxt's limits
    mean what they say)."""
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
                "minPrice": d8(Decimal(spec.price_tick)),
                "maxPrice": d8(MAX_PRICE),
                "tickSize": d8(Decimal(spec.price_tick)),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": d8(Decimal(spec.min_qty)),
                "maxQty": d8(MAX_QTY),
                "stepSize": d8(Decimal(spec.amount_step)),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": d8(Decimal(spec.min_notional)),
                "applyMinToMarket": True,
                "maxNotional": d8(MAX_NOTIONAL),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


class BinanceMarket(Endpoints[Binance]):
    """Public market data; MEXC's variant overrides the shapes that differ."""

    timezone: ClassVar[str] = "UTC"
    rate_limits: ClassVar[list[dict[str, Any]]] = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
    ]
    symbol_info = staticmethod(symbol_info)

    @staticmethod
    @get("/api/v3/ping")
    def ping(req: Req) -> dict[str, Any]:
        return {}

    @staticmethod
    @get("/api/v3/time")
    def time(req: Req) -> dict[str, Any]:
        return {"serverTime": now_ms()}

    def selected(self, req: Req) -> list[MarketSpec] | MarketSpec:
        """``symbol`` (one answer), ``symbols`` (a JSON list) or every market."""
        if req.params.get("symbol"):
            return self.venue.spec(req.params["symbol"])
        if req.params.get("symbols"):
            return [self.venue.spec(mid) for mid in json.loads(req.params["symbols"])]
        return list(self.book.markets.values())

    def per_market(self, req: Req, render: Any) -> Any:
        selected = self.selected(req)
        return render(selected) if isinstance(selected, MarketSpec) else [render(s) for s in selected]

    @get("/api/v3/exchangeInfo")
    def exchange_info(self, req: Req) -> dict[str, Any]:
        selected = self.selected(req)
        wanted = [selected] if isinstance(selected, MarketSpec) else selected
        return {
            "timezone": self.timezone,
            "serverTime": now_ms(),
            "rateLimits": self.rate_limits,
            "exchangeFilters": [],
            "symbols": [self.symbol_info(spec) for spec in wanted],
        }

    def ticker_json(self, spec: MarketSpec) -> dict[str, Any]:
        price = self.book.prices[spec.symbol]
        ticker = self.book.tickers[spec.symbol]
        change = price - ticker.open
        percent = (change / ticker.open * 100) if ticker.open else Decimal(0)
        vwap = ticker.quote_volume / ticker.volume if ticker.volume else price
        now = now_ms()
        return {
            "symbol": spec.market_id,
            "priceChange": d8(change),
            "priceChangePercent": f"{percent:.3f}",
            "weightedAvgPrice": d8(vwap),
            "prevClosePrice": d8(ticker.open),
            "lastPrice": d8(price),
            "lastQty": d8(ticker.last_qty),
            "bidPrice": d8(price),
            "bidQty": d8(Decimal(1)),
            "askPrice": d8(price),
            "askQty": d8(Decimal(1)),
            "openPrice": d8(ticker.open),
            "highPrice": d8(ticker.high),
            "lowPrice": d8(ticker.low),
            "volume": d8(ticker.volume),
            "quoteVolume": d8(ticker.quote_volume),
            "openTime": str(now - 86_400_000),
            "closeTime": str(now),
            "firstId": str(ticker.first_trade_id),
            "lastId": str(ticker.last_trade_id),
            "count": str(ticker.count),
        }

    def price_json(self, spec: MarketSpec) -> dict[str, str]:
        return {"symbol": spec.market_id, "price": d8(self.book.prices[spec.symbol])}

    @get("/api/v3/ticker/24hr")
    def ticker_24hr(self, req: Req) -> Any:
        return self.per_market(req, self.ticker_json)

    @get("/api/v3/ticker/price")
    def ticker_price(self, req: Req) -> Any:
        return self.per_market(req, self.price_json)

    @get("/api/v3/ticker/bookTicker")
    def book_ticker(self, req: Req) -> Any:
        def one(spec: MarketSpec) -> dict[str, str]:
            price, size = d8(self.book.prices[spec.symbol]), d8(Decimal(1))
            return {
                "symbol": spec.market_id,
                "bidPrice": price,
                "bidQty": size,
                "askPrice": price,
                "askQty": size,
            }

        return self.per_market(req, one)

    @get("/api/v3/depth")
    def depth(self, req: Req) -> dict[str, Any]:
        spec = self.venue.spec(req.params.get("symbol"))
        bids, asks = self.book.levels(spec, min(int(req.params.get("limit", 100)), 20))
        size = d8(Decimal(1))
        return {
            "lastUpdateId": str(next(self.book.book_ids)),
            "bids": [[d8(p), size] for p in bids],
            "asks": [[d8(p), size] for p in asks],
        }

    @get("/api/v3/klines")
    def klines(self, req: Req) -> list[list[Any]]:
        spec = self.venue.spec(req.params.get("symbol"))
        interval = req.params.get("interval")
        if not interval:
            raise mandatory("interval")
        interval_ms = INTERVALS_MS.get(str(interval))
        if interval_ms is None:
            raise error(-1120, "Invalid interval.")
        limit = min(int(req.params.get("limit", 500)), 1000)
        start = int(req.params["startTime"]) if req.params.get("startTime") else None
        end = int(req.params["endTime"]) if req.params.get("endTime") else None
        price = d8(self.book.prices[spec.symbol])
        zero = d8(Decimal(0))
        # Flat candles at the current price: the fake has no price history.
        return [
            [o, price, price, price, price, zero, o + interval_ms - 1, zero, 0, zero, zero, "0"]
            for o in candle_opens(interval_ms, start, end, limit)
        ]


class BinanceAccount(Endpoints[Binance]):
    """Signed endpoints: balances, orders, trades.  MEXC's variant overrides the shapes that differ."""

    # Where MEXC differs: the error for a lookup without ids, paging from an order or trade id.
    missing_ids: ClassVar[tuple[int, str]] = (
        -1102,
        "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
    )
    pages_by_id: ClassVar[bool] = True
    trades_limit: ClassVar[int] = 500

    @get("/api/v3/account")
    def account(self, req: Req) -> dict[str, Any]:
        book = self.book
        balances = [
            {"asset": asset, "free": d8(book.free[asset]), "locked": d8(book.locked[asset])}
            for asset in book.free
        ]
        if str(req.params.get("omitZeroBalances", "")).lower() == "true":
            balances = [b for b in balances if Decimal(b["free"]) or Decimal(b["locked"])]
        updated = max([o.updated_ms for o in book.orders], default=now_ms())
        return {
            "makerCommission": "10",
            "takerCommission": "10",
            "buyerCommission": "0",
            "sellerCommission": "0",
            "commissionRates": {
                "maker": d8(FEE_RATE),
                "taker": d8(FEE_RATE),
                "buyer": d8(Decimal(0)),
                "seller": d8(Decimal(0)),
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

    @post("/api/v3/order")
    def new_order(self, req: Req) -> Any:
        p, venue = req.params, self.venue
        spec = venue.spec(p.get("symbol"))
        side = str(p.get("side", "")).upper()
        if not side:
            raise mandatory("side")
        if side not in ("BUY", "SELL"):
            raise error(-1117, "Invalid side.")
        kind = str(p.get("type", "")).upper()
        if not kind:
            raise mandatory("type")
        if kind not in ("LIMIT", "MARKET", "LIMIT_MAKER"):
            # The fake only implements these three spot types.
            raise error(-1116, "Invalid orderType.")
        quantity, quote_qty = venue.decimal(p, "quantity"), venue.decimal(p, "quoteOrderQty")
        price = venue.decimal(p, "price")
        tif = str(p.get("timeInForce") or "")
        if kind in ("LIMIT", "LIMIT_MAKER"):
            if kind == "LIMIT" and not tif:
                raise mandatory("timeInForce")
            if quantity is None:
                raise mandatory("quantity")
            if price is None:
                raise mandatory("price")
        elif quantity is None and quote_qty is None:
            raise error(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!")
        if tif and tif not in ("GTC", "IOC", "FOK"):
            raise error(-1115, "Invalid timeInForce.")
        try:
            order = self.book.place(
                spec,
                side.lower(),
                "market" if kind == "MARKET" else "limit",
                client_order_id=str(p.get("newClientOrderId") or client_id()),
                amount=quantity if kind != "MARKET" or quote_qty is None else None,
                quote_qty=quote_qty if kind == "MARKET" and quantity is None else None,
                price=price if kind != "MARKET" else None,
                time_in_force=tif or "GTC",
                post_only=kind == "LIMIT_MAKER",
                unique_among="open",
                iceberg_qty=venue.decimal(p, "icebergQty"),
                stp_mode=str(p.get("selfTradePreventionMode") or "EXPIRE_MAKER"),
            )
        except Reject as reject:
            raise error(*REJECTS[reject.kind]) from None
        default_resp = "FULL" if kind in ("MARKET", "LIMIT") else "ACK"
        return self.new_order_json(order, str(p.get("newOrderRespType") or default_resp))

    def _head(self, order: Order) -> dict[str, Any]:
        return {
            "symbol": self.book.markets[order.symbol].market_id,
            "orderId": order.order_id,
            "orderListId": "-1",
            "clientOrderId": order.client_order_id,
        }

    def _amounts(self, order: Order) -> dict[str, Any]:
        return {
            "price": d8(order.price or Decimal(0)),
            "origQty": d8(order.amount),
            "executedQty": d8(order.filled),
            "cummulativeQuoteQty": d8(order.cost),
            "status": self.venue.exchange_status(order),
            "timeInForce": order.time_in_force,
            "type": order_type(order),
            "side": order.side.upper(),
        }

    def new_order_json(self, order: Order, resp_type: str) -> dict[str, Any]:
        head = {**self._head(order), "transactTime": str(order.updated_ms)}
        if resp_type == "ACK":
            return head
        result: dict[str, Any] = {
            **head,
            **self._amounts(order),
            "origQuoteOrderQty": d8(order.quote_order_qty or Decimal(0)),
            "workingTime": str(order.created_ms),
        }
        if order.iceberg_qty is not None:
            result["icebergQty"] = d8(order.iceberg_qty)
        if resp_type == "FULL":
            result["fills"] = [
                {
                    "price": d8(t.price),
                    "qty": d8(t.amount),
                    "commission": d8(t.fee),
                    "commissionAsset": t.fee_asset,
                    "tradeId": t.trade_id,
                }
                for t in self.book.trades
                if t.order_id == order.order_id
            ]
        result["selfTradePreventionMode"] = order.stp_mode
        return result

    def order_json(self, order: Order) -> dict[str, Any]:
        """An order as GET /order, openOrders and allOrders list it."""
        return {
            **self._head(order),
            **self._amounts(order),
            "stopPrice": d8(Decimal(0)),
            "icebergQty": d8(order.iceberg_qty or Decimal(0)),
            "time": str(order.created_ms),
            "updateTime": str(order.updated_ms),
            "isWorking": True,
            "workingTime": str(order.created_ms),
            "origQuoteOrderQty": d8(order.quote_order_qty or Decimal(0)),
            "selfTradePreventionMode": order.stp_mode,
        }

    def cancel_json(self, order: Order, cancel_cid: str) -> dict[str, Any]:
        # Note: clientOrderId here is the *cancel request's* id, the original is origClientOrderId.
        head = self._head(order)
        return {
            "symbol": head["symbol"],
            "origClientOrderId": order.client_order_id,
            "orderId": order.order_id,
            "orderListId": "-1",
            "clientOrderId": cancel_cid,
            "transactTime": str(order.updated_ms),
            **self._amounts(order),
            "origQuoteOrderQty": d8(order.quote_order_qty or Decimal(0)),
            "selfTradePreventionMode": order.stp_mode,
        }

    def find(self, params: dict[str, Any]) -> Order | None:
        """The newest order of the symbol matching ``orderId`` and/or ``origClientOrderId``."""
        spec = self.venue.spec(params.get("symbol"))
        order_id, cid = params.get("orderId"), params.get("origClientOrderId")
        if not order_id and not cid:
            raise error(*self.missing_ids)
        for order in reversed(self.book.orders):
            if order.symbol != spec.symbol:
                continue
            if order_id and order.order_id != str(order_id):
                continue
            if cid and order.client_order_id != str(cid):
                continue
            return order
        return None

    @get("/api/v3/order")
    def get_order(self, req: Req) -> dict[str, Any]:
        order = self.find(req.params)
        if order is None or self.scenarios.hides(order):
            # ccxt maps -2013 to OrderNotFound for binance; for mexc it has no mapping (ExchangeError).
            raise error(-2013, "Order does not exist.")
        self.scenarios.status_check(order)
        return self.order_json(order)

    def open_to_cancel(self, req: Req) -> Order:
        order = self.find(req.params)
        if order is None or self.scenarios.hides(order) or order.status != "open":
            # ccxt maps -2011 to OrderNotFound for binance, to BadRequest for mexc.
            raise error(-2011, "Unknown order sent.")
        return order

    @delete("/api/v3/order")
    def cancel_order(self, req: Req) -> dict[str, Any]:
        order = self.open_to_cancel(req)
        cancel_cid = str(req.params.get("newClientOrderId") or client_id())
        self.book.cancel(order, cancel_client_id=cancel_cid)
        return self.cancel_json(order, cancel_cid)

    def visible_open(self, spec: MarketSpec | None) -> list[Order]:
        return [
            order
            for order in self.book.orders
            if order.status == "open"
            and (spec is None or order.symbol == spec.symbol)
            and not self.scenarios.hides(order)
        ]

    @get("/api/v3/openOrders")
    def open_orders(self, req: Req) -> list[dict[str, Any]]:
        spec = self.venue.spec(req.params["symbol"]) if req.params.get("symbol") else None
        return [self.order_json(order) for order in self.visible_open(spec)]

    @delete("/api/v3/openOrders")
    def cancel_all(self, req: Req) -> list[dict[str, Any]]:
        orders = self.visible_open(self.venue.spec(req.params.get("symbol")))
        if not orders:
            raise error(-2011, "Unknown order sent.")
        result = []
        for order in orders:
            cancel_cid = client_id()
            self.book.cancel(order, cancel_client_id=cancel_cid)
            result.append(self.cancel_json(order, cancel_cid))
        return result

    @get("/api/v3/allOrders")
    def all_orders(self, req: Req) -> list[dict[str, Any]]:
        p = req.params
        spec = self.venue.spec(p.get("symbol"))
        limit = min(int(p.get("limit") or 500), 1000)
        orders = window([o for o in self.book.orders if o.symbol == spec.symbol], p, lambda o: o.created_ms)
        if self.pages_by_id and p.get("orderId"):
            # orderId: that order and newer ones, oldest first.
            orders = [o for o in orders if int(o.order_id) >= int(p["orderId"])][:limit]
        else:
            orders = orders[-limit:]
        return [self.order_json(o) for o in orders]

    def trade_json(self, trade: Trade) -> dict[str, Any]:
        return {
            "symbol": self.book.markets[trade.symbol].market_id,
            "id": trade.trade_id,
            "orderId": trade.order_id,
            "orderListId": "-1",
            "price": d8(trade.price),
            "qty": d8(trade.amount),
            "quoteQty": d8(trade.cost),
            "commission": d8(trade.fee),
            "commissionAsset": trade.fee_asset,
            "time": str(trade.time_ms),
            "isBuyer": trade.side == "buy",
            "isMaker": trade.is_maker,
            "isBestMatch": True,
        }

    @get("/api/v3/myTrades")
    def my_trades(self, req: Req) -> list[dict[str, Any]]:
        p = req.params
        spec = self.venue.spec(p.get("symbol"))
        limit = min(int(p.get("limit") or self.trades_limit), 1000)
        trades = [t for t in self.book.trades if t.symbol == spec.symbol]
        if p.get("orderId"):
            trades = [t for t in trades if t.order_id == str(p["orderId"])]
        trades = window(trades, p, lambda t: t.time_ms)
        if self.pages_by_id and p.get("fromId"):
            trades = [t for t in trades if int(t.trade_id) >= int(p["fromId"])][:limit]
        else:
            trades = trades[-limit:]
        return [self.trade_json(t) for t in trades]
