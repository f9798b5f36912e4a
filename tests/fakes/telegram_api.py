"""A local fake of the Telegram Bot API, served over real HTTP for the real python-telegram-bot client.

It speaks the Bot API as https://core.telegram.org/bots/api describes it: `POST /bot<token>/<method>`
with a JSON, urlencoded or multipart body (python-telegram-bot sends forms whose nested values are JSON
text), answered `{"ok": true, "result": ...}` with the real objects (User, Chat, Message with
`entities`, CallbackQuery, Update) or `{"ok": false, "error_code": ..., "description": ...}` exactly as
Telegram words its errors (401 for a wrong token, 400 "Bad Request: chat not found", 403 "Forbidden:
bot was blocked by the user", 429 "Too Many Requests: retry after N" with `parameters.retry_after`).

`getUpdates` has Telegram's semantics: `offset` confirms (and forgets) every update below it, `limit`
caps the batch (1-100), `timeout` holds the request until an update arrives (long polling).

A webhook (`setWebhook`: an HTTPS URL, a secret token of 1-256 of A-Z a-z 0-9 _ -) replaces polling as
Telegram does it: `getUpdates` is refused with 409 while it is set, and each update is POSTed to the URL
with the `X-Telegram-Bot-Api-Secret-Token` header, in order, until it is answered 2xx (else tried
again, the error kept for `getWebhookInfo`). HTTPS is terminated in front of a real server by a proxy:
`proxy(public_root, local_root)` says where the fake really sends what is addressed to a public root.

A test drives it as the users would: `user_says(chat_id, "/start CODE")` and `user_presses(...)` queue
updates; `sent(chat_id)` reads what the bot sent (and edited); `fail_next(...)`, `block(chat_id)` and
`forget(chat_id)` switch faults on. `requests` counts every method called, with its time, so a test or
a benchmark can check the bot kept within Telegram's rate limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.serving import serve_until

BOT_ID = 7_000_000_001
BOT_USERNAME = "tradewire_test_bot"
DEFAULT_TOKEN = f"{BOT_ID}:AAH-fake-token-0123456789abcdefghijklmnopq"


@dataclass
class SentMessage:
    """A message the bot sent, as the fake keeps it (its text after the last edit)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    date: int
    edits: int = 0


@dataclass
class Call:
    """One Bot API request: its method, parameters, when it came and what was answered."""

    method: str
    params: dict[str, Any]
    at: float
    status: int


@dataclass
class _Fault:
    method: str
    status: int
    description: str
    retry_after: int | None
    times: int


@dataclass
class _State:
    token: str
    updates: deque[dict[str, Any]] = field(default_factory=deque)
    next_update_id: int = 1
    confirmed_below: int = 0  # updates below this id were confirmed by an offset, and are gone
    messages: dict[int, list[SentMessage]] = field(default_factory=dict)
    message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    gone: set[int] = field(default_factory=set)
    faults: list[_Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    answered_callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    webhook_deleted: int = 0
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_error: str = ""  # the last delivery's failure, as getWebhookInfo tells it
    delivered: list[tuple[int, int]] = field(default_factory=list)  # (update id, status) of each POST
    proxies: dict[str, str] = field(default_factory=dict)  # public root: where it really goes


class BotApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


class FakeTelegram:
    """The fake Bot API on 127.0.0.1 (a daemon thread); use as a context manager."""

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        self._state = _State(token)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived: asyncio.Condition | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        app = Starlette(routes=[Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"])])
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", loop="asyncio", http="h11"
        )
        server = uvicorn.Server(config)
        ready = threading.Event()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(server, sock, ready),), name="fake-telegram", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Telegram did not start")
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    async def _serve(self, server: uvicorn.Server, sock: socket.socket, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._arrived = asyncio.Condition()
        self._stopping = asyncio.Event()
        delivering = asyncio.get_running_loop().create_task(self._deliver())
        try:
            await serve_until(server, sock, ready, self._stopping)
        finally:
            delivering.cancel()
            await asyncio.gather(delivering, return_exceptions=True)

    @property
    def webhook(self) -> tuple[str, str]:
        """The webhook set (its URL and secret token; empty when none)."""
        with self._lock:
            return self._state.webhook_url, self._state.webhook_secret

    def deliveries(self) -> list[tuple[int, int]]:
        """(update id, status answered) of each webhook POST, in order."""
        with self._lock:
            return list(self._state.delivered)

    def proxy(self, public_root: str, local_root: str) -> None:
        """Requests to URLs under `public_root` (a webhook's) go to `local_root` (a TLS proxy's work)."""
        with self._lock:
            self._state.proxies[public_root.rstrip("/")] = local_root.rstrip("/")

    async def _deliver(self) -> None:
        """POST pending updates to the webhook, one at a time and in order, while one is set."""
        assert self._arrived is not None
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                with self._lock:
                    state = self._state
                    update = state.updates[0] if state.webhook_url and state.updates else None
                    url, secret = self._local(state.webhook_url), state.webhook_secret
                if update is None:
                    with contextlib.suppress(TimeoutError):
                        async with self._arrived:
                            await asyncio.wait_for(self._arrived.wait(), 0.5)
                    continue
                try:
                    answer = await client.post(
                        url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
                    )
                    status, error = (
                        answer.status_code,
                        f"Wrong response from the webhook: {answer.status_code}",
                    )
                except httpx.HTTPError as exc:
                    status, error = 0, f"Connection failed: {type(exc).__name__}"
                with self._lock:
                    self._state.delivered.append((int(update["update_id"]), status))
                    if 200 <= status < 300:
                        if self._state.updates and self._state.updates[0] is update:
                            self._state.updates.popleft()
                        continue
                    self._state.webhook_error = error
                await asyncio.sleep(0.2)  # Telegram tries again later

    def _local(self, url: str) -> str:
        for public, local in self._state.proxies.items():
            if url.startswith(public):
                return local + url[len(public) :]
        return url

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> FakeTelegram:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def token(self) -> str:
        return self._state.token

    # -- what users do -----------------------------------------------------------------------------------

    def user(self, chat_id: int) -> dict[str, Any]:
        """The Telegram user behind a private chat (a chat's id is its user's id)."""
        return self._state.users.setdefault(
            chat_id,
            {
                "id": chat_id,
                "is_bot": False,
                "first_name": f"User{chat_id}",
                "username": f"user{chat_id}",
                "language_code": "en",
            },
        )

    def _chat(self, chat_id: int) -> dict[str, Any]:
        u = self.user(chat_id)
        return {"id": chat_id, "type": "private", "first_name": u["first_name"], "username": u["username"]}

    def user_says(self, chat_id: int, text: str) -> int:
        """A user sends `text` to the bot; returns the update's id."""
        with self._lock:
            message_id = next(self._state.message_ids)
            message: dict[str, Any] = {
                "message_id": message_id,
                "from": self.user(chat_id),
                "chat": self._chat(chat_id),
                "date": int(time.time()),
                "text": text,
            }
            if text.startswith("/"):
                length = len(text.split(maxsplit=1)[0])
                message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
            return self._queue({"message": message})

    def user_presses(self, chat_id: int, message_id: int, data: str) -> str:
        """A user taps an inline button with `data` under the bot's message `message_id`; the callback
        query's id (`answered` gives the bot's answer to it)."""
        with self._lock:
            sent = self._find(chat_id, message_id)
            message = (
                self._message_json(sent)
                if sent
                else {
                    "message_id": message_id,
                    "chat": self._chat(chat_id),
                    "date": int(time.time()),
                    "text": "",
                }
            )
            query = {
                "id": str(BOT_ID * 1000 + self._state.next_update_id),
                "from": self.user(chat_id),
                "message": message,
                "chat_instance": str(-chat_id),
                "data": data,
            }
            self._queue({"callback_query": query})
            return str(query["id"])

    def _queue(self, body: dict[str, Any]) -> int:
        update_id = self._state.next_update_id
        self._state.next_update_id += 1
        self._state.updates.append({"update_id": update_id, **body})
        self._wake_soon()
        return update_id

    def _wake_soon(self) -> None:
        if self._loop is not None and self._arrived is not None:
            self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._wake()))

    async def _wake(self) -> None:
        assert self._arrived is not None
        async with self._arrived:
            self._arrived.notify_all()

    # -- what a test reads -------------------------------------------------------------------------------

    def sent(self, chat_id: int) -> list[SentMessage]:
        with self._lock:
            return list(self._state.messages.get(chat_id, []))

    def texts(self, chat_id: int) -> list[str]:
        return [m.text for m in self.sent(chat_id)]

    def wait_for(self, chat_id: int, count: int = 1, timeout: float = 10.0) -> list[SentMessage]:
        """Wait until the bot has sent `chat_id` at least `count` messages; returns them all."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.sent(chat_id)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"chat {chat_id}: {len(found)} messages, wanted {count}: {found}")
            time.sleep(0.02)

    def wait_until(self, what: Any, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.02)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._state.calls)

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def answered(self, query_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._state.answered_callbacks.get(query_id)

    @property
    def commands(self) -> list[dict[str, Any]]:
        return list(self._state.commands)

    @property
    def pending_updates(self) -> int:
        with self._lock:
            return sum(1 for u in self._state.updates if u["update_id"] >= self._state.confirmed_below)

    # -- faults ------------------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        times: int = 1,
        retry_after: int | None = 3,
        description: str | None = None,
    ) -> None:
        """The next `times` calls of `method` answer an error (429: "retry after N")."""
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after}",
                400: "Bad Request: chat not found",
                403: "Forbidden: bot was blocked by the user",
                500: "Internal Server Error",
            }.get(status, "Bad Request")
        with self._lock:
            self._state.faults.append(
                _Fault(method, status, description, retry_after if status == 429 else None, times)
            )

    def block(self, chat_id: int) -> None:
        """The user blocks the bot: every message to the chat is refused with 403."""
        with self._lock:
            self._state.blocked.add(chat_id)

    def forget(self, chat_id: int) -> None:
        """The chat no longer exists: 400 "Bad Request: chat not found"."""
        with self._lock:
            self._state.gone.add(chat_id)

    # -- the Bot API -------------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        params = await _params(request)
        status = 200
        try:
            if request.path_params["token"] != self._state.token:
                raise BotApiError(401, "Unauthorized")
            with self._lock:
                self._fault(method)
            if method.lower() == "getupdates":
                if self._state.webhook_url:
                    raise BotApiError(
                        409,
                        "Conflict: can't use getUpdates method while webhook is active; use "
                        "deleteWebhook to delete the webhook first",
                    )
                result = await self._get_updates(params)
            else:
                with self._lock:
                    result = self._call(method.lower(), params)
            body: dict[str, Any] = {"ok": True, "result": result}
        except BotApiError as exc:
            status = exc.status
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.retry_after is not None:
                body["parameters"] = {"retry_after": exc.retry_after}
        with self._lock:
            self._state.calls.append(Call(method, params, time.monotonic(), status))
        return JSONResponse(body, status_code=status)

    def _fault(self, method: str) -> None:
        for fault in self._state.faults:
            if fault.method.lower() == method.lower() and fault.times > 0:
                fault.times -= 1
                raise BotApiError(fault.status, fault.description, fault.retry_after)

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _int(params.get("offset"), 0)
        limit = min(max(_int(params.get("limit"), 100), 1), 100)
        timeout = max(_int(params.get("timeout"), 0), 0)
        deadline = time.monotonic() + timeout
        assert self._arrived is not None
        while True:
            with self._lock:
                state = self._state
                if offset < 0:  # the last -offset updates; the ones before are forgotten
                    kept = list(state.updates)[offset:]
                    if kept:
                        state.confirmed_below = max(state.confirmed_below, kept[0]["update_id"])
                elif offset > 0:
                    state.confirmed_below = max(state.confirmed_below, offset)
                while state.updates and state.updates[0]["update_id"] < state.confirmed_below:
                    state.updates.popleft()
                found = list(state.updates)[:limit]
            if found or time.monotonic() >= deadline:
                return found
            try:
                async with self._arrived:
                    await asyncio.wait_for(self._arrived.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                pass
            except asyncio.CancelledError:  # the fake is stopping: its connections are going
                return []

    def _call(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getme":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Tradewire",
                "username": BOT_USERNAME,
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        if method == "sendmessage":
            chat_id = self._reachable(params.get("chat_id"))
            text = _text(params.get("text"))
            message = SentMessage(
                chat_id,
                next(self._state.message_ids),
                text,
                _markup(params.get("reply_markup")),
                int(time.time()),
            )
            self._state.messages.setdefault(chat_id, []).append(message)
            return self._message_json(message)
        if method == "editmessagetext":
            chat_id = self._reachable(params.get("chat_id"))
            found = self._find(chat_id, _int(params.get("message_id"), 0))
            if found is None:
                raise BotApiError(400, "Bad Request: message to edit not found")
            text = _text(params.get("text"))
            markup = _markup(params.get("reply_markup"))
            if text == found.text and markup == found.reply_markup:
                raise BotApiError(
                    400,
                    "Bad Request: message is not modified: specified new message content and reply "
                    "markup are exactly the same as a current content and reply markup of the message",
                )
            found.text, found.reply_markup = text, markup
            found.edits += 1
            return self._message_json(found)
        if method == "answercallbackquery":
            query_id = str(params.get("callback_query_id", ""))
            if not query_id:
                raise BotApiError(
                    400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
                )
            self._state.answered_callbacks[query_id] = params
            return True
        if method == "setmycommands":
            commands = params.get("commands")
            if isinstance(commands, str):
                commands = json.loads(commands)
            self._state.commands = list(commands or [])
            return True
        if method == "deletewebhook":
            self._state.webhook_deleted += 1
            self._state.webhook_url = self._state.webhook_secret = ""
            return True
        if method == "setwebhook":
            url = str(params.get("url") or "")
            if not url:  # an empty URL removes the webhook
                self._state.webhook_url = self._state.webhook_secret = ""
                return True
            if not url.startswith("https://"):
                raise BotApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
            secret = str(params.get("secret_token") or "")
            if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                raise BotApiError(400, "Bad Request: secret token contains unallowed characters")
            self._state.webhook_url, self._state.webhook_secret = url, secret
            self._wake_soon()
            return True
        if method == "getwebhookinfo":
            return {
                "url": self._state.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._state.updates) if self._state.webhook_url else 0,
                **({"last_error_message": self._state.webhook_error} if self._state.webhook_error else {}),
            }
        if method == "getmycommands":
            return self._state.commands
        raise BotApiError(404, "Not Found")

    def _reachable(self, raw: Any) -> int:
        chat_id = _int(raw, 0)
        if chat_id == 0 or chat_id in self._state.gone:
            raise BotApiError(400, "Bad Request: chat not found")
        if chat_id in self._state.blocked:
            raise BotApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _find(self, chat_id: int, message_id: int) -> SentMessage | None:
        for message in self._state.messages.get(chat_id, []):
            if message.message_id == message_id:
                return message
        return None

    def _message_json(self, m: SentMessage) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": m.message_id,
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Tradewire", "username": BOT_USERNAME},
            "chat": self._chat(m.chat_id),
            "date": m.date,
            "text": m.text,
        }
        if m.edits:
            body["edit_date"] = int(time.time())
        if m.reply_markup:
            body["reply_markup"] = m.reply_markup
        return body


async def _params(request: Request) -> dict[str, Any]:
    """A Bot API request's parameters: query string, then a JSON or form body (nested values in a form
    are JSON text, as Telegram accepts them)."""
    params: dict[str, Any] = dict(request.query_params)
    kind = request.headers.get("content-type", "")
    if "json" in kind:
        raw = await request.body()
        if raw:
            params.update(json.loads(raw))
    elif "form" in kind:
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def _int(raw: Any, default: int) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default


def _text(raw: Any) -> str:
    text = "" if raw is None else str(raw)
    if not text.strip():
        raise BotApiError(400, "Bad Request: message text is empty")
    if len(text) > 4096:
        raise BotApiError(400, "Bad Request: message is too long")
    return text


def _markup(raw: Any) -> dict[str, Any] | None:
    if raw is None or raw == "":
        return None
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else None
