"""/metrics in Prometheus' text format, and the webhook's answer time measured around its route.

Who may read /metrics: without TRADEWIRE_METRICS_TOKEN only clients on this machine (loopback; a
reverse proxy on the same machine counts as one, so don't route /metrics through it or set a token);
with a token, any client sending `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from tradewire.api.auth import RuntimeDep

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

WEBHOOKS = "/api/v1/webhooks/"

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    """Prometheus metrics: see the module's docstring for who may read them."""
    token = runtime.settings.metrics_token
    if token is None:
        if not _loopback(request.client.host if request.client else None):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "metrics are served to this machine only")
    else:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "send 'Authorization: Bearer <TRADEWIRE_METRICS_TOKEN>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
    return Response(await runtime.meters.exposition(), media_type=CONTENT_TYPE_LATEST)


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _WebhookMeter(Protocol):
    def observe(self, status: int, seconds: float) -> None: ...


class WebhookTiming:
    """ASGI middleware: each webhook request's time to its answer, by status (refusals included)."""

    def __init__(self, app: ASGIApp, meter: _WebhookMeter) -> None:
        self.app = app
        self.meter = meter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not (path.startswith(WEBHOOKS) or path.startswith(scope.get("root_path", "") + WEBHOOKS)):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = 500  # what the server answers when the app raises before answering

        async def timed_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.meter.observe(answered, time.perf_counter() - started)
