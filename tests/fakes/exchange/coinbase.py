"""Coinbase Advanced Trade ``/api/v3/brokerage``.

Endpoints: time, market/products (+ ``/{id}/ticker``), transaction_summary, accounts, orders
(POST), orders/batch_cancel, orders/historical/{id}, orders/historical/batch,
orders/historical/fills; and the v2 currencies, currencies/crypto, exchange-rates, time that ccxt
loads.  Private endpoints need ``Authorization: Bearer <JWT>`` (ES256, verified against the EC key
in ``api_secret``; ``kid``/``sub`` = the key name, ``uri`` = method + path).  A reused
``client_order_id`` creates nothing and answers with the existing order.  Commission is in the
quote asset (ccxt assumes so).  Spot books are quoted in USD, USDC (an alias of the USD book on the
real exchange, not modelled), USDT, EUR, ...; the fake defaults to BTC/USDC and ETH/USDC.  Market
ids are ``BTC-USDC``.  The edge in front is Cloudflare; the API's errors are gRPC-gateway shaped.
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from tests.fakes.exchange.book import FEE_RATE, MAX_NOTIONAL, MAX_QTY, MarketSpec, Order, Reject
from tests.fakes.exchange.formats import fixed, now_ms, plain
from tests.fakes.exchange.server import ApiError, Req, Resp
from tests.fakes.exchange.venue import Endpoints, Handler, RouteKey, Venue, get, post, random_uuid, wording

MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("BTC/USDC", "BTC", "USDC", "0.00000001", "0.01", "0.00000001", "1"),
    MarketSpec("ETH/USDC", "ETH", "USDC", "0.00000001", "0.01", "0.00000001", "1"),
)
BALANCES: dict[str, str] = {"USDC": "10000"}
FIAT = ("USD", "EUR", "GBP")
USER_ID = "00000000-0000-4000-8000-000000000001"
PORTFOLIO_ID = "00000000-0000-4000-8000-000000000000"
REJECTS: dict[str, tuple[str, str, str]] = {
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
# order_configuration keys the fake models -> (kind, time in force); GTD, stop-limit, bracket, TWAP
# ... are not modelled.
CONFIGURATIONS = {
    "market_market_ioc": ("market", "IOC"),
    "limit_limit_gtc": ("limit", "GTC"),
    "sor_limit_ioc": ("limit", "IOC"),
    "limit_limit_fok": ("limit", "FOK"),
}


def error_body(error: str, message: str) -> dict[str, Any]:
    return {"error": error, "message": message, "error_details": message}


def error(status: int, kind: str, message: str) -> ApiError:
    return ApiError(status, error_body(kind, message))


def invalid(message: str) -> ApiError:
    return error(400, "INVALID_ARGUMENT", message)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}000Z"


def query_values(req: Req, *names: str) -> list[str]:
    """Every value of the named (repeatable) query parameters."""
    return [v for k, v in parse_qsl(req.raw_query) if k in names]


class Coinbase(Venue):
    flavor = "coinbase"
    host = "api.coinbase.com"
    edge = "cloudflare"
    server_errors: ClassVar[dict[int, dict[str, Any]]] = {  # Advanced Trade (gRPC gateway) error envelope
        500: {"error": "INTERNAL", "error_details": "internal error", "message": "internal error"},
        502: dict.fromkeys(("error_details", "message"), "upstream unavailable") | {"error": "UNAVAILABLE"},
        503: dict.fromkeys(("error_details", "message"), "service unavailable") | {"error": "UNAVAILABLE"},
        504: dict.fromkeys(("error_details", "message"), "context deadline exceeded")
        | {"error": "DEADLINE_EXCEEDED"},
    }
    create_paths = ("/api/v3/brokerage/orders",)
    create_cid_param = "client_order_id"
    default_markets = MARKETS
    default_balances = BALANCES
    statuses = wording(open="OPEN", closed="FILLED", canceled="CANCELLED", expired="EXPIRED")
    order_id = trade_id = staticmethod(random_uuid)

    @staticmethod
    def default_api_key() -> str:
        # CDP keys are named organizations/{org_id}/apiKeys/{key_id}.
        return f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"

    @staticmethod
    def default_secret() -> str:
        """An EC key (ES256 JWT) as a PEM private key."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,  # "BEGIN EC PRIVATE KEY", as CDP hands it out
            serialization.NoEncryption(),
        ).decode()

    @staticmethod
    def market_id(spec: MarketSpec) -> str:
        return f"{spec.base}-{spec.quote}"

    def make_routes(self) -> dict[RouteKey, Handler]:
        return {**CoinbaseMarket(self).routes(), **CoinbaseAccount(self).routes()}

    def route(self, method: str, path: str) -> tuple[RouteKey, dict[str, str]]:
        """Map a concrete path onto its templated route (and the path parameters)."""
        parts = path.split("/")
        historical = path.startswith("/api/v3/brokerage/orders/historical/") and len(parts) == 7
        if historical and parts[6] not in ("batch", "fills"):
            return (method, "/api/v3/brokerage/orders/historical/{order_id}"), {"order_id": parts[6]}
        products = path.startswith(("/api/v3/brokerage/market/products/", "/api/v3/brokerage/products/"))
        if products and parts[-1] == "ticker":
            return (method, "/".join([*parts[:-2], "{product_id}", "ticker"])), {"product_id": parts[-2]}
        return (method, path), {}

    def is_private(self, path: str) -> bool:
        public = ("/api/v3/brokerage/market/", "/api/v3/brokerage/time")
        return path.startswith(("/api/v3/brokerage/", "/v2/accounts", "/v2/user")) and not path.startswith(
            public
        )

    def authenticate(self, req: Req) -> None:
        """CDP keys: ``Authorization: Bearer <ES256 JWT>`` signed with the key's EC private key."""
        import jwt
        from cryptography.hazmat.primitives import serialization

        unauthorized = ApiError(401, "Unauthorized")  # coinbase answers text/plain "Unauthorized"
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

    def malformed(self) -> Resp:
        return Resp(400, error_body("INVALID_ARGUMENT", "invalid request"))

    def client_error_body(self, status: int) -> str:
        if status == 429:
            return json.dumps({"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]})
        return json.dumps({"error": "UNKNOWN_FAILURE_REASON", "message": "", "error_details": ""})

    def spec(self, product_id: Any) -> MarketSpec:
        spec = self.by_id.get(str(product_id or ""))
        if spec is None:
            raise error(404, "NOT_FOUND", "ProductID is invalid")
        return spec

    def ccxt_options(self) -> dict[str, Any]:
        return {
            # GET /api/v3/brokerage/accounts (ccxt's default is the v2 /v2/accounts wallet list).
            "fetchBalance": "v3PrivateGetBrokerageAccounts",
            # GET /api/v3/brokerage/time (default: v2 /v2/time).
            "fetchTime": "v3PublicGetBrokerageTime",
        }


class CoinbaseMarket(Endpoints[Coinbase]):
    """Public endpoints: time, currencies, rates, products and tickers."""

    @staticmethod
    @get("/v2/time")
    def v2_time(req: Req) -> dict[str, Any]:
        now = now_ms()
        return {"data": {"iso": iso(now)[:19] + "Z", "epoch": now // 1000}}

    @staticmethod
    @get("/api/v3/brokerage/time")
    def time(req: Req) -> dict[str, Any]:
        now = now_ms()
        return {"iso": iso(now), "epochSeconds": str(now // 1000), "epochMillis": str(now)}

    @staticmethod
    @get("/v2/currencies")
    def fiat_currencies(req: Req) -> dict[str, Any]:
        return {"data": [{"id": code, "name": code, "min_size": "0.01"} for code in FIAT]}

    @get("/v2/currencies/crypto")
    def crypto_currencies(self, req: Req) -> dict[str, Any]:
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
                for index, asset in enumerate(self.book.free)
                if asset not in FIAT
            ]
        }

    @get("/v2/exchange-rates")
    def exchange_rates(self, req: Req) -> dict[str, Any]:
        rates = {asset: "1" for asset in self.book.free}
        for spec in self.book.markets.values():
            if spec.quote in ("USD", "USDC") and self.book.prices[spec.symbol]:
                rates[spec.base] = plain(1 / self.book.prices[spec.symbol])
        return {"data": {"currency": req.params.get("currency", "USD"), "rates": rates}}

    def product_json(self, spec: MarketSpec) -> dict[str, Any]:
        price, ticker = self.book.prices[spec.symbol], self.book.tickers[spec.symbol]
        pct = (price - ticker.open) / ticker.open * 100 if ticker.open else Decimal(0)
        flags = (
            "watched",
            "is_disabled",
            "new",
            "cancel_only",
            "limit_only",
            "post_only",
            "trading_disabled",
        )
        return {
            "product_id": self.venue.market_id(spec),
            "price": plain(price),
            "price_percentage_change_24h": plain(pct.quantize(Decimal("0.0001"))),
            "volume_24h": plain(ticker.volume),
            "volume_percentage_change_24h": "0",
            "base_increment": spec.amount_step,
            "quote_increment": spec.price_tick,
            "quote_min_size": spec.min_notional,
            "quote_max_size": plain(MAX_NOTIONAL),
            "base_min_size": spec.min_qty,
            "base_max_size": plain(MAX_QTY),
            "base_name": spec.base,
            "quote_name": spec.quote,
            **dict.fromkeys(flags, False),
            "status": "online",
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
            "approximate_quote_24h_volume": plain(ticker.quote_volume),
        }

    @get("/api/v3/brokerage/market/products", "/api/v3/brokerage/products")
    def products(self, req: Req) -> dict[str, Any]:
        product_type = str(req.params.get("product_type") or "SPOT")
        specs = list(self.book.markets.values()) if product_type == "SPOT" else []  # no futures on the fake
        wanted = query_values(req, "product_ids")
        if wanted:
            specs = [s for s in specs if self.venue.market_id(s) in wanted]
        return {"products": [self.product_json(s) for s in specs], "num_products": len(specs)}

    @get(
        "/api/v3/brokerage/market/products/{product_id}/ticker",
        "/api/v3/brokerage/products/{product_id}/ticker",
    )
    def ticker(self, req: Req) -> dict[str, Any]:
        spec = self.venue.spec(req.params.get("product_id"))
        price, tick = self.book.prices[spec.symbol], Decimal(spec.price_tick)
        trades = [t for t in self.book.trades if t.symbol == spec.symbol][
            -int(req.params.get("limit") or 1) :
        ]
        last = {
            "trade_id": str(next(self.book.book_ids)),
            "product_id": self.venue.market_id(spec),
            "price": plain(price),
            "size": plain(trades[-1].amount) if trades else "0",
            "time": iso(trades[-1].time_ms if trades else now_ms()),
            "side": "BUY",
            "exchange": "CBE",
        }
        return {"trades": [last], "best_bid": fixed(price, tick), "best_ask": fixed(price, tick)}


class CoinbaseAccount(Endpoints[Coinbase]):
    """Private endpoints: fees, accounts, orders and fills."""

    @get("/api/v3/brokerage/transaction_summary")
    def transaction_summary(self, req: Req) -> dict[str, Any]:
        volume = sum((t.cost for t in self.book.trades), Decimal(0))
        fees = sum((t.fee for t in self.book.trades), Decimal(0))
        return {
            "total_volume": float(volume),
            "total_fees": float(fees),
            "fee_tier": {
                "pricing_tier": "Advanced 1",
                "usd_from": "0",
                "usd_to": "10000",
                "taker_fee_rate": plain(FEE_RATE),
                "maker_fee_rate": plain(FEE_RATE),
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

    @get("/api/v3/brokerage/accounts")
    def accounts(self, req: Req) -> dict[str, Any]:
        now = iso(now_ms())
        accounts = [
            {
                "uuid": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{self.venue.api_key}/{asset}")),
                "name": f"{asset} Wallet",
                "currency": asset,
                "available_balance": {"value": plain(self.book.free[asset]), "currency": asset},
                "default": True,
                "active": True,
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
                "type": "ACCOUNT_TYPE_FIAT" if asset in FIAT else "ACCOUNT_TYPE_CRYPTO",
                "ready": True,
                "hold": {"value": plain(self.book.locked[asset]), "currency": asset},
                "retail_portfolio_id": PORTFOLIO_ID,
                "platform": "ACCOUNT_PLATFORM_CONSUMER",
            }
            for asset in self.book.free
        ]
        return {"accounts": accounts, "has_next": False, "cursor": "", "size": len(accounts)}

    @post("/api/v3/brokerage/orders")
    def create(self, req: Req) -> dict[str, Any]:
        p = req.params
        raw_config = p.get("order_configuration")
        config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
        cid = str(p.get("client_order_id") or "")
        side = str(p.get("side") or "")

        def failed(kind: str, preview: str, message: str) -> dict[str, Any]:
            return {
                "success": False,
                "failure_reason": "UNKNOWN_FAILURE_REASON",
                "order_id": "",
                "error_response": {
                    "error": kind,
                    "message": message,
                    "error_details": "",
                    "preview_failure_reason": preview,
                    "new_order_failure_reason": kind,
                },
                "order_configuration": config,
            }

        if not cid:
            raise invalid("client_order_id is required")
        spec = self.venue.by_id.get(str(p.get("product_id") or ""))
        if spec is None:
            return failed("UNKNOWN_FAILURE_REASON", "PREVIEW_INVALID_PRODUCT_ID", "ProductID is invalid")
        if side not in ("BUY", "SELL"):
            raise invalid("invalid side")
        existing = self.book.latest(cid)
        if existing is not None:
            # coinbase: a reused client_order_id creates nothing; the order with that id is returned.
            return self.create_ok(existing, config)
        if len(config) != 1 or next(iter(config)) not in CONFIGURATIONS:
            return failed(
                "UNSUPPORTED_ORDER_CONFIGURATION",
                "PREVIEW_INVALID_ORDER_CONFIG",
                "unsupported order configuration",
            )
        name = next(iter(config))
        kind, tif = CONFIGURATIONS[name]
        body = config[name] if isinstance(config[name], dict) else {}
        try:
            base_size, quote_size, limit_price = (
                Decimal(str(body[k])) if body.get(k) else None
                for k in ("base_size", "quote_size", "limit_price")
            )
        except InvalidOperation:
            raise invalid("invalid number") from None
        if kind == "limit" and (base_size is None or limit_price is None):
            raise invalid("base_size and limit_price are required")
        if kind == "market" and (base_size is None) == (quote_size is None):
            raise invalid("exactly one of base_size and quote_size is required")
        if quote_size is not None and side == "SELL":
            raise invalid("quote_size is for market buys only in the fake")
        try:
            order = self.book.place(
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
        except Reject as reject:
            return failed(*REJECTS[reject.kind])
        return self.create_ok(order, config)

    def create_ok(self, order: Order, config: dict[str, Any]) -> dict[str, Any]:
        return {
            "success": True,
            "failure_reason": "UNKNOWN_FAILURE_REASON",
            "order_id": order.order_id,
            "success_response": {
                "order_id": order.order_id,
                "product_id": self.venue.market_id(self.book.markets[order.symbol]),
                "side": order.side.upper(),
                "client_order_id": order.client_order_id,
            },
            "order_configuration": config,
        }

    def configuration(self, order: Order) -> dict[str, Any]:
        step = Decimal(self.book.markets[order.symbol].amount_step)
        if order.kind == "market":
            if order.market_unit == "quote" and order.requested_qty is not None:
                return {"market_market_ioc": {"quote_size": plain(order.requested_qty)}}
            return {"market_market_ioc": {"base_size": fixed(order.amount, step)}}
        body: dict[str, Any] = {
            "base_size": fixed(order.amount, step),
            "limit_price": plain(order.price or Decimal(0)),
        }
        if order.time_in_force == "IOC":
            return {"sor_limit_ioc": body}
        if order.time_in_force == "FOK":
            return {"limit_limit_fok": body}
        return {"limit_limit_gtc": {**body, "post_only": order.post_only}}

    def order_json(self, order: Order) -> dict[str, Any]:
        fills = [t for t in self.book.trades if t.order_id == order.order_id]
        tif = {"IOC": "IMMEDIATE_OR_CANCEL", "FOK": "FILL_OR_KILL"}.get(
            order.time_in_force, "GOOD_UNTIL_CANCELLED"
        )
        pct = order.filled / order.amount * 100 if order.amount else Decimal(0)
        after_fees = order.cost + order.fee if order.side == "buy" else order.cost - order.fee
        return {
            "order_id": order.order_id,
            "product_id": self.venue.market_id(self.book.markets[order.symbol]),
            "user_id": USER_ID,
            "order_configuration": self.configuration(order),
            "side": order.side.upper(),
            "client_order_id": order.client_order_id,
            "status": self.venue.exchange_status(order),
            "time_in_force": "IMMEDIATE_OR_CANCEL" if order.kind == "market" else tif,
            "created_time": iso(order.created_ms),
            "completion_percentage": plain(pct.quantize(Decimal("0.01"))),
            "filled_size": plain(order.filled),
            "average_filled_price": plain(order.cost / order.filled) if order.filled else "0",
            "fee": "",
            "number_of_fills": str(len(fills)),
            "filled_value": plain(order.cost),
            "pending_cancel": False,
            "size_in_quote": order.market_unit == "quote",
            "total_fees": plain(order.fee),
            "size_inclusive_of_fees": False,
            "total_value_after_fees": plain(after_fees),
            "trigger_status": "INVALID_ORDER_TYPE",
            "order_type": order.kind.upper(),
            "reject_reason": "REJECT_REASON_UNSPECIFIED",
            "settled": order.status != "open",
            "product_type": "SPOT",
            "reject_message": "",
            "cancel_message": "User requested cancel" if order.status == "canceled" else "",
            "order_placement_source": "RETAIL_ADVANCED",
            "outstanding_hold_amount": plain(order.reserved),
            "is_liquidation": False,
            "last_fill_time": iso(fills[-1].time_ms) if fills else None,
            "edit_history": [],
            "leverage": "",
            "margin_type": "UNKNOWN_MARGIN_TYPE",
            "retail_portfolio_id": PORTFOLIO_ID,
        }

    @get("/api/v3/brokerage/orders/historical/{order_id}")
    def get_order(self, req: Req) -> dict[str, Any]:
        order = self.book.orders_by_id.get(str(req.params.get("order_id") or ""))
        if order is None or self.scenarios.hides(order):
            # ccxt has no mapping for this answer: it raises a plain ExchangeError.
            raise error(404, "NOT_FOUND", "order with this orderID was not found")
        self.scenarios.status_check(order)
        return {"order": self.order_json(order)}

    @get("/api/v3/brokerage/orders/historical/batch")
    def list_orders(self, req: Req) -> dict[str, Any]:
        statuses = query_values(req, "order_status")
        products = query_values(req, "product_ids") + query_values(req, "product_id")
        order_ids = query_values(req, "order_ids")
        orders = list(self.book.orders)
        if statuses:
            orders = [o for o in orders if self.venue.exchange_status(o) in statuses]
        if products:
            orders = [o for o in orders if self.venue.market_id(self.book.markets[o.symbol]) in products]
        if order_ids:
            orders = [o for o in orders if o.order_id in order_ids]
        orders = [o for o in orders if not (o.status == "open" and self.scenarios.hides(o))]
        orders.reverse()  # newest first
        limit = int(req.params.get("limit") or 100)
        return {
            "orders": [self.order_json(o) for o in orders[:limit]],
            "sequence": "0",
            "has_next": False,
            "cursor": "",
        }

    @post("/api/v3/brokerage/orders/batch_cancel")
    def batch_cancel(self, req: Req) -> dict[str, Any]:
        ids = req.params.get("order_ids")
        if not isinstance(ids, list) or not ids:
            raise invalid("order_ids is required")
        results = []
        for order_id in ids:
            order = self.book.orders_by_id.get(str(order_id))
            if order is None or self.scenarios.hides(order) or order.status != "open":
                # ccxt raises BadRequest for any unsuccessful cancel.
                results.append(
                    {"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": str(order_id)}
                )
                continue
            self.book.cancel(order, cancel_type="CancelByUser")
            results.append(
                {
                    "success": True,
                    "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON",
                    "order_id": order.order_id,
                }
            )
        return {"results": results}

    @get("/api/v3/brokerage/orders/historical/fills")
    def fills(self, req: Req) -> dict[str, Any]:
        order_ids = query_values(req, "order_id", "order_ids")
        products = query_values(req, "product_id", "product_ids")
        trades = list(self.book.trades)
        if order_ids:
            trades = [t for t in trades if t.order_id in order_ids]
        if products:
            trades = [t for t in trades if self.venue.market_id(self.book.markets[t.symbol]) in products]
        trades.reverse()  # newest first
        limit = int(req.params.get("limit") or 100)
        return {
            "fills": [
                {
                    "entry_id": t.trade_id,
                    "trade_id": t.trade_id,
                    "order_id": t.order_id,
                    "trade_time": iso(t.time_ms),
                    "trade_type": "FILL",
                    "price": plain(t.price),
                    "size": plain(t.amount),
                    "commission": plain(t.fee),
                    "product_id": self.venue.market_id(self.book.markets[t.symbol]),
                    "sequence_timestamp": iso(t.time_ms),
                    "liquidity_indicator": "MAKER" if t.is_maker else "TAKER",
                    "size_in_quote": False,
                    "user_id": USER_ID,
                    "side": t.side.upper(),
                    "retail_portfolio_id": PORTFOLIO_ID,
                }
                for t in trades[:limit]
            ],
            "cursor": "",
        }
