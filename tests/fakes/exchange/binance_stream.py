"""Binance's spot user-data stream, the way ccxt pro 4.5.90 consumes it.

The WebSocket API (``/ws-api/v3``, ``urls['api']['ws']['ws-api']['spot']``) with
``userDataStream.subscribe.signature`` (HMAC-signed ``apiKey`` + ``timestamp``), after which every
change of an order (REST create, fill, cancel, ``fill()``, ``cancel_manually()``, ``set_price()``
crossing, ``fill_on_checks``, ``fill_after_cancel``) is pushed as ``{"subscriptionId": n, "event": {"e":
"executionReport", ...}}`` followed by an ``outboundAccountPosition`` when balances moved.  The
legacy listenKey stream (``POST /api/v3/userDataStream`` + ``/ws/<listenKey>``) is not modelled:
ccxt no longer uses it for spot.  Use ``ccxt.pro.binance(fake.ccxt_pro_config())``.  Binance pings
every 20 s and drops a connection whose pong is a minute late (``FakeExchange.ws_ping_interval``,
``ws_pong_timeout``); the RFC 6455 transport is :mod:`tests.fakes.exchange.websocket`.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.websockets import WebSocket

from tests.fakes.exchange.binance import check_window, client_id, error, mandatory, order_type
from tests.fakes.exchange.binance_conns import Connections, frame, transport_of
from tests.fakes.exchange.book import Order, OrderEvent, Trade
from tests.fakes.exchange.formats import d8, now_ms
from tests.fakes.exchange.server import ApiError

if TYPE_CHECKING:
    from tests.fakes.exchange.binance import Binance


@dataclass(eq=False)
class StreamConn:
    """One connection to the WebSocket API; user-data subscriptions ride on it."""

    queue: asyncio.Queue[str | None]  # outgoing text frames in order; None: close the connection
    transport: asyncio.BaseTransport | None
    return_rate_limits: bool = True
    subscriptions: dict[int, str] = field(default_factory=dict)  # subscriptionId -> apiKey
    next_subscription: int = 0
    weight: int = 0


class UserDataStream(Connections[StreamConn]):
    """The WebSocket API endpoint and the subscriptions on it; order events come from the book."""

    def __init__(self, venue: Binance) -> None:
        super().__init__(venue.book.lock)
        self.venue = venue
        self.book = venue.book
        self._exec_ids = itertools.count(9_000_000_001)  # executionReport "I"
        self.book.listeners.append(self.push)

    # ------------------------------------------------------------------ events

    def push(self, event: OrderEvent) -> None:
        """Push an order change to every user-data subscription (called under ``book.lock``)."""
        targets = [
            (conn, subscription)
            for conn in self.conns
            for subscription, key in conn.subscriptions.items()
            if key == self.venue.api_key
        ]
        if self.loop is None or not targets:
            return
        events = [self.execution_report(event.order, event.kind, event.trade, event.cancel_client_id)]
        if event.balances:
            events.append(self.account_position(event.order))
        for conn, subscription in targets:
            for payload in events:
                self.send(conn, frame({"subscriptionId": subscription, "event": payload}))

    def execution_report(
        self, order: Order, exec_type: str, trade: Trade | None, cancel_client_id: str | None
    ) -> dict[str, Any]:
        spec = self.book.markets[order.symbol]
        zero = d8(Decimal(0))
        canceled = exec_type == "CANCELED"
        report: dict[str, Any] = {
            "e": "executionReport",
            "E": now_ms(),
            "s": spec.market_id,
            # A cancel reports the cancel request's client id in c and the order's own in C.
            "c": (cancel_client_id or client_id()) if canceled else order.client_order_id,
            "S": order.side.upper(),
            "o": order_type(order),
            "f": order.time_in_force,
            "q": d8(order.amount),
            "p": d8(order.price or Decimal(0)),
            "P": zero,
            "F": d8(order.iceberg_qty or Decimal(0)),
            "g": -1,
            "C": order.client_order_id if canceled else "",
            "x": exec_type,
            "X": self.venue.exchange_status(order),
            "r": "NONE",
            "i": int(order.order_id),
            "l": d8(trade.amount) if trade else zero,
            "z": d8(order.filled),
            "L": d8(trade.price) if trade else zero,
            "n": d8(trade.fee) if trade else "0",
            "N": trade.fee_asset if trade else None,
            "T": trade.time_ms if trade else order.updated_ms,
            "t": int(trade.trade_id) if trade else -1,
            "I": next(self._exec_ids),
            "w": order.kind == "limit" and order.status == "open",
            "m": trade.is_maker if trade else False,
            "M": trade is not None,
            "O": order.created_ms,
            "Z": d8(order.cost),
            "Y": d8(trade.cost) if trade else zero,
            "Q": d8(order.quote_order_qty or Decimal(0)),
        }
        if order.kind == "limit":
            report["W"] = order.created_ms  # working time: only for orders that went on the book
        report["V"] = order.stp_mode
        return report

    def account_position(self, order: Order) -> dict[str, Any]:
        spec = self.book.markets[order.symbol]
        return {
            "e": "outboundAccountPosition",
            "E": now_ms(),
            "u": order.updated_ms,
            "B": [
                {
                    "a": asset,
                    "f": d8(self.book.free.get(asset, Decimal(0))),
                    "l": d8(self.book.locked.get(asset, Decimal(0))),
                }
                for asset in (spec.base, spec.quote)
            ],
        }

    # ------------------------------------------------------------------ connections

    async def endpoint(self, websocket: WebSocket) -> None:
        """``/ws-api/v3``: JSON requests in, responses and user-data events out (one pump task)."""
        await websocket.accept()
        query = dict(parse_qsl(websocket.scope.get("query_string", b"").decode("latin-1")))
        conn = StreamConn(
            queue=asyncio.Queue(),
            transport=transport_of(websocket),
            return_rate_limits=str(query.get("returnRateLimits", "true")).lower() != "false",
        )
        await self.serve(websocket, conn)

    def unsubscribe_all(self, conn: StreamConn) -> None:
        conn.subscriptions.clear()

    def subscribed(self) -> int:
        """Connections with an active user-data subscription."""
        return sum(1 for conn in self.conns if conn.subscriptions)

    # ------------------------------------------------------------------ requests

    def reply(
        self,
        conn: StreamConn,
        request_id: Any,
        *,
        result: Any = None,
        failure: ApiError | None = None,
        rate_limits: bool | None = None,
    ) -> None:
        answer: dict[str, Any] = {"id": request_id, "status": 200 if failure is None else failure.status}
        if failure is None:
            answer["result"] = result
        else:
            answer["error"] = failure.payload
        if conn.return_rate_limits if rate_limits is None else rate_limits:
            answer["rateLimits"] = [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                    "count": conn.weight,
                }
            ]
        conn.queue.put_nowait(frame(answer))

    def answer(self, conn: StreamConn, text: str) -> None:
        """Answer one WebSocket API request (on the server loop, under ``book.lock``)."""
        conn.weight += 2
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict) or not isinstance(request.get("params", {}), dict):
            failure = error(-1000, "Malformed request: expected a JSON object with id, method, params.")
            self.reply(conn, None, failure=failure)
            return
        request_id = request.get("id")
        method = request.get("method")
        params: dict[str, Any] = request.get("params") or {}
        flag = params.get("returnRateLimits")
        rate_limits = None if flag is None else str(flag).lower() != "false"
        try:
            if method == "userDataStream.subscribe.signature":
                result: Any = self.subscribe(conn, params)
            elif method == "userDataStream.unsubscribe":
                result = self.unsubscribe(conn, params)
            elif method == "session.subscriptions":
                result = [{"subscriptionId": sid} for sid in conn.subscriptions]
            elif method == "ping":
                result = {}
            elif method == "time":
                result = {"serverTime": now_ms()}
            else:
                # Not modelled: session.logon (Ed25519 keys only), userDataStream.subscribe, trading.
                raise error(
                    -1000,
                    f"The fake WebSocket API does not serve method {method!r} (served: "
                    "userDataStream.subscribe.signature, userDataStream.unsubscribe, "
                    "session.subscriptions, ping, time).",
                )
        except ApiError as failure:
            self.reply(conn, request_id, failure=failure, rate_limits=rate_limits)
            return
        self.reply(conn, request_id, result=result, rate_limits=rate_limits)

    def subscribe(self, conn: StreamConn, params: dict[str, Any]) -> dict[str, int]:
        api_key = self.venue.api_key
        for name in ("apiKey", "timestamp", "signature"):
            if params.get(name) in (None, ""):
                raise mandatory(name)
        if params["apiKey"] != api_key:
            raise error(-2015, "Invalid API-key, IP, or permissions for action.", 401)

        def text(value: Any) -> str:
            return ("true" if value else "false") if isinstance(value, bool) else str(value)

        # WebSocket API signature: every other param, sorted by name, as key=value&... (HMAC-SHA256).
        payload = "&".join(f"{k}={text(v)}" for k, v in sorted(params.items()) if k != "signature")
        if not hmac.compare_digest(self.venue.sign(payload), str(params["signature"])):
            raise error(-1022, "Signature for this request is not valid.")
        try:
            stamp = int(params["timestamp"])
            window_ms = float(params.get("recvWindow", 5000))
        except (TypeError, ValueError):
            raise error(-1100, "Illegal characters found in parameter 'timestamp'.") from None
        if window_ms > 60000:
            raise error(-1131, "recvWindow must be less than 60000")
        check_window(stamp, window_ms)
        if api_key in conn.subscriptions.values():
            # Binance allows one subscription per account and connection (the fake's wording).
            raise error(-1000, "This account already has a user data stream on this connection.")
        subscription = conn.next_subscription
        conn.next_subscription += 1
        conn.subscriptions[subscription] = api_key
        return {"subscriptionId": subscription}

    @staticmethod
    def unsubscribe(conn: StreamConn, params: dict[str, Any]) -> dict[str, Any]:
        wanted = params.get("subscriptionId")
        ended = [sid for sid in conn.subscriptions if wanted is None or str(sid) == str(wanted)]
        for sid in ended:
            del conn.subscriptions[sid]
            event = {"e": "eventStreamTerminated", "E": now_ms()}
            conn.queue.put_nowait(frame({"subscriptionId": sid, "event": event}))
        return {}
