"""WebSocket /api/v1/ws: the live channel for the dashboard and for scripts.

    -> {"op":"auth","token":"<JWT>"}          first, within ws_auth_timeout_s (else, or a bad token:
    <- {"op":"ready"}                          closed 4401); the token stays out of URLs and logs
    -> {"op":"subscribe","topics":[...],"since":<event id>|null,"batch":false}
    <- {"op":"subscribed","topics":[...],"since":<the id it continues after>,"batch":false}
    <- {"id":…,"topic":…,"type":…,"ts":…,"data":{…}}   the user's events, ids rising, none missed
    <- {"topic":"positions","type":"marked","ts":…,"data":{"positions":[…]}}   no id: live marks of
                                               the user's open positions every ws_marks_s (not events:
                                               never stored, never resumed; services/live_marks.py)
    <- {"op":"ping"} after ws_heartbeat_s without a message   -> {"op":"ping"} is answered {"op":"pong"}
    <- {"op":"error","error":"…"} for a message it cannot take (nothing changes)

With "batch": true, what is waiting for the client when its sender runs goes out as one frame,
{"frames":[<frame>,<frame>,…]}, each element exactly the frame it would have been alone, in order (at
most MAX_BATCH frames or about MAX_BATCH_CHARS characters each): a fan-out's events cost the server
and the client one frame (one write, one compression, one parse) instead of one each.

A client more than ws_send_queue messages behind is closed with 4408 (its own sender waits on it;
nobody else does). A client whose sign-in session ends (sign-out, password change) is closed with
4401 within ws_session_check_s. Every message is bounded (ws_max_message_bytes) before it is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket

from tradewire.api.auth import token_claims
from tradewire.domain.events import Topic
from tradewire.domain.members import User
from tradewire.runtime import Runtime
from tradewire.services.event_hub import EventHub, Listener

log = logging.getLogger("tradewire.live")

router = APIRouter()

UNAUTHORIZED = 4401
TOO_SLOW = 4408
TOPICS = frozenset(t.value for t in Topic)
MAX_TOKEN_CHARS = 8192
MAX_EVENT_ID = 2**63 - 1

MAX_BATCH = 500  # frames in one batch frame
MAX_BATCH_CHARS = 256 * 1024  # about: a batch is closed once it reaches this

_READY = '{"op":"ready"}'
_PING = '{"op":"ping"}'
_PONG = '{"op":"pong"}'


@router.websocket("/api/v1/ws")
async def live(websocket: WebSocket) -> None:
    """The user's events, live and resumable (see the module's docstring for the protocol)."""
    runtime: Runtime = websocket.app.state.runtime
    await websocket.accept()
    authenticated = await _authenticated(websocket, runtime)
    if authenticated is None:
        return
    user, session_id = authenticated
    hub = runtime.events
    listener = hub.connect(user.id, session_id)
    listener.offer(_READY)
    sender = asyncio.create_task(_send(websocket, listener, runtime.settings.ws_heartbeat_s))
    receiver = asyncio.create_task(_receive(websocket, hub, listener, runtime.settings.ws_max_message_bytes))
    cut = asyncio.create_task(listener.cut.wait())
    try:
        await asyncio.wait({sender, receiver, cut}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.disconnect(listener)
        for task in (sender, receiver, cut):
            task.cancel()
        await asyncio.gather(sender, receiver, cut, return_exceptions=True)
    if listener.signed_out:
        await _close(websocket, UNAUTHORIZED, "signed out: the session has ended")
    elif listener.overflowed:
        log.warning("live channel of user %s closed: more than %d messages behind", user.id, listener.limit)
        with contextlib.suppress(Exception):
            # The close frame queues behind what the client has not read yet: wait a while, no more.
            await asyncio.wait_for(
                websocket.close(TOO_SLOW, "too slow: messages were piling up"),
                runtime.settings.ws_close_timeout_s,
            )


async def _authenticated(websocket: WebSocket, runtime: Runtime) -> tuple[User, str] | None:
    """The user and session of the first message's token; anything else first (or nothing in time)
    closes 4401."""
    settings = runtime.settings
    try:
        message = await asyncio.wait_for(websocket.receive(), settings.ws_auth_timeout_s)
    except TimeoutError:
        await _close(websocket, UNAUTHORIZED, "authenticate first: {op: auth, token}")
        return None
    if message["type"] == "websocket.disconnect":
        return None
    parsed = _parsed(message.get("text"), settings.ws_max_message_bytes)
    token = parsed.get("token") if isinstance(parsed, dict) and parsed.get("op") == "auth" else None
    claims = (
        token_claims(runtime, token) if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN_CHARS else None
    )
    user = await runtime.signin.session_user(int(claims["sub"]), claims["sid"]) if claims else None
    if user is None or claims is None:
        await _close(websocket, UNAUTHORIZED, "not authenticated")
        return None
    return user, claims["sid"]


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await websocket.close(code, reason)


def _parsed(text: Any, max_bytes: int) -> Any:
    """A text message's JSON value; None when it is not text, too large (checked before parsing) or
    not JSON."""
    if not isinstance(text, str) or len(text) > max_bytes or len(text.encode()) > max_bytes:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return None


async def _send(websocket: WebSocket, listener: Listener, heartbeat_s: float) -> None:
    """The client's own sender: its queued messages in order, a ping when idle."""
    while not listener.cut.is_set():
        messages = await listener.take(heartbeat_s)
        if listener.cut.is_set():
            return
        if listener.batch and len(messages) > 1:
            for batch in batches(messages):
                await websocket.send_text(batch)
            continue
        for message in messages or [_PING]:
            await websocket.send_text(message)


def batches(messages: list[str]) -> list[str]:
    """`messages` (each a frame's JSON text) as batch frames, in order, bounded in count and size."""
    made: list[str] = []
    current: list[str] = []
    size = 0
    for message in messages:
        if current and (len(current) >= MAX_BATCH or size + len(message) > MAX_BATCH_CHARS):
            made.append('{"frames":[' + ",".join(current) + "]}")
            current, size = [], 0
        current.append(message)
        size += len(message) + 1
    if current:
        made.append('{"frames":[' + ",".join(current) + "]}")
    return made


async def _receive(websocket: WebSocket, hub: EventHub, listener: Listener, max_bytes: int) -> None:
    """The client's requests, until it leaves; each bad one is answered with an error."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        request = _parsed(message.get("text"), max_bytes)
        if not isinstance(request, dict):
            listener.offer(_error(f"send JSON objects as text, at most {max_bytes} bytes"))
            continue
        op = request.get("op")
        if op == "subscribe":
            await _subscribe(hub, listener, request)
        elif op == "ping":
            listener.offer(_PONG)
        elif op == "pong":
            continue
        elif op == "auth":
            listener.offer(_error("already authenticated"))
        else:
            listener.offer(_error("unknown op: expected subscribe, ping or pong"))


async def _subscribe(hub: EventHub, listener: Listener, request: dict[str, Any]) -> None:
    topics, since, batch = request.get("topics"), request.get("since"), request.get("batch", False)
    if not isinstance(topics, list) or not topics or len(topics) > len(TOPICS):
        listener.offer(_error(f"topics: a list of 1 to {len(TOPICS)} of {sorted(TOPICS)}"))
        return
    unknown = [t for t in topics if not isinstance(t, str) or t not in TOPICS]  # a list is unhashable
    if unknown:
        names = ", ".join(repr(t)[:40] for t in unknown[:3])
        listener.offer(_error(f"unknown topic {names}; topics are {sorted(TOPICS)}"))
        return
    if since is not None and (type(since) is not int or not 0 <= since <= MAX_EVENT_ID):
        listener.offer(_error("since: an event id (a whole number from 0) or null"))
        return
    if type(batch) is not bool:
        listener.offer(_error("batch: true or false"))
        return
    listener.batch = batch
    after = await hub.subscribe(listener, topics, since)
    chosen = sorted(set(topics))
    answer = {"op": "subscribed", "topics": chosen, "since": after, "batch": batch}
    listener.offer(json.dumps(answer, separators=(",", ":")))


def _error(text: str) -> str:
    return json.dumps({"op": "error", "error": text}, separators=(",", ":"))
