"""A local webhook receiver for tests: records every request (path, headers, raw body, when) and
answers what the test scripted, in order: a status with a JSON error body (500, 400, 503 …), 429 with
Retry-After, or an answer held back (slowness, a timeout) for a time or until the test lets it go. With
nothing scripted it answers 204, as Discord does (Slack answers 200 "ok"; both are 2xx).

Scripts can be per path, so one server plays several endpoints (`/a`, `/b`): a slow `/slow` never
holds up `/fast`, each request is served on a thread of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.serving import PostServer


@dataclass(frozen=True)
class Scripted:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    until: threading.Event | None = None  # answered once this is set (30 s at most)


@dataclass(frozen=True)
class Received:
    """A request as the receiver got it."""

    path: str
    headers: dict[str, str]  # names in lower case
    raw: bytes
    at: float  # time.monotonic()
    status: int  # what it was answered

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    def signed_by(self, secret: str) -> bool:
        """Whether X-Tradewire-Signature is the HMAC-SHA256 of the raw body with `secret`."""
        expected = "sha256=" + hmac.new(secret.encode(), self.raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("x-tradewire-signature", ""), expected)


class WebhookReceiver:
    """Serves on 127.0.0.1 in a daemon thread."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._scripts: dict[str, deque[Scripted]] = {}
        self._lock = threading.Lock()
        self._http = PostServer("fake-hooks", self._serve)

    # -- scripting ------------------------------------------------------------------------------

    def error(self, status: int, path: str = "", times: int = 1, message: str = "") -> None:
        """Answer `status` with a JSON error body (`times` requests)."""
        body = {"error": message or f"scripted {status}", "code": status}
        for _ in range(times):
            self._push(path, Scripted(status, body))

    def too_many(self, retry_after: str, path: str = "") -> None:
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
        self._push(path, Scripted(429, body, {"Retry-After": retry_after}))

    def slow(self, delay_s: float, path: str = "", status: int = 204) -> None:
        self._push(path, Scripted(status, delay_s=delay_s))

    def hold(self, path: str = "", status: int = 204) -> threading.Event:
        """Answer the next request only once the returned event is set (30 s at most)."""
        released = threading.Event()
        self._push(path, Scripted(status, until=released))
        return released

    def _push(self, path: str, item: Scripted) -> None:
        with self._lock:
            self._scripts.setdefault(path, deque()).append(item)

    def _next(self, path: str) -> Scripted:
        with self._lock:
            for key in (path, ""):
                queue = self._scripts.get(key)
                if queue:
                    return queue.popleft()
        return Scripted(204)

    def on(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout_s: float = 10.0) -> list[Received]:
        """At least `count` requests (to `path`, or any), waiting up to `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                found = [r for r in self.received if path is None or r.path == path]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    # -- serving --------------------------------------------------------------------------------

    def start(self) -> str:
        self._http.start()
        return self.url

    def stop(self) -> None:
        self._http.stop()

    @property
    def url(self) -> str:
        return self._http.origin

    def _serve(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        item = self._next(handler.path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:  # recorded on arrival, answered after the scripted delay
            self.received.append(Received(handler.path, headers, raw, time.monotonic(), item.status))
        if item.delay_s:
            time.sleep(item.delay_s)
        if item.until is not None:
            item.until.wait(30.0)
        body = b"" if item.body is None else json.dumps(item.body).encode()
        try:
            handler.send_response(item.status)
            for name, value in item.headers.items():
                handler.send_header(name, value)
            if body:
                handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if body:
                handler.wfile.write(body)
        except OSError:  # the client gave up (a timeout)
            return
