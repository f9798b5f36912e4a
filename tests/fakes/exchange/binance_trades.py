"""Binance's public trade stream (``<symbol>@trade``) on the market-data WebSocket, the way ccxt pro
4.5.90 consumes it for ``watch_trades``.

ccxt connects to ``urls['api']['ws']['spot'] + '/<n>'`` (``/ws/0``, ``/ws/1``…: it spreads
subscriptions over numbered connections) and sends ``{"method": "SUBSCRIBE", "params":
["btcusdt@trade"], "id": n}``; Binance answers ``{"result": null, "id": n}`` and then pushes every
trade as a raw event: ``{"e": "trade", "E": event ms, "s": "BTCUSDT", "t": trade id, "p": price,
"q": quantity, "T": trade ms, "m": buyer is the maker, "M": true}`` (``m`` true: the taker sold).
``UNSUBSCRIBE`` and ``LIST_SUBSCRIPTIONS`` are answered too.

Test levers (through ``FakeExchange``): ``push_trade`` (ids count up per symbol unless given, so a
test can also send one twice), ``drop_trade_streams`` (close or reset every connection),
``pause_trade_stream`` (hold events back on open connections; released in order on resume, late).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from tests.fakes.exchange.binance_conns import Connections, frame, transport_of
from tests.fakes.exchange.formats import d8, now_ms

if TYPE_CHECKING:
    from decimal import Decimal

    from tests.fakes.exchange.binance import Binance


@dataclass(eq=False)
class MarketConn:
    queue: asyncio.Queue[str | None]
    transport: asyncio.BaseTransport | None
    streams: set[str] = field(default_factory=set)  # e.g. "btcusdt@trade"


class TradeStream(Connections[MarketConn]):
    """``/ws/<n>``: SUBSCRIBE requests in, trade events out; state guarded by the book's lock."""

    def __init__(self, venue: Binance) -> None:
        super().__init__(venue.book.lock)
        self.venue = venue
        self.paused = False
        self.held: list[tuple[MarketConn, str]] = []
        self._ids: dict[str, itertools.count[int]] = {}
        self.sent: list[dict[str, Any]] = []  # every trade event pushed, in order

    # ------------------------------------------------------------------ test levers

    def push(
        self,
        market_id: str,
        price: Decimal,
        amount: Decimal,
        taker: str,
        time_ms: int | None,
        trade_id: int | None,
    ) -> dict[str, Any]:
        """One trade on `market_id` to every subscriber of its trade stream (called under the lock)."""
        if taker not in ("buy", "sell"):
            raise ValueError("taker must be buy or sell")
        counter = self._ids.setdefault(market_id, itertools.count(100_000_001))
        event = {
            "e": "trade",
            "E": now_ms(),
            "s": market_id,
            "t": next(counter) if trade_id is None else trade_id,
            "p": d8(price),
            "q": d8(amount),
            "T": now_ms() if time_ms is None else time_ms,
            "m": taker == "sell",  # the buyer was the maker: the taker sold
            "M": True,
        }
        self.sent.append(event)
        name = f"{market_id.lower()}@trade"
        text = frame(event)
        for conn in self.conns:
            if name in conn.streams:
                if self.paused:
                    self.held.append((conn, text))
                else:
                    self.send(conn, text)
        return event

    def pause(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            held, self.held = self.held, []
            for conn, text in held:
                if conn in self.conns:
                    self.send(conn, text)

    def subscribers(self, market_id: str) -> int:
        name = f"{market_id.lower()}@trade"
        return sum(1 for conn in self.conns if name in conn.streams)

    def forget(self) -> None:
        super().forget()
        self.held.clear()

    # ------------------------------------------------------------------ connections

    async def endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        await self.serve(websocket, MarketConn(queue=asyncio.Queue(), transport=transport_of(websocket)))

    def unsubscribe_all(self, conn: MarketConn) -> None:
        conn.streams.clear()

    def answer(self, conn: MarketConn, text: str) -> None:
        try:
            request = json.loads(text)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            conn.queue.put_nowait(frame({"error": {"code": 3, "msg": "Invalid JSON"}}))
            return
        method, params, request_id = request.get("method"), request.get("params"), request.get("id")
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                conn.queue.put_nowait(
                    frame(
                        {
                            "error": {"code": 2, "msg": "Invalid request: params must be a list"},
                            "id": request_id,
                        }
                    )
                )
                return
            known = {f"{spec.market_id.lower()}@trade" for spec in self.venue.book.markets.values()}
            unknown = [p for p in params if p not in known]
            if unknown:
                # Binance: the fake serves trade streams only (real Binance also has depth, kline…).
                conn.queue.put_nowait(
                    frame(
                        {
                            "error": {"code": 2, "msg": f"Invalid request: unknown stream {unknown[0]}"},
                            "id": request_id,
                        }
                    )
                )
                return
            if method == "SUBSCRIBE":
                conn.streams.update(params)
            else:
                conn.streams.difference_update(params)
            conn.queue.put_nowait(frame({"result": None, "id": request_id}))
        elif method == "LIST_SUBSCRIPTIONS":
            conn.queue.put_nowait(frame({"result": sorted(conn.streams), "id": request_id}))
        else:
            conn.queue.put_nowait(
                frame({"error": {"code": 1, "msg": f"Unknown method {method!r}"}, "id": request_id})
            )
