"""A small RFC 6455 server protocol that uvicorn hands upgraded connections to.

uvicorn's own WebSocket support needs ``websockets``/``wsproto`` (not installed), so the fake
brings its own; only the binance user-data stream uses it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import struct
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import uvicorn

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


class WebSocketProtocol(asyncio.Protocol):
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
            # The app may reach the socket (``FakeExchange.drop_streams(abort=True)``).
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
