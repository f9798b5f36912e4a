"""Bybit ``/v5`` unified-account spot.

Endpoints: market/time, instruments-info, tickers, orderbook, kline, asset/coin/query-info,
user/query-api, account/info, account/wallet-balance, order/create, order/cancel, order/realtime,
order/history, execution/list.  Private endpoints need the ``X-BAPI-*`` headers with a valid HMAC.
Business errors come with HTTP 200 and a non-zero ``retCode``.  Commission is in the received asset
(base for buys, quote for sells): ccxt infers bybit's fee currency from the side and would
otherwise report the wrong asset.  A client order id (``orderLinkId``) is unique among all orders.
A crossing PostOnly order is accepted and canceled at once.  The edge in front is CloudFront.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from tests.fakes.exchange.book import FEE_RATE, MAX_NOTIONAL, MAX_QTY, MarketSpec, Order, Reject, Trade
from tests.fakes.exchange.formats import candle_opens, fixed, now_ms, plain, window
from tests.fakes.exchange.server import ApiError, Req, Resp
from tests.fakes.exchange.venue import (
    Endpoints,
    Handler,
    RouteKey,
    Venue,
    get,
    post,
    random_uuid,
    spot_only,
    wording,
)

API_KEYS = ("spot", "futures", "v2", "public", "private")
REJECTS: dict[str, tuple[int, str]] = {
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
INTERVALS_MS: dict[str, int] = {
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


def envelope(result: Any, code: int = 0, msg: str = "OK") -> dict[str, Any]:
    return {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": now_ms()}


def error(code: int, msg: str, status: int = 200) -> ApiError:
    # bybit answers business errors with HTTP 200 and a non-zero retCode.
    return ApiError(status, envelope({}, code, msg))


def text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    return "" if value is None else str(value)


def page(params: dict[str, Any], default: int, maximum: int) -> int:
    raw = params.get("limit")
    return min(int(raw), maximum) if raw not in (None, "") else default


class Bybit(Venue):
    flavor = "bybit"
    host = "api.bybit.com"
    edge = "cloudfront"
    server_errors: ClassVar[dict[int, dict[str, Any]]] = {  # result/retExtInfo/time are added per answer
        500: {"retCode": 10016, "retMsg": "System error. Please try again later."},
        502: {"retCode": 10016, "retMsg": "Service not available."},
        503: {"retCode": 10016, "retMsg": "Service not available."},
        504: {"retCode": 10016, "retMsg": "Request timeout, please try again later"},
    }
    create_paths = ("/v5/order/create",)
    create_cid_param = "orderLinkId"
    fee_in_base_on_buy = True
    # bybit reports a cancelled partial fill as PartiallyFilledCanceled (ccxt: 'closed').
    statuses = wording(
        open=("New", "PartiallyFilled"),
        closed="Filled",
        canceled=("Cancelled", "PartiallyFilledCanceled"),
        expired=("Cancelled", "PartiallyFilledCanceled"),
    )
    order_id = trade_id = staticmethod(random_uuid)

    def make_routes(self) -> dict[RouteKey, Handler]:
        return {**BybitMarket(self).routes(), **BybitAccount(self).routes()}

    def is_private(self, path: str) -> bool:
        return path.startswith(("/v5/order/", "/v5/account/", "/v5/execution/", "/v5/asset/", "/v5/user/"))

    def authenticate(self, req: Req) -> None:
        key = req.headers.get("x-bapi-api-key")
        if not key or key != self.api_key:
            raise error(10003, "API key is invalid.", 401)
        stamp = req.headers.get("x-bapi-timestamp", "")
        recv_window = req.headers.get("x-bapi-recv-window", "5000")
        signature = req.headers.get("x-bapi-sign", "")
        payload = stamp + key + recv_window + (req.body if req.method == "POST" else req.raw_query)
        if not signature or not hmac.compare_digest(self.sign(payload), signature):
            raise error(10004, f"error sign! origin_string[{payload}]", 401)
        now = now_ms()
        try:
            stamp_ms, window_ms = int(stamp), int(recv_window)
        except ValueError:
            raise error(10002, "invalid request, please check your timestamp") from None
        if not now - window_ms <= stamp_ms < now + 1000:
            raise error(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{stamp_ms}],server_timestamp[{now}],recv_window[{window_ms}]",
            )

    def ok(self, result: Any) -> Resp:
        return Resp(200, envelope(result))

    def malformed(self) -> Resp:
        return Resp(200, envelope({}, 10001, "params error"))

    def client_error_body(self, status: int) -> str:
        if status == 429:
            return json.dumps(envelope({}, 10006, "Too many visits. Exceeded the API Rate Limit."))
        if status == 418:
            return "<html><body>IP banned</body></html>"
        return json.dumps(envelope({}, 10016, "Server error."))

    def server_error_json(self, status: int) -> dict[str, Any]:
        return {**super().server_error_json(status), "result": {}, "retExtInfo": {}, "time": now_ms()}

    def category(self, params: dict[str, Any]) -> None:
        category = params.get("category")
        if not category:
            raise error(10001, "params error: category is empty")
        if category != "spot":
            # The fake only has a spot market; other categories exist on the real exchange.
            raise error(10001, f"params error: category {category} not served by the fake")

    def spec(self, market_id: Any) -> MarketSpec:
        spec = self.by_id.get(str(market_id)) if market_id else None
        if spec is None:
            raise error(10001, "params error: symbol invalid")
        return spec

    def ccxt_urls(self, base_url: str) -> dict[str, Any]:
        return dict.fromkeys(API_KEYS, base_url)

    def ccxt_options(self) -> dict[str, Any]:
        return {
            **spot_only(),  # only spot instruments-info
            # A unified trading account (UTA 2.0); skips user/query-api + account/info calls.
            "enableUnifiedMargin": False,
            "enableUnifiedAccount": True,
            "unifiedMarginStatus": 6,
            # ccxt refuses fetch_order on UTA without this acknowledgement (last-500 limit).
            "fetchOrder": {"acknowledged": True},
        }


class BybitMarket(Endpoints[Bybit]):
    """Public market data."""

    @staticmethod
    @get("/v5/market/time")
    def time(req: Req) -> dict[str, Any]:
        ns = time.time_ns()
        return {"timeSecond": str(ns // 1_000_000_000), "timeNano": str(ns)}

    @get("/v5/market/instruments-info")
    def instruments(self, req: Req) -> dict[str, Any]:
        self.venue.category(req.params)
        specs = list(self.book.markets.values())
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
                        "maxOrderQty": plain(MAX_QTY),
                        "minOrderAmt": spec.min_notional,
                        "maxOrderAmt": plain(MAX_NOTIONAL),
                    },
                    "priceFilter": {"tickSize": spec.price_tick},
                    "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.05"},
                }
                for spec in specs
            ],
        }

    def ticker_json(self, spec: MarketSpec) -> dict[str, str]:
        price = self.book.prices[spec.symbol]
        ticker = self.book.tickers[spec.symbol]
        tick = Decimal(spec.price_tick)
        pcnt = (price - ticker.open) / ticker.open if ticker.open else Decimal(0)
        return {
            "symbol": spec.market_id,
            "bid1Price": fixed(price, tick),
            "bid1Size": "1",
            "ask1Price": fixed(price, tick),
            "ask1Size": "1",
            "lastPrice": fixed(price, tick),
            "prevPrice24h": fixed(ticker.open, tick),
            "price24hPcnt": f"{pcnt:.4f}",
            "highPrice24h": fixed(ticker.high, tick),
            "lowPrice24h": fixed(ticker.low, tick),
            "turnover24h": plain(ticker.quote_volume),
            "volume24h": plain(ticker.volume),
            "usdIndexPrice": plain(price),
        }

    @get("/v5/market/tickers")
    def tickers(self, req: Req) -> dict[str, Any]:
        self.venue.category(req.params)
        specs = list(self.book.markets.values())
        if req.params.get("symbol"):
            specs = [self.venue.spec(req.params["symbol"])]
        return {"category": "spot", "list": [self.ticker_json(spec) for spec in specs]}

    @get("/v5/market/orderbook")
    def orderbook(self, req: Req) -> dict[str, Any]:
        self.venue.category(req.params)
        spec = self.venue.spec(req.params.get("symbol"))
        bids, asks = self.book.levels(spec, min(int(req.params.get("limit", 1)), 200))
        tick = Decimal(spec.price_tick)
        now = now_ms()
        seq = next(self.book.book_ids)
        return {
            "s": spec.market_id,
            "b": [[fixed(p, tick), "1"] for p in bids],
            "a": [[fixed(p, tick), "1"] for p in asks],
            "ts": now,
            "u": seq,
            "seq": seq,
            "cts": now,
        }

    @get("/v5/market/kline")
    def kline(self, req: Req) -> dict[str, Any]:
        self.venue.category(req.params)
        spec = self.venue.spec(req.params.get("symbol"))
        interval_ms = INTERVALS_MS.get(str(req.params.get("interval")))
        if interval_ms is None:
            raise error(10001, "params error: interval invalid")
        limit = min(int(req.params.get("limit", 200)), 1000)
        start = int(req.params["start"]) if req.params.get("start") else None
        end = int(req.params["end"]) if req.params.get("end") else None
        price = fixed(self.book.prices[spec.symbol], Decimal(spec.price_tick))
        opens = candle_opens(interval_ms, start, end, limit)
        # bybit lists candles newest first; flat at the current price (no history in the fake).
        rows = [[str(o), price, price, price, price, "0", "0"] for o in reversed(opens)]
        return {"category": "spot", "symbol": spec.market_id, "list": rows}


class BybitAccount(Endpoints[Bybit]):
    """Private endpoints: the account, balances, orders and executions."""

    @get("/v5/asset/coin/query-info")
    def coin_info(self, req: Req) -> dict[str, Any]:
        coins = [c for c in self.book.free if not req.params.get("coin") or c == req.params["coin"]]
        return {"rows": [coin_json(coin) for coin in coins]}

    @get("/v5/user/query-api")
    def query_api(self, req: Req) -> dict[str, Any]:
        return {**API_KEY_INFO, "apiKey": self.venue.api_key}

    @staticmethod
    @get("/v5/account/info")
    def account_info(req: Req) -> dict[str, Any]:
        return ACCOUNT_INFO | {"updatedTime": str(now_ms())}

    @get("/v5/account/wallet-balance")
    def wallet_balance(self, req: Req) -> dict[str, Any]:
        if req.params.get("accountType") != "UNIFIED":
            raise error(10001, "accountType only support UNIFIED.")
        wanted = {c for c in str(req.params.get("coin", "")).split(",") if c}
        coins = [
            wallet_coin(asset, self.book.free[asset], self.book.locked[asset])
            for asset in self.book.free
            if not wanted or asset in wanted
        ]
        return {"list": [{**UNIFIED_ACCOUNT, "coin": coins}]}

    def decimal(self, params: dict[str, Any], name: str) -> Decimal | None:
        raw = text(params, name)
        if not raw:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise error(10001, f"params error: {name} invalid") from None
        if not value.is_finite() or value <= 0:
            raise error(10001, f"params error: {name} invalid")
        return value

    @post("/v5/order/create")
    def create(self, req: Req) -> dict[str, Any]:
        p = req.params
        self.venue.category(p)
        spec = self.venue.by_id.get(text(p, "symbol"))
        if spec is None:
            raise error(170121, "Invalid symbol.")
        side, kind = text(p, "side"), text(p, "orderType")
        if side not in ("Buy", "Sell"):
            raise error(10001, "params error: side invalid")
        if kind not in ("Market", "Limit"):
            raise error(10001, "params error: orderType invalid")
        if text(p, "orderFilter") not in ("", "Order"):
            # Conditional (StopOrder / tpslOrder) spot orders are not modelled by the fake.
            raise error(10001, "params error: orderFilter not served by the fake")
        qty = self.decimal(p, "qty")
        if qty is None:
            raise error(10001, "params error: qty invalid")
        price = self.decimal(p, "price")
        tif = text(p, "timeInForce") or ("IOC" if kind == "Market" else "GTC")
        if tif not in ("GTC", "IOC", "FOK", "PostOnly"):
            raise error(10001, "params error: timeInForce invalid")
        link_id = text(p, "orderLinkId") or f"{now_ms()}{secrets.randbelow(10**6):06d}"
        market_unit = ""
        amount: Decimal | None = qty
        quote_qty: Decimal | None = None
        if kind == "Market":
            # Spot market buys are sized in quote coin unless marketUnit says otherwise.
            market_unit = text(p, "marketUnit") or ("quoteCoin" if side == "Buy" else "baseCoin")
            if market_unit not in ("baseCoin", "quoteCoin"):
                raise error(10001, "params error: marketUnit invalid")
            if market_unit == "quoteCoin":
                amount, quote_qty = None, qty
        elif price is None:
            raise error(10001, "params error: price invalid")
        try:
            order = self.book.place(
                spec,
                side.lower(),
                kind.lower(),
                client_order_id=link_id,
                amount=amount,
                quote_qty=quote_qty,
                price=price if kind == "Limit" else None,
                time_in_force="GTC" if tif == "PostOnly" else tif,
                post_only=tif == "PostOnly",
                reject_post_only=False,
                unique_among="all",
                requested_qty=qty,
                market_unit=market_unit,
            )
        except Reject as reject:
            raise error(*REJECTS[reject.kind]) from None
        return {"orderId": order.order_id, "orderLinkId": order.client_order_id}

    def order_json(self, order: Order) -> dict[str, Any]:
        spec = self.book.markets[order.symbol]
        step, tick = Decimal(spec.amount_step), Decimal(spec.price_tick)
        remaining = order.remaining if order.status == "open" else Decimal(0)
        avg = order.cost / order.filled if order.filled else Decimal(0)
        tif = "IOC" if order.kind == "market" else "PostOnly" if order.post_only else order.time_in_force
        qty = order.requested_qty if order.requested_qty is not None else order.amount
        leaves_value = remaining * (order.price or self.book.prices[order.symbol])
        cancel_type = order.cancel_type if order.status in ("canceled", "expired") else "UNKNOWN"
        result: dict[str, Any] = {
            "orderId": order.order_id,
            "orderLinkId": order.client_order_id,
            "blockTradeId": "",
            "symbol": spec.market_id,
            "price": fixed(order.price, tick) if order.price is not None else "0",
            "qty": plain(qty),
            "side": order.side.capitalize(),
            "isLeverage": "0",
            "positionIdx": 0,
            "orderStatus": self.venue.exchange_status(order),
            "cancelType": cancel_type,
            "rejectReason": order.reject_reason,
            "avgPrice": plain(avg) if order.filled else "0",
            "leavesQty": fixed(remaining, step),
            "leavesValue": plain(leaves_value),
            "cumExecQty": fixed(order.filled, step),
            "cumExecValue": plain(order.cost),
            "cumExecFee": plain(order.fee),
            "timeInForce": tif,
            "orderType": order.kind.capitalize(),
            "marketUnit": order.market_unit,
            "lastPriceOnCreated": fixed(order.last_price_on_created, tick),
            **UNUSED_ORDER_FIELDS,
            "createdTime": str(order.created_ms),
            "updatedTime": str(order.updated_ms),
        }
        if order.fee > 0:
            result["cumFeeDetail"] = {order.fee_asset: plain(order.fee)}
        return result

    def matching(self, params: dict[str, Any], items: list[Any]) -> tuple[list[Any], bool]:
        """Orders or trades filtered by symbol / orderId / orderLinkId (empty values count as absent);
        True when an id was given."""
        symbol, order_id, link_id = (text(params, k) for k in ("symbol", "orderId", "orderLinkId"))
        if symbol:
            items = [i for i in items if self.book.markets[i.symbol].market_id == symbol]
        if order_id:
            items = [i for i in items if i.order_id == order_id]
        if link_id:
            items = [i for i in items if i.client_order_id == link_id]
        return items, bool(order_id or link_id)

    def listing(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"nextPageCursor": "", "category": "spot", "list": rows}

    @get("/v5/order/realtime")
    def realtime(self, req: Req) -> dict[str, Any]:
        p = req.params
        self.venue.category(p)
        orders, by_id = self.matching(p, list(self.book.orders))
        if not by_id:
            # openOnly=0 (default): open orders only; by id the order shows in any status.
            wanted_open = text(p, "openOnly") in ("", "0")
            orders = [o for o in orders if (o.status == "open") == wanted_open]
        visible = []
        for order in orders:
            if (by_id or order.status == "open") and self.scenarios.hides(order):
                continue
            if by_id:
                self.scenarios.status_check(order)
            visible.append(order)
        visible.reverse()  # newest first (orders are kept in arrival order)
        return self.listing([self.order_json(o) for o in visible[: page(p, 20, 50)]])

    @get("/v5/order/history")
    def history(self, req: Req) -> dict[str, Any]:
        p = req.params
        self.venue.category(p)
        # History holds orders in a final state; live ones are served by /v5/order/realtime.
        orders, by_id = self.matching(p, [o for o in self.book.orders if o.status != "open"])
        status = text(p, "orderStatus")
        if status:
            orders = [o for o in orders if self.venue.exchange_status(o) == status]
        orders = window(orders, p, lambda o: o.created_ms)
        if by_id:
            orders = [o for o in orders if not self.scenarios.hides(o)]
        orders.reverse()  # newest first
        return self.listing([self.order_json(o) for o in orders[: page(p, 20, 50)]])

    @post("/v5/order/cancel")
    def cancel(self, req: Req) -> dict[str, Any]:
        p = req.params
        self.venue.category(p)
        if self.venue.by_id.get(text(p, "symbol")) is None:
            raise error(170121, "Invalid symbol.")
        candidates, by_id = self.matching(p, list(self.book.orders))
        if not by_id:
            raise error(10001, "params error: orderId or orderLinkId is required")
        order = candidates[-1] if candidates else None
        if order is None or self.scenarios.hides(order) or order.status != "open":
            raise error(170213, "Order does not exist.")
        self.book.cancel(order, cancel_type="CancelByUser")
        return {"orderId": order.order_id, "orderLinkId": order.client_order_id}

    def execution_json(self, trade: Trade) -> dict[str, Any]:
        order = self.book.orders_by_id[trade.order_id]
        spec = self.book.markets[trade.symbol]
        step, tick = Decimal(spec.amount_step), Decimal(spec.price_tick)
        return {
            "symbol": spec.market_id,
            "orderType": order.kind.capitalize(),
            "underlyingPrice": "",
            "orderLinkId": trade.client_order_id,
            "side": trade.side.capitalize(),
            "indexPrice": "",
            "orderId": trade.order_id,
            "stopOrderType": "",
            "leavesQty": fixed(order.remaining, step),
            "execTime": str(trade.time_ms),
            "feeCurrency": trade.fee_asset,
            "isMaker": trade.is_maker,
            "execFee": plain(trade.fee),
            "feeRate": plain(FEE_RATE),
            "execId": trade.trade_id,
            "tradeIv": "",
            "blockTradeId": "",
            "markPrice": fixed(self.book.prices[trade.symbol], tick),
            "execPrice": fixed(trade.price, tick),
            "markIv": "",
            "orderQty": fixed(order.amount, step),
            "orderPrice": fixed(order.price, tick) if order.price is not None else "0",
            "execValue": plain(trade.cost),
            "execType": "Trade",
            "execQty": fixed(trade.amount, step),
            "closedSize": "",
            "seq": self.book.trades.index(trade) + 1,
        }

    @get("/v5/execution/list")
    def executions(self, req: Req) -> dict[str, Any]:
        p = req.params
        self.venue.category(p)
        trades = list(self.book.trades) if text(p, "execType") in ("", "Trade") else []
        trades, _ = self.matching(p, trades)
        trades = window(trades, p, lambda t: t.time_ms)
        trades.reverse()  # newest first
        return self.listing([self.execution_json(t) for t in trades[: page(p, 50, 100)]])


# ---------------------------------------------------------------------- fixed parts of answers

# Order fields for features the fake does not model (conditional orders, TP/SL, SMP, options).
UNUSED_ORDER_FIELDS: dict[str, Any] = {
    "stopOrderType": "",
    "orderIv": "",
    "triggerPrice": "0",
    "takeProfit": "0",
    "stopLoss": "0",
    "tpTriggerBy": "",
    "slTriggerBy": "",
    "triggerDirection": 0,
    "triggerBy": "",
    "reduceOnly": False,
    "closeOnTrigger": False,
    "smpType": "None",
    "smpGroup": 0,
    "smpOrderId": "",
    "tpLimitPrice": "",
    "slLimitPrice": "",
    "placeType": "",
}
ACCOUNT_INFO: dict[str, Any] = {
    "marginMode": "REGULAR_MARGIN",
    "updatedTime": "0",
    "unifiedMarginStatus": 6,
    "dcpStatus": "OFF",
    "timeWindow": 10,
    "smpGroup": 0,
    "isMasterTrader": False,
    "spotHedgingStatus": "OFF",
}
API_KEY_INFO: dict[str, Any] = {
    "id": "1",
    "note": "tradewire-fake",
    "apiKey": "",
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
UNIFIED_ACCOUNT: dict[str, Any] = {
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
}


def wallet_coin(asset: str, free: Decimal, locked: Decimal) -> dict[str, Any]:
    total = free + locked
    return {
        "availableToBorrow": "",
        "bonus": "0",
        "accruedInterest": "0",
        # UTA 2.0 no longer fills availableToWithdraw; ccxt derives free = total - used.
        "availableToWithdraw": "",
        "totalOrderIM": "0",
        "equity": plain(total),
        "totalPositionMM": "0",
        "usdValue": plain(total),
        "spotHedgingQty": "0",
        "unrealisedPnl": "0",
        "collateralSwitch": True,
        "borrowAmount": "0",
        "totalPositionIM": "0",
        "walletBalance": plain(total),
        "cumRealisedPnl": "0",
        "locked": plain(locked),
        "marginCollateral": True,
        "coin": asset,
    }


def coin_json(coin: str) -> dict[str, Any]:
    chain = {
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
    return {"name": coin, "coin": coin, "remainAmount": "1000000", "chains": [chain]}
