"""The message bus between the services (implemented in adapters/bus.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

Handler = Callable[[Mapping[str, Any]], Awaitable[None]]


class Bus(Protocol):
    """At-least-once message delivery; every handler is idempotent, keyed by the ids it carries."""

    async def publish(self, topic: str, message: Mapping[str, Any]) -> None:
        """Deliver `message` to every subscriber of `topic`."""
        ...

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call `handler` for each message on `topic`."""
        ...


class RunningBus(Bus, Protocol):
    """A bus the runtime starts and stops; /health asks it for problems, tests wait on drain()."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def problem(self) -> str | None:
        """Why messages would not be handled now, or None."""
        ...

    async def drain(self) -> None:
        """Wait until every message published so far has been handled."""
        ...
