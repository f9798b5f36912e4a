"""The server's background loops: one round every interval until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


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
