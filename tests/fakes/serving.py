"""Serving a test double: its ASGI app with uvicorn in a thread of its own, stopped at once, or its
POST handler on the standard library's threaded HTTP server."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn


async def serve_until(
    server: uvicorn.Server, sock: socket.socket, ready: threading.Event, stopping: asyncio.Event
) -> None:
    """Serve on `sock` (`ready` is set once started, or failed) until `stopping` is set, then hang up
    on every connection at once: uvicorn's own run loop polls for exit every 0.1 s and lingers 0.1 s
    on shutdown, and a test double starts and stops per test."""
    config = server.config
    if not config.loaded:
        config.load()
    server.lifespan = config.lifespan_class(config)
    try:
        await server.startup(sockets=[sock])
    finally:
        ready.set()
    await stopping.wait()
    for listener in server.servers:
        listener.close()
    for connection in list(server.server_state.connections):
        transport = getattr(connection, "transport", None)
        if transport is not None:
            transport.abort()


class PostServer:
    """A local HTTP/1.1 server in a daemon thread that hands each POST (its handler and raw body) to
    `serve`: the transport of the fakes that only take POSTs (webhook_receiver, openai_api)."""

    def __init__(self, name: str, serve: Callable[[BaseHTTPRequestHandler, bytes], None]) -> None:
        self._name = name
        self._serve = serve
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        serve = self._serve

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                serve(self, self.rfile.read(length))

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=self._name, daemon=True
        )
        thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def origin(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"
