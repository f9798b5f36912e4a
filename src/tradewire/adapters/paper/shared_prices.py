"""The paper market's prices shared between processes.

The process that runs the paper market (a worker, `tradewire worker`) advances the replay and fills
paper orders at its prices; an API process (`TRADEWIRE_ROLE=api`) shows and values positions at the
same prices, so the worker writes its current prices to `paper_prices` after every step and API
processes read them every step instead of replaying a market of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from tradewire.adapters.paper.feed import ReplayFeed
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.tables import paper_prices

log = logging.getLogger("tradewire.paper.prices")


def write_prices(
    engine: Engine, prices: Mapping[str, Decimal], now: datetime, sources: Mapping[str, str] | None = None
) -> None:
    """Store every symbol's price and where it comes from (inserted, or overwritten), in one
    transaction."""
    sources = sources or {}
    rows = [
        {"symbol": s, "price": p, "source": sources.get(s, "")[:200], "updated_at": now}
        for s, p in prices.items()
        if len(s) <= 32
    ]
    if not rows:
        return
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(paper_prices)
    statement = statement.on_conflict_do_update(
        index_elements=[paper_prices.c.symbol],
        set_={
            "price": statement.excluded.price,
            "source": statement.excluded.source,
            "updated_at": statement.excluded.updated_at,
        },
    )
    with write_transaction(engine) as conn:
        conn.execute(statement, rows)


def read_prices(engine: Engine) -> dict[str, tuple[Decimal, str]]:
    """Each symbol's price and where it comes from."""
    columns = select(paper_prices.c.symbol, paper_prices.c.price, paper_prices.c.source)
    with engine.connect() as conn:
        return {r.symbol: (r.price, r.source) for r in conn.execute(columns)}


class PriceBoard:
    """Keeps a feed's prices and the shared table in step: `publish` (the paper market's process)
    writes the feed's prices; `follow` (an API process) sets the feed to the stored ones."""

    def __init__(self, engine: Engine, feed: ReplayFeed, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._feed = feed
        self._now = now

    async def publish(self) -> None:
        prices = {s: p for s in self._feed.symbols() if (p := self._feed.last_price(s)) is not None}
        sources = {s: self._feed.source(s) for s in prices}
        await asyncio.to_thread(write_prices, self._engine, prices, self._now(), sources)

    async def stored(self) -> dict[str, tuple[Decimal, str]]:
        """Each symbol's price and source as last published (before a restart, say)."""
        return await asyncio.to_thread(read_prices, self._engine)

    async def follow(self) -> int:
        """Adopt the stored prices; returns how many symbols had one."""
        stored = await asyncio.to_thread(read_prices, self._engine)
        self._feed.adopt({s: p for s, (p, _) in stored.items()}, {s: src for s, (_, src) in stored.items()})
        return len(stored)

    async def run_following(self, interval_s: float, stop: asyncio.Event) -> None:
        """Follow the stored prices every `interval_s` until `stop` is set."""
        while not stop.is_set():
            try:
                await self.follow()
            except Exception:
                log.exception("could not read the paper market's prices; showing the last ones")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
