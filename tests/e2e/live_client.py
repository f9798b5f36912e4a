"""A client of the live channel (WebSocket /api/v1/ws) for the tests: the `websockets` library, as a
script would use it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select
from websockets.asyncio.client import ClientConnection, connect

from tradewire.adapters.store.tables import events

ALL_TOPICS = [
    "signals",
    "intents",
    "orders",
    "fills",
    "positions",
    "balances",
    "bots",
    "backtests",
    "provider",
]


class LiveClient:
    """One connection: authenticated, subscribed, and reading the events it is sent."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.received: list[dict[str, Any]] = []  # events (with ids)
        self.marks: list[dict[str, Any]] = []  # live marks frames (no id: not events)
        self.since: int | None = None
        self.frames = 0  # WebSocket messages read (a batch is one)
        self.batches: list[int] = []  # how many frames each batch carried
        self._ops: list[dict[str, Any]] = []  # op messages read inside a batch, not yet replied

    @classmethod
    async def open(
        cls,
        base_url: str,
        token: str,
        topics: list[str] | None = None,
        since: int | None = None,
        batch: bool = False,
        **options: Any,
    ) -> LiveClient:
        connection = await connect(base_url.replace("http://", "ws://") + "/api/v1/ws", **options)
        client = cls(connection)
        await client.send({"op": "auth", "token": token})
        assert await client.reply() == {"op": "ready"}
        subscribe = {"op": "subscribe", "topics": topics or ALL_TOPICS, "since": since}
        await client.send({**subscribe, "batch": True} if batch else subscribe)
        subscribed = await client.reply()
        assert subscribed["op"] == "subscribed", subscribed
        client.since = subscribed["since"]
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def reply(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next message that is not an event or a ping."""
        async with asyncio.timeout(timeout):
            while not self._ops:
                await self._read()
        return self._ops.pop(0)

    async def read_until(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0) -> None:
        """Read events until `done(received)` holds."""
        async with asyncio.timeout(timeout):
            while not done(self.received):
                await self._read()

    async def _read(self) -> None:
        """One WebSocket message: its frames (a batch's, in order) kept by kind."""
        message: dict[str, Any] = json.loads(await self.connection.recv())
        self.frames += 1
        frames = message.get("frames", [message])
        if "frames" in message:
            self.batches.append(len(frames))
        for frame in frames:
            if "op" not in frame:
                (self.received if "id" in frame else self.marks).append(frame)
            elif frame["op"] != "ping":
                self._ops.append(frame)

    async def read_marks(self, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0) -> None:
        """Read until `done(marks frames)` holds."""
        async with asyncio.timeout(timeout):
            while not done(self.marks):
                await self._read()

    async def read_ids(self, last_id: int, timeout: float = 10.0) -> None:
        await self.read_until(lambda got: bool(got) and got[-1]["id"] >= last_id, timeout)

    @property
    def ids(self) -> list[int]:
        return [e["id"] for e in self.received]

    async def close(self) -> None:
        await self.connection.close()


def stored_ids(engine: Engine, user_id: int) -> list[int]:
    """Every event number the outbox holds for the user, in order."""
    with engine.connect() as conn:
        query = select(events.c.id).where(events.c.user_id == user_id).order_by(events.c.id)
        return list(conn.execute(query).scalars())


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")
