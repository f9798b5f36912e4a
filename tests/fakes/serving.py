"""Serving a test double's ASGI app with uvicorn in a thread of its own, stopped at once."""

from __future__ import annotations

import asyncio
import socket
import threading

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
