"""What Binance's two fake WebSocket endpoints (the user-data stream of binance_stream, the trade
streams of binance_trades) share: compact JSON frames, one pump task per connection writing its
queue out, and dropping every connection for a test."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from typing import Any, Generic, Protocol, TypeVar

from starlette.websockets import WebSocket, WebSocketDisconnect


class PushConn(Protocol):
    queue: asyncio.Queue[str | None]  # outgoing text frames in order; None: close the connection
    transport: asyncio.BaseTransport | None


Conn = TypeVar("Conn", bound=PushConn)


def frame(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def transport_of(websocket: WebSocket) -> asyncio.BaseTransport | None:
    """The connection's socket (tests.fakes.exchange.websocket puts it in the scope), for aborts."""
    transport: asyncio.BaseTransport | None = websocket.scope.get("extensions", {}).get("tradewire.transport")
    return transport


class Connections(Generic[Conn]):
    """The open connections of one endpoint and the server loop they live on; `lock` (the book's)
    guards them, and every request is answered under it."""

    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.conns: set[Conn] = set()
        self.loop: asyncio.AbstractEventLoop | None = None

    def answer(self, conn: Conn, text: str) -> None:
        """One request from the client (on the server loop, under the lock)."""
        raise NotImplementedError

    def unsubscribe_all(self, conn: Conn) -> None:
        """The connection is closing: it takes no more events."""
        raise NotImplementedError

    async def serve(self, websocket: WebSocket, conn: Conn) -> None:
        """Requests in, answers and events out (one pump task), until the client goes."""
        with self.lock:
            self.loop = asyncio.get_running_loop()
            self.conns.add(conn)
        pump = asyncio.create_task(self._pump(websocket, conn))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", errors="replace")
                with self.lock:
                    self.answer(conn, text)
        finally:
            with self.lock:
                self.conns.discard(conn)
                self.unsubscribe_all(conn)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    @staticmethod
    async def _pump(websocket: WebSocket, conn: Conn) -> None:
        while True:
            text = await conn.queue.get()
            try:
                if text is None:
                    await websocket.close(code=1001, reason="going away")
                    return
                await websocket.send_text(text)
            except (WebSocketDisconnect, OSError, RuntimeError):
                return  # the peer is gone; the receive side cleans up

    def send(self, conn: Conn, text: str) -> None:
        """Queue a frame from any thread: call_soon_threadsafe keeps the frames in order per connection."""
        loop = self.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(conn.queue.put_nowait, text)

    def drop(self, *, abort: bool) -> int:
        """Close every connection (see ``FakeExchange.drop_streams``), or reset it when `abort`;
        called under the lock."""
        conns = list(self.conns)
        for conn in conns:
            self.unsubscribe_all(conn)
        loop = self.loop
        if loop is None:
            return 0
        for conn in conns:
            with contextlib.suppress(RuntimeError):  # loop already closed
                if abort and conn.transport is not None:
                    loop.call_soon_threadsafe(conn.transport.abort)  # type: ignore[attr-defined]
                else:
                    loop.call_soon_threadsafe(conn.queue.put_nowait, None)
        return len(conns)

    def forget(self) -> None:
        """The server stopped: its connections are gone."""
        self.conns.clear()
        self.loop = None
