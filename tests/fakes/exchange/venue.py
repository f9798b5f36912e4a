"""What every venue module fills in: its routes, authentication, wording of order states and
errors, ids, the ccxt options that keep a client on the endpoints the fake serves; and the generic
request dispatch that runs a handler and wraps its answer in the venue's envelope.

A venue's handlers are methods of its ``Endpoints`` classes, each marked with the route it serves
(``@get("/api/v3/order")``, ``@post(...)``, ``@delete(...)``)."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from starlette.routing import BaseRoute

from tests.fakes.exchange.book import DEFAULT_BALANCES, DEFAULT_MARKETS, Book, MarketSpec, Order
from tests.fakes.exchange.scenarios import Scenarios
from tests.fakes.exchange.server import ApiError, Edge, Req, Resp

if TYPE_CHECKING:
    from tests.fakes.exchange.binance_stream import UserDataStream
    from tests.fakes.exchange.binance_trades import TradeStream

RouteKey = tuple[str, str]  # (method, path)
Handler = Callable[[Req], Any]
F = TypeVar("F", bound=Callable[..., Any])
_SERVED_AT = "served_at"  # the attribute a route mark sets on a handler: its route keys


def spot_only() -> dict[str, Any]:
    """ccxt options that keep a client on spot markets (load_markets also loads a venue's futures,
    swaps and options by default); a new dict each time, as ccxt keeps and may change its options."""
    return {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}}


def route(method: str, *paths: str) -> Callable[[F], F]:
    """Mark an ``Endpoints`` method as the handler of ``method`` on each of ``paths``."""

    def mark(handler: F) -> F:
        keys = (*getattr(handler, _SERVED_AT, ()), *((method, path) for path in paths))
        setattr(handler, _SERVED_AT, keys)
        return handler

    return mark


def get(*paths: str) -> Callable[[F], F]:
    return route("GET", *paths)


def post(*paths: str) -> Callable[[F], F]:
    return route("POST", *paths)


def delete(*paths: str) -> Callable[[F], F]:
    return route("DELETE", *paths)


@dataclass(frozen=True)
class Credentials:
    api_key: str
    api_secret: str
    api_password: str  # okx: the key's passphrase


class Venue:
    """One exchange's API on top of the shared book."""

    flavor: ClassVar[str]
    host: ClassVar[str]  # the real API host (named in the edge's error pages)
    edge: ClassVar[Edge]  # what stands in front of the API: its HTML error pages
    server_errors: ClassVar[dict[int, dict[str, Any]]]  # the API's own 5xx JSON answers
    create_paths: ClassVar[tuple[str, ...]]
    create_cid_param: ClassVar[str]
    fee_in_base_on_buy: ClassVar[bool] = False
    min_notional: ClassVar[bool] = True
    default_markets: ClassVar[tuple[MarketSpec, ...]] = DEFAULT_MARKETS
    default_balances: ClassVar[dict[str, str]] = DEFAULT_BALANCES
    # Our order status -> the venue's wording with nothing filled, and with part of it filled.
    statuses: ClassVar[dict[str, tuple[str, str]]]
    # Ids of new orders and trades, from the book's running numbers.
    order_id: staticmethod[[int], str]
    trade_id: staticmethod[[int], str]
    stream: UserDataStream | None = None
    trade_stream: TradeStream | None = None  # binance: public <symbol>@trade streams

    def __init__(self, book: Book, scenarios: Scenarios, credentials: Credentials) -> None:
        self.book = book
        self.scenarios = scenarios
        self.api_key = credentials.api_key
        self.api_secret = credentials.api_secret
        self.api_password = credentials.api_password
        self.by_id: dict[str, MarketSpec] = {self.market_id(spec): spec for spec in book.markets.values()}
        self.routes: dict[RouteKey, Handler] = self.make_routes()

    # ------------------------------------------------------------------ identity

    @staticmethod
    def default_api_key() -> str:
        return "test-key"

    @staticmethod
    def default_secret() -> str:
        return "test-secret"

    @staticmethod
    def market_id(spec: MarketSpec) -> str:
        """The venue's id for a market: ``BTCUSDT`` unless a venue says otherwise."""
        return spec.market_id

    def exchange_status(self, order: Order) -> str:
        """The venue's own wording of the order's state."""
        unfilled, partly_filled = self.statuses[order.status]
        return partly_filled if order.filled > 0 else unfilled

    # ------------------------------------------------------------------ requests

    def make_routes(self) -> dict[RouteKey, Handler]:
        raise NotImplementedError

    def route(self, method: str, path: str) -> tuple[RouteKey, dict[str, str]]:
        """The route a request takes, and parameters taken from its path (none unless templated)."""
        return (method, path), {}

    def is_private(self, path: str) -> bool:
        raise NotImplementedError

    def authenticate(self, req: Req) -> None:
        """Raise ``ApiError`` unless the request is signed with this account's key."""
        raise NotImplementedError

    def sign(self, payload: str) -> str:
        """HMAC-SHA256 of the payload with the account's secret, hex (binance, bybit, mexc)."""
        return hmac.new(self.api_secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    def dispatch(self, req: Req) -> Resp:
        key, path_params = self.route(req.method, req.path)
        req.params.update(path_params)
        handler = self.routes.get(key)
        if handler is None:
            # Unknown endpoints answer like the exchange edge: 404 without a JSON body.
            return Resp(404, None)
        try:
            if self.is_private(req.path):
                self.authenticate(req)
            result = handler(req)
        except ApiError as error:
            return Resp(error.status, error.payload)
        except (ValueError, ArithmeticError, TypeError):
            # A malformed number/JSON parameter: answer like the exchange, not with a 500.
            return self.malformed()
        return result if isinstance(result, Resp) else self.ok(result)

    def ok(self, result: Any) -> Resp:
        """A handler's result in the venue's success envelope."""
        return Resp(200, result)

    def malformed(self) -> Resp:
        raise NotImplementedError

    def is_create(self, method: str, path: str) -> bool:
        return method == "POST" and path in self.create_paths

    def create_cid(self, req: Req) -> Any:
        """The client order id a create request carries (None: none sent)."""
        return req.params.get(self.create_cid_param)

    # ------------------------------------------------------------------ error answers

    def client_error_body(self, status: int) -> str:
        """What answers an injected 4xx fault that names no body: the venue's rate-limit or
        generic error."""
        raise NotImplementedError

    def server_error_json(self, status: int) -> dict[str, Any]:
        """The API's own JSON answer with a 5xx."""
        return self.server_errors.get(status) or self.server_errors[500]

    # ------------------------------------------------------------------ ccxt wiring

    def ccxt_urls(self, base_url: str) -> dict[str, Any]:
        """``urls['api']`` for a ccxt client: one 'rest' host unless a venue has more."""
        return {"rest": base_url}

    def ccxt_options(self) -> dict[str, Any]:
        return {}

    def ccxt_config(self, base_url: str) -> dict[str, Any]:
        return {
            "apiKey": self.api_key,
            "secret": self.api_secret,
            "enableRateLimit": False,
            "timeout": 5000,
            "options": self.ccxt_options(),
            "urls": {"api": self.ccxt_urls(base_url)},
        }

    def ccxt_ws_urls(self, base_url: Callable[[], str]) -> dict[str, Any]:
        """``urls['api']['ws']``, for the server at ``base_url()``; no streams unless a venue has them."""
        raise NotImplementedError(
            f"the fake serves no WebSocket streams for {self.flavor}: only binance spot has a "
            "user-data stream (use REST polling against the bybit fake)"
        )

    def websocket_routes(self) -> list[BaseRoute]:
        return []

    def websocket_protocol(self) -> Any:
        """uvicorn's ``ws=`` setting: no WebSocket unless a venue serves one."""
        return "none"


def wording(**words: str | tuple[str, str]) -> dict[str, tuple[str, str]]:
    """A venue's words for our order states (open, closed, canceled, expired): one word, or one
    with nothing filled and one with part of the order filled."""
    return {state: word if isinstance(word, tuple) else (word, word) for state, word in words.items()}


def numbered(offset: int = 0, suffix: str = "") -> Callable[[int], str]:
    """Ids that count up from the book's running numbers."""
    return lambda n: f"{offset + n}{suffix}"


def random_uuid(n: int) -> str:
    return str(uuid.uuid4())


V = TypeVar("V", bound=Venue)


class Endpoints(Generic[V]):
    """A group of one venue's route handlers (market data, account), sharing its book."""

    # Routes of a base class this one does not serve (mexc lacks some of binance's endpoints).
    unserved: ClassVar[frozenset[RouteKey]] = frozenset()

    def __init__(self, venue: V) -> None:
        self.venue = venue
        self.book = venue.book
        self.scenarios = venue.scenarios

    def routes(self) -> dict[RouteKey, Handler]:
        """The marked methods by route, those of base classes too; a method overridden without a
        mark keeps serving its base's routes."""
        routes: dict[RouteKey, Handler] = {}
        for klass in reversed(type(self).__mro__):
            for name, member in vars(klass).items():
                for key in getattr(getattr(member, "__func__", member), _SERVED_AT, ()):
                    routes[key] = getattr(self, name)
        return {key: handler for key, handler in routes.items() if key not in self.unserved}
