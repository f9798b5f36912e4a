"""OrderStreams against the in-memory store and scripted order streams, its waits replaced by a pause
that records them and yields at once: one stream per live account that can push order updates,
started as accounts come into use; pushed updates settle orders at once; a broken stream is retried
with a doubling wait capped at 60 s, which starts over after an update; stopping ends every stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from tests.fakes.memory_exchange import MemoryExchange
from tests.fakes.world import world
from tradewire.domain.orders import ExchangeOrder
from tradewire.ports import Exchange, OrderOutcomeUnknown
from tradewire.services import streams
from tradewire.services.reconcile import Reconciler
from tradewire.services.streams import OrderStreams


class Streaming(MemoryExchange):
    """An account whose `watch_orders` answers from `script` (a batch of order views, or an error to
    raise), then waits for more; it remembers each call and whether a wait was cancelled."""

    streams_orders = True

    def __init__(self, script: Sequence[list[ExchangeOrder] | Exception] = ()) -> None:
        super().__init__()
        self.script = list(script)
        self.watches = 0
        self.cancelled = False
        self.drained = asyncio.Event()

    async def watch_orders(self) -> list[ExchangeOrder]:
        self.watches += 1
        if not self.script:
            self.drained.set()
            try:
                await asyncio.Event().wait()  # nothing more is pushed
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


class Recorded(Reconciler):
    """The reconciler, remembering what each pushed batch recorded."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.pushed: list[tuple[int, int]] = []  # (account, updates recorded)

    async def apply_pushed(self, account_id: int, exchange: Exchange, views: Sequence[ExchangeOrder]) -> int:
        recorded = await super().apply_pushed(account_id, exchange, views)
        self.pushed.append((account_id, recorded))
        return recorded


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait OrderStreams asks for, in order (each returns at once)."""
    asked: list[float] = []

    async def pause(stop: asyncio.Event, seconds: float) -> None:
        asked.append(seconds)
        await asyncio.sleep(0)

    monkeypatch.setattr(streams, "pause", pause)
    return asked


async def _until(done: Callable[[], Awaitable[object]], following: OrderStreams) -> asyncio.Event:
    """Run the streams until `done` returns, then stop them; returns the stop event."""
    stop = asyncio.Event()
    running = asyncio.create_task(following.run(stop))
    await asyncio.wait_for(done(), 5)
    stop.set()
    await asyncio.wait_for(running, 5)
    return stop


async def test_a_pushed_update_settles_an_unanswered_order_at_once(waits: list[float]) -> None:
    w = world()
    w.exchange.fail_next.append((OrderOutcomeUnknown("read timeout"), True))
    w.signal()
    await w.executor().execute_pending()
    assert w.column("orders", "state") == ["submitted"]
    account = w.seeded.account_ids[0]
    stream = Streaming([[w.exchange.orders["tw0000000001"]]])
    stream.orders = w.exchange.orders
    reconciler = Recorded(w.store, w.exchanges, w.clock)
    following = OrderStreams(lambda: {account: stream}, reconciler)
    seen: list[list[int]] = []

    async def settled() -> None:
        await stream.drained.wait()
        seen.append(following.following)

    await _until(settled, following)

    assert reconciler.pushed == [(account, 1)]
    assert w.column("orders", "state") == ["filled"]
    assert len(w.rows("fills")) == 1
    assert seen == [[account]] and following.following == []
    assert stream.cancelled  # stopping ended the stream's wait


async def test_only_accounts_that_push_updates_are_followed_once_each_as_they_come_into_use(
    waits: list[float],
) -> None:
    first, second, polled = Streaming(), Streaming(), MemoryExchange()
    accounts: dict[int, Any] = {1: first, 3: polled}
    following = OrderStreams(lambda: dict(accounts), Recorded(*_no_world()), scan_s=1.0)

    async def both_followed() -> None:
        await first.drained.wait()
        accounts[2] = second  # an account comes into use later
        await second.drained.wait()
        for _ in range(5):  # a few more scans
            await asyncio.sleep(0)

    await _until(both_followed, following)

    assert (first.watches, second.watches) == (1, 1)
    assert waits.count(1.0) >= 3  # the scans went on
    assert first.cancelled and second.cancelled


async def test_a_broken_stream_is_retried_with_a_doubling_wait_that_starts_over_after_an_update(
    waits: list[float],
) -> None:
    broken = [ConnectionError("closed by peer")]
    stream = Streaming([*broken * 6, [], *broken * 2])
    following = OrderStreams(lambda: {7: stream}, Recorded(*_no_world()), retry_s=5.0, scan_s=1.0)

    await _until(stream.drained.wait, following)

    assert [s for s in waits if s != 1.0] == [5, 10, 20, 40, 60, 60, 5, 10]
    assert stream.watches == 10


def _no_world() -> tuple[Any, ...]:
    """What a reconciler is built from, for streams that push nothing of ours."""
    w = world()
    return w.store, w.exchanges, w.clock
