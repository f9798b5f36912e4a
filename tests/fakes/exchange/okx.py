"""OKX ``/api/v5`` spot (``tdMode=cash``).

Endpoints: public/time, public/instruments, market/ticker(s), asset/currencies, account/balance,
trade/order (POST/GET), trade/batch-orders, trade/cancel-order, trade/orders-pending,
trade/orders-history(-archive), trade/fills(-history).  Private endpoints need
``OK-ACCESS-KEY/-PASSPHRASE/-TIMESTAMP`` and a valid base64 HMAC ``OK-ACCESS-SIGN``.  Envelope
``{"code": "0", "msg": "", "data": [...]}``; order failures are ``code "1"`` with ``sCode``/``sMsg``
per order.  ``clOrdId`` must be 1-32 alphanumerics and is unique among *open* orders.  Spot has no
minimum order value (only ``minSz``); commission is in the received asset; a crossing post_only
order is canceled at once; an unfilled IOC/FOK rest is 'canceled' (okx has no 'expired').  Market
ids are ``BTC-USDT``.  The edge in front is nginx.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
import time
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from tests.fakes.exchange.book import FEE_RATE, MAX_NOTIONAL, MAX_QTY, MarketSpec, Order, Reject, Trade
from tests.fakes.exchange.formats import now_ms, plain
from tests.fakes.exchange.server import ApiError, Req, Resp
from tests.fakes.exchange.venue import (
    Endpoints,
    Handler,
    RouteKey,
    Venue,
    get,
    numbered,
    post,
    spot_only,
    wording,
)

REJECTS: dict[str, tuple[str, str]] = {
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
CLORDID_CHARS = frozenset(string.ascii_letters + string.digits)


def error(code: str, msg: str, status: int = 200, data: Any = None) -> ApiError:
    # okx: business errors come with HTTP 200, auth errors with 401; code is a string.
    return ApiError(status, {"code": code, "msg": msg, "data": [] if data is None else data})


def failed_batch(entries: list[dict[str, Any]], *, some_placed: bool = False) -> Resp:
    now = str(now_ms())
    code, msg = (
        ("2", "Batch operation partially succeeded") if some_placed else ("1", "All operations failed")
    )
    return Resp(200, {"code": code, "msg": msg, "data": entries, "inTime": now, "outTime": now})


def limit(params: dict[str, Any]) -> int:
    raw = params.get("limit")
    return min(int(raw), 100) if raw not in (None, "") else 100


class Okx(Venue):
    flavor = "okx"
    host = "www.okx.com"
    edge = "nginx"
    server_errors: ClassVar[dict[int, dict[str, Any]]] = {
        500: {"code": "50026", "msg": "System error. Try again later.", "data": []},
        502: {"code": "50013", "msg": "Systems are busy. Please try again later.", "data": []},
        503: {"code": "50001", "msg": "Service temporarily unavailable. Try again later", "data": []},
        504: {
            "code": "50004",
            "msg": "Endpoint request timeout (does not mean that the request was successful or "
            "failed, please check the request result)",
            "data": [],
        },
    }
    create_paths = ("/api/v5/trade/order", "/api/v5/trade/batch-orders")
    create_cid_param = "clOrdId"
    fee_in_base_on_buy = True
    min_notional = False
    # okx has no 'expired': an unfilled IOC/FOK rest is 'canceled' too.
    statuses = wording(
        open=("live", "partially_filled"), closed="filled", canceled="canceled", expired="canceled"
    )
    order_id = staticmethod(numbered(2_900_000_000_000_000_000))  # 19-digit numbers
    trade_id = staticmethod(numbered())

    @staticmethod
    def market_id(spec: MarketSpec) -> str:
        return f"{spec.base}-{spec.quote}"

    def make_routes(self) -> dict[RouteKey, Handler]:
        return {**OkxMarket(self).routes(), **OkxAccount(self).routes()}

    def is_private(self, path: str) -> bool:
        return path.startswith(("/api/v5/trade/", "/api/v5/account/", "/api/v5/asset/"))

    def authenticate(self, req: Req) -> None:
        headers = req.headers
        for name, code in (
            ("KEY", "50103"),
            ("PASSPHRASE", "50104"),
            ("SIGN", "50106"),
            ("TIMESTAMP", "50107"),
        ):
            if not headers.get(f"ok-access-{name.lower()}"):
                raise error(code, f'Request header "OK-ACCESS-{name}" cannot be empty.', 401)
        stamp = headers["ok-access-timestamp"]
        if headers["ok-access-key"] != self.api_key:
            raise error("50111", "Invalid OK-ACCESS-KEY.", 401)
        try:
            sent = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
        except ValueError:
            raise error("50112", "Invalid OK-ACCESS-TIMESTAMP.", 401) from None
        if abs(time.time() - sent) > 30:
            raise error("50102", "Timestamp request expired.", 401)
        if headers["ok-access-passphrase"] != self.api_password:
            raise error("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
        request_path = req.path + (f"?{req.raw_query}" if req.raw_query else "")
        payload = stamp + req.method + request_path + (req.body if req.method != "GET" else "")
        digest = hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), headers["ok-access-sign"]):
            raise error("50113", "Invalid Sign.", 401)

    def ok(self, result: Any) -> Resp:
        return Resp(200, {"code": "0", "msg": "", "data": result})

    def malformed(self) -> Resp:
        return Resp(400, {"code": "50000", "msg": "Body can not be empty.", "data": []})

    def client_error_body(self, status: int) -> str:
        if status == 429:
            return json.dumps({"msg": "Too Many Requests", "code": "50011"})
        return json.dumps({"msg": "System error, please try again later.", "code": "50026"})

    def create_cid(self, req: Req) -> Any:
        if req.path.endswith("batch-orders"):
            try:
                return json.loads(req.body)[0].get("clOrdId")
            except (ValueError, AttributeError, IndexError, TypeError, KeyError):
                return None
        return super().create_cid(req)

    def spec(self, inst_id: Any, *, required: bool = True) -> MarketSpec | None:
        if not inst_id:
            if required:
                raise error("50014", "Parameter instId can not be empty.")
            return None
        spec = self.by_id.get(str(inst_id))
        if spec is None:
            raise error("51001", f"Instrument ID or Spread ID doesn't exist. ({inst_id})")
        return spec

    @staticmethod
    def inst_type(params: dict[str, Any], *, required: bool) -> None:
        inst_type = params.get("instType")
        if not inst_type:
            if required:
                raise error("50014", "Parameter instType can not be empty.")
            return
        if inst_type != "SPOT":
            # The real exchange has MARGIN/SWAP/FUTURES/OPTION too; the fake only serves spot.
            raise error("51000", f"Parameter instType error (the fake serves SPOT only: {inst_type})")

    def ccxt_options(self) -> dict[str, Any]:
        return {
            **spot_only(),  # only GET /api/v5/public/instruments?instType=SPOT
            # POST /api/v5/trade/order (ccxt's default is /api/v5/trade/batch-orders with a one-order list).
            "createOrder": "privatePostTradeOrder",
        }

    def ccxt_config(self, base_url: str) -> dict[str, Any]:
        return {**super().ccxt_config(base_url), "password": self.api_password}  # the key's passphrase


class OkxMarket(Endpoints[Okx]):
    """Public market data and the currency list."""

    @staticmethod
    @get("/api/v5/public/time")
    def time(req: Req) -> list[dict[str, str]]:
        return [{"ts": str(now_ms())}]

    @get("/api/v5/public/instruments")
    def instruments(self, req: Req) -> list[dict[str, Any]]:
        self.venue.inst_type(req.params, required=True)
        specs = list(self.book.markets.values())
        if req.params.get("instId"):
            specs = [self.venue.spec(req.params["instId"])]  # type: ignore[list-item]
        return [self.instrument_json(spec) for spec in specs]

    def instrument_json(self, spec: MarketSpec) -> dict[str, Any]:
        unused = dict.fromkeys(
            ("alias", "auctionEndTime", "ctMult", "ctType", "ctVal", "ctValCcy", "expTime", "instFamily"), ""
        )
        unused |= dict.fromkeys(("optType", "settleCcy", "stk", "uly"), "")
        return {
            **unused,
            "baseCcy": spec.base,
            "category": "1",
            "instId": self.venue.market_id(spec),
            "instType": "SPOT",
            "lever": "",  # no margin trading on the fake's markets
            "listTime": "1606468572000",
            "lotSz": spec.amount_step,
            "maxIcebergSz": plain(MAX_QTY),
            "maxLmtAmt": plain(MAX_NOTIONAL),
            "maxLmtSz": plain(MAX_QTY),
            "maxMktAmt": plain(MAX_NOTIONAL),
            "maxMktSz": plain(MAX_NOTIONAL),
            "maxStopSz": plain(MAX_QTY),
            "maxTriggerSz": plain(MAX_QTY),
            "maxTwapSz": plain(MAX_QTY),
            "minSz": spec.min_qty,
            "quoteCcy": spec.quote,
            "ruleType": "normal",
            "state": "live",
            "tickSz": spec.price_tick,
        }

    def ticker_json(self, spec: MarketSpec) -> dict[str, str]:
        price, ticker = self.book.prices[spec.symbol], self.book.tickers[spec.symbol]
        return {
            "instType": "SPOT",
            "instId": self.venue.market_id(spec),
            "last": plain(price),
            "lastSz": plain(ticker.last_qty),
            "askPx": plain(price),
            "askSz": "1",
            "bidPx": plain(price),
            "bidSz": "1",
            "open24h": plain(ticker.open),
            "high24h": plain(ticker.high),
            "low24h": plain(ticker.low),
            "volCcy24h": plain(ticker.quote_volume),
            "vol24h": plain(ticker.volume),
            "ts": str(now_ms()),
            "sodUtc0": plain(ticker.open),
            "sodUtc8": plain(ticker.open),
        }

    @get("/api/v5/market/ticker")
    def ticker(self, req: Req) -> list[dict[str, str]]:
        spec = self.venue.spec(req.params.get("instId"))
        assert spec is not None
        return [self.ticker_json(spec)]

    @get("/api/v5/market/tickers")
    def tickers(self, req: Req) -> list[dict[str, str]]:
        self.venue.inst_type(req.params, required=True)
        return [self.ticker_json(spec) for spec in self.book.markets.values()]

    @get("/api/v5/asset/currencies")
    def currencies(self, req: Req) -> list[dict[str, Any]]:
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
            for asset in self.book.free
            if not wanted or asset in wanted
        ]


class OkxAccount(Endpoints[Okx]):
    """Private endpoints: balance, orders and fills."""

    @get("/api/v5/account/balance")
    def balance(self, req: Req) -> list[dict[str, Any]]:
        wanted = {c for c in str(req.params.get("ccy", "")).split(",") if c}
        now = str(now_ms())
        details = []
        for asset, free in self.book.free.items():
            locked = self.book.locked[asset]
            total = free + locked
            if (wanted and asset not in wanted) or (not wanted and total == 0):
                continue
            details.append(
                {
                    "ccy": asset,
                    "eq": plain(total),
                    "cashBal": plain(total),
                    "availBal": plain(free),
                    "frozenBal": plain(locked),
                    "ordFrozen": plain(locked),
                    "availEq": "",  # spot mode: only margin modes report availEq
                    "disEq": plain(total),
                    "eqUsd": plain(total),
                    "fixedBal": "0",
                    **dict.fromkeys(("liab", "upl", "interest", "spotInUseAmt"), ""),
                    "uTime": now,
                }
            )
        unused = dict.fromkeys(("adjEq", "imr", "mgnRatio", "mmr", "notionalUsd", "ordFroz", "upl"), "")
        return [{**unused, "details": details, "isoEq": "0", "totalEq": "0", "uTime": now}]

    @post("/api/v5/trade/order")
    def create(self, req: Req) -> Any:
        return self.create_many([req.params])

    @post("/api/v5/trade/batch-orders")
    def batch_create(self, req: Req) -> Any:
        try:
            entries = json.loads(req.body or "[]")
        except ValueError:
            raise error("50000", "Body can not be empty.") from None
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise error("51000", "Parameter body error")
        return self.create_many(entries)

    def create_many(self, entries: list[dict[str, Any]]) -> Any:
        results = [self.place(entry) for entry in entries]
        failed = sum(1 for r in results if r["sCode"] != "0")
        if not failed:
            return results
        return failed_batch(results, some_placed=failed < len(results))

    def place(self, p: dict[str, Any]) -> dict[str, Any]:
        """One order of a create request: the data entry with sCode/sMsg."""
        cid = "" if p.get("clOrdId") is None else str(p.get("clOrdId"))
        result = {"clOrdId": cid, "ordId": "", "tag": str(p.get("tag") or ""), "ts": str(now_ms())}

        def failed(code: str, msg: str) -> dict[str, Any]:
            return {**result, "sCode": code, "sMsg": msg}

        spec = self.venue.by_id.get(str(p.get("instId") or ""))
        if spec is None:
            return failed("51001", "Instrument ID or Spread ID doesn't exist.")
        if cid and (len(cid) > 32 or not set(cid) <= CLORDID_CHARS):
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
            order = self.book.place(
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
        except Reject as reject:
            return failed(*REJECTS[reject.kind])
        return {**result, "ordId": order.order_id, "sCode": "0", "sMsg": "Order placed"}

    @staticmethod
    def ord_type(order: Order) -> str:
        if order.kind != "limit":
            return order.kind
        return (
            "post_only" if order.post_only else {"IOC": "ioc", "FOK": "fok"}.get(order.time_in_force, "limit")
        )

    def order_json(self, order: Order) -> dict[str, Any]:
        spec = self.book.markets[order.symbol]
        trades = [t for t in self.book.trades if t.order_id == order.order_id]
        last = trades[-1] if trades else None
        size = order.requested_qty if order.requested_qty is not None else order.amount
        canceled_by_user = order.status == "canceled" and order.cancel_type == "CancelByUser"
        unused = dict.fromkeys(
            ("algoClOrdId", "algoId", "attachAlgoClOrdId", "cancelSourceReason", "ccy"), ""
        )
        unused |= dict.fromkeys(("pxType", "pxUsd", "pxVol", "quickMgnType", "slOrdPx", "slTriggerPx"), "")
        unused |= dict.fromkeys(("slTriggerPxType", "source", "stpId", "tag", "tpOrdPx", "tpTriggerPx"), "")
        return {
            **unused,
            "accFillSz": plain(order.filled),
            "attachAlgoOrds": [],
            "avgPx": plain(order.cost / order.filled) if order.filled else "",
            "cTime": str(order.created_ms),
            "cancelSource": "1" if canceled_by_user else "",
            "category": "normal",
            "clOrdId": order.client_order_id,
            "fee": plain(-order.fee),
            "feeCcy": order.fee_asset or (spec.base if order.side == "buy" else spec.quote),
            "fillPx": plain(last.price) if last else "",
            "fillSz": plain(last.amount) if last else "",
            "fillTime": str(last.time_ms) if last else "",
            "instId": self.venue.market_id(spec),
            "instType": "SPOT",
            "isTpLimit": "false",
            "lever": "",
            "linkedAlgoOrd": {"algoId": ""},
            "ordId": order.order_id,
            "ordType": self.ord_type(order),
            "pnl": "0",
            "posSide": "net",
            "px": plain(order.price) if order.price is not None else "",
            "rebate": "0",
            "rebateCcy": spec.quote if order.side == "buy" else spec.base,
            "reduceOnly": "false",
            "side": order.side,
            "state": self.venue.exchange_status(order),
            "stpMode": "cancel_maker",
            "sz": plain(size),
            "tdMode": "cash",
            "tgtCcy": order.market_unit if order.market_unit == "quote_ccy" else "",
            "tpTriggerPxType": "",
            "tradeId": last.trade_id if last else "",
            "tradeQuoteCcy": spec.quote,
            "uTime": str(order.updated_ms),
        }

    def find(self, params: dict[str, Any]) -> Order | None:
        spec = self.venue.spec(params.get("instId"))
        order_id, cid = params.get("ordId"), params.get("clOrdId")
        if not order_id and not cid:
            raise error("51003", "Either client order ID or order ID is required.")
        for order in reversed(self.book.orders):
            if spec is not None and order.symbol != spec.symbol:
                continue
            # okx: ordId wins when both are sent.
            if (order.order_id == str(order_id)) if order_id else (order.client_order_id == str(cid)):
                return order
        return None

    @get("/api/v5/trade/order")
    def get_order(self, req: Req) -> list[dict[str, Any]]:
        order = self.find(req.params)
        if order is None or self.scenarios.hides(order):
            raise error("51603", "Order does not exist")
        self.scenarios.status_check(order)
        return [self.order_json(order)]

    @post("/api/v5/trade/cancel-order")
    def cancel(self, req: Req) -> Any:
        p = req.params
        order = self.find(p)
        now = str(now_ms())
        if order is None or self.scenarios.hides(order) or order.status != "open":
            entry = {
                "clOrdId": str(p.get("clOrdId") or ""),
                "ordId": str(p.get("ordId") or ""),
                "sCode": "51400",
                "sMsg": "Order cancellation failed as the order has been filled, canceled or does not exist.",
                "ts": now,
            }
            return failed_batch([entry])
        self.book.cancel(order, cancel_type="CancelByUser")
        return [
            {"clOrdId": order.client_order_id, "ordId": order.order_id, "sCode": "0", "sMsg": "", "ts": now}
        ]

    def filtered(self, orders: list[Order], params: dict[str, Any]) -> list[Order]:
        spec = self.venue.spec(params.get("instId"), required=False)
        if spec is not None:
            orders = [o for o in orders if o.symbol == spec.symbol]
        if params.get("ordType"):
            orders = [o for o in orders if self.ord_type(o) in str(params["ordType"]).split(",")]
        if params.get("state"):
            orders = [o for o in orders if self.venue.exchange_status(o) == params["state"]]
        return self.between(orders, params, lambda o: o.updated_ms)

    @staticmethod
    def between(items: list[Any], params: dict[str, Any], stamp: Any) -> list[Any]:
        """Keep the items between ``begin`` and ``end`` (okx's window parameters)."""
        if params.get("begin"):
            items = [i for i in items if stamp(i) >= int(params["begin"])]
        if params.get("end"):
            items = [i for i in items if stamp(i) <= int(params["end"])]
        return items

    @get("/api/v5/trade/orders-pending")
    def pending(self, req: Req) -> list[dict[str, Any]]:
        self.venue.inst_type(req.params, required=False)
        orders = [o for o in self.book.orders if o.status == "open"]
        orders = [o for o in self.filtered(orders, req.params) if not self.scenarios.hides(o)]
        orders.reverse()  # newest first
        return [self.order_json(o) for o in orders[: limit(req.params)]]

    @get("/api/v5/trade/orders-history", "/api/v5/trade/orders-history-archive")
    def history(self, req: Req) -> list[dict[str, Any]]:
        self.venue.inst_type(req.params, required=True)
        orders = self.filtered([o for o in self.book.orders if o.status != "open"], req.params)
        orders.sort(key=lambda o: o.updated_ms, reverse=True)  # newest update first (stable)
        return [self.order_json(o) for o in orders[: limit(req.params)]]

    def fill_json(self, trade: Trade) -> dict[str, Any]:
        spec = self.book.markets[trade.symbol]
        return {
            "billId": trade.trade_id,
            "clOrdId": trade.client_order_id,
            "execType": "M" if trade.is_maker else "T",
            "fee": plain(-trade.fee),
            "feeCcy": trade.fee_asset,
            "feeRate": plain(-FEE_RATE),
            **dict.fromkeys(("fillIdxPx", "fillMarkPx", "fillMarkVol", "fillPxUsd", "fillPxVol", "tag"), ""),
            "fillPnl": "0",
            "fillPx": plain(trade.price),
            "fillSz": plain(trade.amount),
            "fillTime": str(trade.time_ms),
            "instId": self.venue.market_id(spec),
            "instType": "SPOT",
            "ordId": trade.order_id,
            "posSide": "net",
            "side": trade.side,
            "subType": "1" if trade.side == "buy" else "2",
            "tradeId": trade.trade_id,
            "tradeQuoteCcy": spec.quote,
            "ts": str(trade.time_ms),
        }

    @get("/api/v5/trade/fills", "/api/v5/trade/fills-history")
    def fills(self, req: Req) -> list[dict[str, Any]]:
        p = req.params
        self.venue.inst_type(p, required=req.path.endswith("fills-history"))
        spec = self.venue.spec(p.get("instId"), required=False)
        trades = [t for t in self.book.trades if spec is None or t.symbol == spec.symbol]
        if p.get("ordId"):
            trades = [t for t in trades if t.order_id == str(p["ordId"])]
        trades = self.between(trades, p, lambda t: t.time_ms)
        trades.reverse()  # newest first
        return [self.fill_json(t) for t in trades[: limit(p)]]
