"""A local OpenAI-compatible chat-completions server for tests: the real wire format, scripted.

`POST /v1/chat/completions` answers with what the test queued, in order (`answer`, `malformed`,
`refusal`, `error`, `slow`); with nothing queued it answers HOLD. Every request is recorded (its JSON
body and headers), and checked the way the real API checks it: a bearer key (401 with the real
error body otherwise), a model, messages, and image parts as `data:image/png;base64,...` URLs.

Response shape as OpenAI sends it (openai-python's ChatCompletion): id, object "chat.completion",
created, model, choices[{index, message{role, content, refusal}, logprobs, finish_reason}],
usage{prompt_tokens, completion_tokens, total_tokens}; errors as {"error": {message, type, param,
code}} with 401, 429 (+ retry-after), 500, 503.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.serving import PostServer

KEY = "sk-test-fake-openai-key-0123456789"
HOLD = {
    "recommendation": "HOLD",
    "setup_quality": 0.2,
    "risk_reward_ratio": 0.1,
    "market_environment": 0.3,
    "reasoning": "no setup",
}

_ERRORS = {
    401: (
        "Incorrect API key provided: sk-te***. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    429: ("Rate limit reached for requests. Please try again in 20s.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    503: ("The engine is currently overloaded, please try again later", "server_error", None),
}


@dataclass
class Scripted:
    """One queued answer: a status and body, optional headers, and a delay before it is sent."""

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Seen:
    """A request as the fake received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def images(self) -> list[bytes]:
        """The PNG bytes of every image part of the request's messages."""
        found = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            for part in content if isinstance(content, list) else []:
                if part.get("type") == "image_url":
                    url = part["image_url"]["url"]
                    found.append(base64.b64decode(url.split(",", 1)[1]))
        return found

    @property
    def text(self) -> str:
        parts = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            for part in content if isinstance(content, list) else []:
                if part.get("type") == "text":
                    parts.append(part["text"])
        return "\n".join(parts)


class FakeOpenAI:
    """Serves on 127.0.0.1 in a daemon thread; `base_url` ends in /v1 as the SDK expects."""

    def __init__(self, key: str = KEY, prompt_tokens: int = 850, completion_tokens: int = 120) -> None:
        self.key = key
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self.requests: list[Seen] = []
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._http = PostServer("fake-openai", self._serve)

    # -- scripting ------------------------------------------------------------------------------

    def answer(self, content: dict[str, Any] | str, delay_s: float = 0.0) -> None:
        """A completion whose message content is `content` (a dict goes as its JSON text)."""
        text = content if isinstance(content, str) else json.dumps(content)
        self._push(Scripted(200, {"content": text}, delay_s=delay_s))

    def malformed(self, text: str = '{"recommendation": "BUY", "entry": 1') -> None:
        self.answer(text)

    def refusal(self, text: str = "I'm sorry, I can't help with trading decisions.") -> None:
        """A refusal as the API reports it: content null, message.refusal set."""
        self._push(Scripted(200, {"content": None, "refusal": text}))

    def error(self, status: int, retry_after: int | None = None, times: int = 1) -> None:
        message, kind, code = _ERRORS[status]
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        for _ in range(times):
            self._push(Scripted(status, body, headers))

    def slow(self, delay_s: float, content: dict[str, Any] | None = None) -> None:
        """An answer held back `delay_s` seconds (longer than the client's timeout: a timeout)."""
        self.answer(content or HOLD, delay_s=delay_s)

    def _push(self, item: Scripted) -> None:
        with self._lock:
            self._script.append(item)

    def _next(self) -> Scripted:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return Scripted(200, {"content": json.dumps(HOLD)})

    @property
    def completions(self) -> list[Seen]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- serving --------------------------------------------------------------------------------

    def start(self) -> str:
        self._http.start()
        return self.base_url

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"{self._http.origin}/v1"

    def _serve(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        seen = Seen(handler.path, {k.lower(): v for k, v in handler.headers.items()}, body)
        with self._lock:
            self.requests.append(seen)
        if handler.path != "/v1/chat/completions":
            return _send(handler, 404, _error_body("Unknown request URL", "invalid_request_error", None))
        if handler.headers.get("authorization") != f"Bearer {self.key}":
            message, kind, code = _ERRORS[401]
            return _send(handler, 401, _error_body(message, kind, code))
        problem = _invalid(body)
        if problem:
            return _send(handler, 400, _error_body(problem, "invalid_request_error", None))
        item = self._next()
        if item.delay_s:
            time.sleep(item.delay_s)
        if item.status != 200:
            return _send(handler, item.status, item.body, item.headers)
        assert isinstance(item.body, dict)
        _send(handler, 200, self._completion(body["model"], item.body))

    def _completion(self, model: str, message: dict[str, Any]) -> dict[str, Any]:
        content, refusal = message.get("content"), message.get("refusal")
        return {
            "id": f"chatcmpl-fake{next(self._ids):06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        }


def _invalid(body: dict[str, Any]) -> str | None:
    """What the real API would refuse with 400 (the parts of a request this fake understands)."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' is a required property"
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if part.get("type") == "image_url":
                url = str(part.get("image_url", {}).get("url", ""))
                head, _, data = url.partition(",")
                if head != "data:image/png;base64":
                    return "Invalid image URL: expected a base64-encoded data URL with an image MIME type"
                try:
                    png = base64.b64decode(data, validate=True)
                except binascii.Error:
                    return "Invalid base64 image data"
                if not png.startswith(b"\x89PNG\r\n\x1a\n"):
                    return "You uploaded an unsupported image. Please make sure your image is valid."
            elif part.get("type") != "text":
                return f"Invalid content part type: {part.get('type')!r}"
    return None


def _error_body(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: dict[str, Any] | str,
    headers: dict[str, str] | None = None,
) -> None:
    data = (body if isinstance(body, str) else json.dumps(body)).encode()
    try:
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timeout test)
