"""What /health checks beyond the process answering: the database answers a query in time, and the
bus would hand messages to their handlers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, text

log = logging.getLogger("tradewire.health")


@dataclass(frozen=True)
class Check:
    """One dependency's answer: ok or why not (in words fit for anyone: details go to the log), and
    how long the check took."""

    ok: bool
    ms: float
    error: str | None = None


class HealthChecks:
    """The database (one small query, with a timeout) and the bus. A database that hangs holds at most
    one worker thread however often /health is asked: callers share the check in flight."""

    def __init__(self, engine: Engine, bus_problem: Callable[[], str | None], timeout_s: float) -> None:
        self._engine = engine
        self._bus_problem = bus_problem
        self._timeout = timeout_s
        self._in_flight: asyncio.Future[None] | None = None

    async def run(self) -> dict[str, Check]:
        return {"database": await self.database(), "bus": self.bus()}

    async def database(self) -> Check:
        started = time.perf_counter()
        if self._in_flight is None or self._in_flight.done():
            self._in_flight = asyncio.ensure_future(asyncio.to_thread(self._query))
        try:
            await asyncio.wait_for(asyncio.shield(self._in_flight), self._timeout)
        except TimeoutError:
            log.warning("health: the database gave no answer within %gs", self._timeout)
            return Check(False, _ms(started), f"no answer within {self._timeout:g}s")
        except Exception as exc:
            cause = getattr(exc, "orig", None) or exc
            log.warning("health: the database check failed: %s", _one_line(cause))
            return Check(False, _ms(started), "query failed")
        return Check(True, _ms(started))

    def bus(self) -> Check:
        started = time.perf_counter()
        problem = self._bus_problem()
        if problem is not None:
            log.warning("health: the bus: %s", problem)
        return Check(problem is None, _ms(started), problem)

    def _query(self) -> None:
        with self._engine.connect() as connection:
            connection.execute(text("SELECT 1")).scalar_one()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def _one_line(exc: BaseException) -> str:
    text_ = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text_[:200]}"
