"""Security headers on every response, the server's own error pages included.

API answers get a Content-Security-Policy that allows nothing (they are data, never pages). The
documentation pages (/docs, /redoc) load only the server's own assets, and Swagger UI starts from one
inline script: that script is allowed by its SHA-256 hash, computed from the page as it is sent, so
no other inline script could run. The dashboard (api/dashboard.py) runs no inline script or style at
all: its policy allows this server's own files and connections (the live WebSocket included) only.
Strict-Transport-Security only when configured (behind TLS).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# 'self' in connect-src covers ws:/wss: to this host too (CSP Level 3), so the live channel needs no
# address taken from a request header.
DASHBOARD_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


class SecurityHeaders:
    """ASGI middleware adding the headers below to each HTTP response that does not set them itself;
    `pages` are the paths answered with HTML that may run the scripts they carry inline; `dashboard`
    the paths of the dashboard's page, which runs only the server's own script files."""

    def __init__(
        self, app: ASGIApp, pages: Iterable[str] = (), hsts_max_age_s: int = 0, dashboard: Iterable[str] = ()
    ) -> None:
        self.app = app
        self.pages = frozenset(pages)
        self.dashboard = frozenset(dashboard)
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]
        if hsts_max_age_s > 0:
            common.append((b"strict-transport-security", f"max-age={hsts_max_age_s}".encode()))
        self._common = common
        self._api = [*common, (b"content-security-policy", API_POLICY.encode())]
        self._dashboard = [*common, (b"content-security-policy", DASHBOARD_POLICY.encode())]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        path = scope["path"].removeprefix(scope.get("root_path", ""))
        try:
            if path in self.pages:
                await self.app(scope, receive, self._page_sender(guarded))
            elif path in self.dashboard:
                await self.app(scope, receive, self._fixed_sender(guarded, self._dashboard))
            else:
                await self.app(scope, receive, self._fixed_sender(guarded, self._api))
        except Exception:
            if not started:  # the server's own 500 would carry none of the headers: answer it here
                await self._internal_error(send)
            raise

    @staticmethod
    def _fixed_sender(send: Send, extra: Headers) -> Send:
        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _merged(message.get("headers", []), extra)
            await send(message)

        return sender

    def _page_sender(self, send: Send) -> Send:
        """Hold the page until its body is complete, then send it with a policy naming its scripts."""
        held: list[Message] = []
        body: list[bytes] = []

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                held.append(message)
                return
            if message["type"] != "http.response.body" or not held:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            content = b"".join(body)
            start = held.pop()
            start["headers"] = _merged(start.get("headers", []), [*self._common, _page_policy(content)])
            await send(start)
            await send({"type": "http.response.body", "body": content, "more_body": False})

        return sender

    async def _internal_error(self, send: Send) -> None:
        body = b"Internal Server Error"
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 500, "headers": _merged(headers, self._api)})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _page_policy(content: bytes) -> tuple[bytes, bytes]:
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(content)
    )
    return b"content-security-policy", PAGE_POLICY.format(scripts=hashes).encode()


def _merged(headers: Iterable[tuple[bytes, bytes]], extra: Iterable[tuple[bytes, bytes]]) -> Headers:
    """`headers` plus each of `extra` whose name the response does not set itself."""
    merged = list(headers)
    present = {name.lower() for name, _ in merged}
    merged.extend((name, value) for name, value in extra if name not in present)
    return merged
