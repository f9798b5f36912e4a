"""The background loops' two helpers: `pause` ends early when told to stop, and `every` runs its round
each interval until stopped, logging a round that fails and going on with the next one. Waits are
ended by the stop event or last no time at all (interval 0): nothing here sleeps."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tradewire.services.loops import every, pause

log = logging.getLogger("tradewire.test.loops")


async def test_a_pause_ends_as_soon_as_stop_is_set() -> None:
    stop = asyncio.Event()
    waiting = asyncio.create_task(pause(stop, 3600))
    await asyncio.sleep(0)
    assert not waiting.done()

    stop.set()

    await asyncio.wait_for(waiting, 1)
    await asyncio.wait_for(pause(stop, 3600), 1)  # already stopped: no wait at all


async def test_a_pause_that_runs_out_returns_quietly() -> None:
    stop = asyncio.Event()

    await asyncio.wait_for(pause(stop, 0), 1)

    assert not stop.is_set()


async def test_every_runs_each_round_until_stopped_and_a_failed_round_stops_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    rounds: list[int] = []

    async def round_() -> None:
        rounds.append(len(rounds) + 1)
        if len(rounds) == 2:
            raise RuntimeError("database is locked")
        if len(rounds) == 4:
            stop.set()

    with caplog.at_level(logging.ERROR, logger=log.name):
        await asyncio.wait_for(every(0, stop, round_, "the sweep", log), 1)

    assert rounds == [1, 2, 3, 4]
    [failed] = [r for r in caplog.records if r.name == log.name]
    assert failed.getMessage() == "the sweep failed; retrying next interval"
    assert failed.exc_info is not None and str(failed.exc_info[1]) == "database is locked"


async def test_every_runs_no_round_once_stopped_and_waits_its_interval_between_rounds() -> None:
    stop = asyncio.Event()
    rounds: list[int] = []

    async def round_() -> None:
        rounds.append(1)

    stop.set()
    await asyncio.wait_for(every(0, stop, round_, "the sweep", log), 1)
    assert rounds == []

    stop.clear()
    running = asyncio.create_task(every(3600, stop, round_, "the sweep", log))
    for _ in range(5):
        await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(running, 1)
    assert rounds == [1]  # one round, then the interval's wait, cut short by stop
