"""MEXC ``/api/v3`` spot, built on the binance classes: the same paths, parameters, signing and
order lookups, with MEXC's own shapes and error codes.

Endpoints: ping, time, exchangeInfo, ticker/24hr, ticker/price, capital/config/getall, account,
order (POST/GET/DELETE), openOrders, allOrders, myTrades, plus the futures
``/api/v1/contract/detail`` list (empty) that ccxt's load_markets always asks for.
``X-MEXC-APIKEY`` + HMAC ``signature`` over the query string.  Create answers carry ids only (no
status, no clientOrderId).  Numbers are plain strings, not binance's 8-dp ones.  Commission is in the
received asset.  The edge in front is Cloudflare.  Where the wording is unverified against the live
API the fake uses binance's, which MEXC's v3 mostly copies.
"""

from __future__ import annotations

import hmac
import json
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from tests.fakes.exchange.binance import Binance, BinanceAccount, BinanceMarket, error, unsigned_payload
from tests.fakes.exchange.book import FEE_RATE, MAX_NOTIONAL, MarketSpec, Order, Reject, Trade
from tests.fakes.exchange.formats import now_ms, places, plain
from tests.fakes.exchange.server import Req, Resp
from tests.fakes.exchange.venue import Handler, RouteKey, get, numbered, wording

# urls['api'] of ccxt.mexc: section -> access -> base URL (ccxt appends /api/v3/<path> for spot).
API_PATHS: dict[str, dict[str, str]] = {
    "spot": {"public": "", "private": ""},
    "spot2": {"public": "/open/api/v2", "private": "/open/api/v2"},
    "contract": {"public": "/api/v1/contract", "private": "/api/v1/private"},
    "broker": {"private": "/api/v3/broker"},
}
REJECTS: dict[str, tuple[int, str]] = {
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
ORDER_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")
BAD_COMBINATION = (-1128, "Combination of optional parameters invalid.")


class Mexc(Binance):
    flavor = "mexc"
    host = "api.mexc.com"
    edge = "cloudflare"
    server_errors: ClassVar[dict[int, dict[str, Any]]] = {
        500: {"code": 500, "msg": "Internal error"},
        502: {"code": 501, "msg": "System busy, try again later"},
        503: {"code": 503, "msg": "service not available, please try again"},
        504: {"code": 504, "msg": "Gateway Time-out"},
    }
    fee_in_base_on_buy = True
    private_paths = Binance.private_paths | {"/api/v3/capital/config/getall"}
    streams_user_data = False

    statuses = Binance.statuses | wording(
        canceled=("CANCELED", "PARTIALLY_CANCELED"), expired=("CANCELED", "PARTIALLY_CANCELED")
    )
    order_id = staticmethod(lambda n: f"C02__{590_000_000_000_000_000 + n}{secrets.randbelow(1000):03d}")
    trade_id = staticmethod(numbered(590_000_000_000_000_000, "X1"))

    def make_routes(self) -> dict[RouteKey, Handler]:
        return {**MexcMarket(self).routes(), **MexcAccount(self).routes()}

    def authenticate(self, req: Req) -> None:
        key = req.headers.get("x-mexc-apikey")
        if not key or key != self.api_key:
            # ccxt maps 10072 to BadRequest (not AuthenticationError).
            raise error(10072, "Api key info invalid")
        signature = req.params.get("signature")
        if not req.params.get("timestamp"):
            raise error(700004, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
        if not signature:
            raise error(700002, "Signature for this request is not valid.")
        # mexc signs the query string (ccxt sends every param there, for POST/DELETE too) + the body.
        if not hmac.compare_digest(self.sign(unsigned_payload(req)), str(signature)):
            raise error(700002, "Signature for this request is not valid.")
        now, stamp = now_ms(), int(req.params["timestamp"])
        window_ms = int(req.params.get("recvWindow", 5000))
        if window_ms > 60000:
            raise error(700005, "recvWindow must less than 60000")
        if stamp > now + 1000 or now - stamp > window_ms:
            raise error(700003, "Timestamp for this request is outside of the recvWindow.")

    def ok(self, result: Any) -> Resp:
        return Resp(200, result)

    def client_error_body(self, status: int) -> str:
        if status == 429:
            return json.dumps({"code": 429, "msg": "Too Many Requests"})
        return json.dumps({"code": 400, "msg": "Bad Request"})

    def decimal(self, params: dict[str, Any], name: str) -> Decimal | None:
        raw = params.get(name)
        if raw is None or raw == "":
            return None
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value <= 0:
            raise error(700008, f"Illegal characters found in parameter '{name}'")
        return value

    def ccxt_urls(self, base_url: str) -> dict[str, Any]:
        """mexc's ``urls['api']`` is nested: ``{'spot': {'public': ..., 'private': ...}, ...}``."""
        return {
            group: {key: base_url + path for key, path in paths.items()} for group, paths in API_PATHS.items()
        }

    def ccxt_options(self) -> dict[str, Any]:
        # Note: ccxt 4.5.90 ignores fetchMarkets.types for mexc (load_markets always asks for the
        # contract list too) and has no switch for fetchCurrencies (capital/config/getall with keys).
        return {"defaultType": "spot"}


def symbol_info(spec: MarketSpec) -> dict[str, Any]:
    step, tick = places(Decimal(spec.amount_step)), places(Decimal(spec.price_tick))
    return {
        "symbol": spec.market_id,
        "status": "1",  # 1 online, 2 paused, 3 offline
        "baseAsset": spec.base,
        # Precisions are numbers of decimals (the fake's steps are powers of ten).
        "baseAssetPrecision": step,
        "quoteAsset": spec.quote,
        "quotePrecision": tick,
        "quoteAssetPrecision": tick,
        "baseCommissionPrecision": step,
        "quoteCommissionPrecision": tick,
        "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "quoteAmountPrecision": spec.min_notional,
        "baseSizePrecision": spec.min_qty,
        "permissions": ["SPOT"],
        "filters": [],
        "maxQuoteAmount": plain(MAX_NOTIONAL),
        "makerCommission": plain(FEE_RATE),
        "takerCommission": plain(FEE_RATE),
        "quoteAmountPrecisionMarket": spec.min_notional,
        "maxQuoteAmountMarket": plain(MAX_NOTIONAL),
        "fullName": spec.base,
        "tradeSideType": 1,
    }


class MexcMarket(BinanceMarket):
    """binance's market data without bookTicker, depth and klines; plain numbers."""

    timezone = "CST"
    rate_limits: ClassVar[list[dict[str, Any]]] = []
    symbol_info = staticmethod(symbol_info)

    unserved = frozenset(
        {("GET", "/api/v3/ticker/bookTicker"), ("GET", "/api/v3/depth"), ("GET", "/api/v3/klines")}
    )

    @staticmethod
    @get("/api/v1/contract/detail")
    def contracts(req: Req) -> dict[str, Any]:
        # ccxt's load_markets always loads the futures contracts too (no option skips it).
        return {"success": True, "code": 0, "data": []}

    def selected(self, req: Req) -> list[MarketSpec] | MarketSpec:
        """One market by ``symbol``, or every market (no ``symbols`` list)."""
        if req.params.get("symbol"):
            return self.venue.spec(req.params["symbol"])
        return list(self.book.markets.values())

    def ticker_json(self, spec: MarketSpec) -> dict[str, Any]:
        price, ticker = self.book.prices[spec.symbol], self.book.tickers[spec.symbol]
        change = price - ticker.open
        now = now_ms()
        return {
            "symbol": spec.market_id,
            "priceChange": plain(change),
            "priceChangePercent": plain((change / ticker.open).quantize(Decimal("0.0001")))
            if ticker.open
            else "0",
            "prevClosePrice": plain(ticker.open),
            "lastPrice": plain(price),
            "bidPrice": plain(price),
            "bidQty": "1",
            "askPrice": plain(price),
            "askQty": "1",
            "openPrice": plain(ticker.open),
            "highPrice": plain(ticker.high),
            "lowPrice": plain(ticker.low),
            "volume": plain(ticker.volume),
            "quoteVolume": plain(ticker.quote_volume),
            "openTime": now - 86_400_000,
            "closeTime": now,
            "count": None,
        }

    def price_json(self, spec: MarketSpec) -> dict[str, str]:
        return {"symbol": spec.market_id, "price": plain(self.book.prices[spec.symbol])}


class MexcAccount(BinanceAccount):
    """binance's account endpoints with mexc's shapes; no cancel-all, paging only by time."""

    missing_ids = (700004, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null")
    pages_by_id = False
    trades_limit = 100

    unserved = frozenset({("DELETE", "/api/v3/openOrders")})

    @get("/api/v3/capital/config/getall")
    def currencies(self, req: Req) -> list[dict[str, Any]]:
        def network(asset: str) -> dict[str, Any]:
            return {
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

        return [{"coin": asset, "name": asset, "networkList": [network(asset)]} for asset in self.book.free]

    def account(self, req: Req) -> dict[str, Any]:
        book = self.book
        balances = [
            {"asset": asset, "free": plain(book.free[asset]), "locked": plain(book.locked[asset])}
            for asset in book.free
            if book.free[asset] or book.locked[asset]
        ]
        return {
            **dict.fromkeys(("makerCommission", "takerCommission", "buyerCommission", "sellerCommission")),
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "updateTime": None,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
        }

    def new_order(self, req: Req) -> dict[str, Any]:
        p, venue = req.params, self.venue
        spec = venue.spec(p.get("symbol"))
        side = str(p.get("side") or "").upper()
        kind = str(p.get("type") or "").upper()
        if side not in ("BUY", "SELL"):
            raise error(700004, "Mandatory parameter 'side' was not sent, was empty/null, or malformed.")
        if kind not in ORDER_TYPES:
            raise error(*BAD_COMBINATION)
        quantity, quote_qty = venue.decimal(p, "quantity"), venue.decimal(p, "quoteOrderQty")
        price = venue.decimal(p, "price")
        is_market = kind == "MARKET"
        if not is_market and (quantity is None or price is None):
            raise error(*BAD_COMBINATION)
        if is_market and quantity is None and quote_qty is None:
            raise error(*BAD_COMBINATION)
        cid = str(p.get("newClientOrderId") or "")
        try:
            order = self.book.place(
                spec,
                side.lower(),
                "market" if is_market else "limit",
                client_order_id=cid,
                amount=quantity if not is_market or quote_qty is None else None,
                quote_qty=quote_qty if is_market and quantity is None else None,
                price=price if not is_market else None,
                time_in_force={"IMMEDIATE_OR_CANCEL": "IOC", "FILL_OR_KILL": "FOK"}.get(kind, "GTC"),
                post_only=kind == "LIMIT_MAKER",
                reject_post_only=False,
                # Unverified: modelled like binance (a client id is refused only while its order is open).
                unique_among="open" if cid else "none",
                market_unit=kind,
            )
        except Reject as reject:
            raise error(*REJECTS[reject.kind]) from None
        # mexc answers a create with ids and the request's own numbers only (no status, no clientOrderId).
        return {
            "symbol": spec.market_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "price": plain(order.price) if order.price is not None else plain(Decimal(0)),
            "origQty": plain(quantity) if quantity is not None else "",
            "type": kind,
            "side": side,
            "transactTime": order.created_ms,
        }

    def order_json(self, order: Order) -> dict[str, Any]:
        return {
            "symbol": self.book.markets[order.symbol].market_id,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_order_id or None,
            "price": plain(order.price) if order.price is not None else "0",
            "origQty": plain(order.amount),
            "executedQty": plain(order.filled),
            "cummulativeQuoteQty": plain(order.cost),
            "status": self.venue.exchange_status(order),
            "timeInForce": None,
            "type": order.market_unit or ("MARKET" if order.kind == "market" else "LIMIT"),
            "side": order.side.upper(),
            "stopPrice": None,
            "icebergQty": None,
            "time": order.created_ms,
            "updateTime": order.updated_ms,
            "isWorking": True,
            "origQuoteOrderQty": plain(order.quote_order_qty) if order.quote_order_qty is not None else "0",
        }

    def cancel_order(self, req: Req) -> dict[str, Any]:
        order = self.open_to_cancel(req)
        self.book.cancel(order, cancel_type="CancelByUser")
        return self.order_json(order)

    def open_orders(self, req: Req) -> list[dict[str, Any]]:
        spec = self.venue.spec(req.params.get("symbol"))  # mexc: symbol is mandatory here
        return [self.order_json(order) for order in self.visible_open(spec)]

    def trade_json(self, trade: Trade) -> dict[str, Any]:
        return {
            "symbol": self.book.markets[trade.symbol].market_id,
            "id": trade.trade_id,
            "orderId": trade.order_id,
            "orderListId": -1,
            "price": plain(trade.price),
            "qty": plain(trade.amount),
            "quoteQty": plain(trade.cost),
            "commission": plain(trade.fee),
            "commissionAsset": trade.fee_asset,
            "time": trade.time_ms,
            "isBuyer": trade.side == "buy",
            "isMaker": trade.is_maker,
            "isBestMatch": True,
            "isSelfTrade": False,
            "clientOrderId": trade.client_order_id or None,
        }
