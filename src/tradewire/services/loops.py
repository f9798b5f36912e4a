"""The server's background loops: one round every interval until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

_T = TypeVar("_T")


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def every(
    interval_s: float,
    stop: asyncio.Event,
    round_: Callable[[], Awaitable[object]],
    what: str,
    log: logging.Logger,
) -> None:
    """Run `round_` every `interval_s` until `stop` is set; a round that fails is logged (as `what`
    on `log`) and the next one runs at its time."""
    while not stop.is_set():
        try:
            await round_()
        except Exception:
            log.exception("%s failed; retrying next interval", what)
        await pause(stop, interval_s)


class OutboxWorkers:
    """What the outbox's delivery channels (Telegram notifications, outgoing webhooks) share: store
    calls on a thread of their own (a backlog's cursor writes never queue in the default executor ahead
    of the API's and the trading loop's), a round every `poll_s` that starts per-destination workers,
    and the workers stopped with it. A subclass sets `poll_s`, `_workers`, `_io` and `round`."""

    name: ClassVar[str]  # for the log
    poll_s: float
    _workers: dict[int, tuple[Any, asyncio.Task[None]]]
    _io: ThreadPoolExecutor

    async def round(self) -> None:
        raise NotImplementedError

    async def _store(self, call: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._io, functools.partial(call, *args))

    async def run(self, stop: asyncio.Event) -> None:
        """Check for news every `poll_s` until `stop` is set; workers stop with it."""
        try:
            while not stop.is_set():
                try:
                    await self.round()
                except Exception:
                    logging.getLogger(self.name).exception(
                        "%s round failed; retrying next interval", self.name
                    )
                await pause(stop, self.poll_s)
        finally:
            await self.close()

    async def close(self) -> None:
        tasks = [task for _, task in self._workers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers.clear()
        self._io.shutdown(wait=False)

    @property
    def busy(self) -> bool:
        return any(not task.done() for _, task in self._workers.values())
