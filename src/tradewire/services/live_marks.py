"""Live marks: open positions of connected users marked at their venue's price every few seconds and
pushed on the live channel as `positions`/`marked` frames (not events: a price is not a change, so
nothing is written to the outbox and nothing is resumed with `since`).

One round reads the open positions of every user with a client subscribed to `positions` in one query,
prices each (venue, symbol) once for all of them (paper accounts share one market: one price per
symbol; a live account asks its own exchange), computes the unrealised PnL with the REST endpoint's
formula (services/records.py: MarkedPosition), and queues one frame per user, to its clients that were
not sent the same marks last (nothing moved: nothing is sent). The work is bounded:
at most `max_positions` positions and `max_keys` prices a round; beyond that the prices asked rotate
round by round, so every position is marked within a few rounds.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tradewire.domain.events import Topic
from tradewire.domain.json_values import plain
from tradewire.domain.records import OpenPosition
from tradewire.ports import Clock
from tradewire.services.event_hub import EventHub
from tradewire.services.loops import every
from tradewire.services.records import MarkedPosition, Marks
from tradewire.services.valuation import Mark, MarkKey

log = logging.getLogger("tradewire.live")


class OpenPositions(Protocol):
    def open_positions_of_users(self, user_ids: Sequence[int], limit: int) -> list[OpenPosition]:
        """Open positions of these users, at most `limit` (newest first)."""
        ...


@dataclass(eq=False)
class LiveMarks:
    positions: OpenPositions
    valuations: Marks
    hub: EventHub
    clock: Clock
    interval_s: float = 3.0
    max_positions: int = 5000  # open positions read per round
    max_keys: int = 200  # prices asked per round (venue, symbol)
    _turn: int = field(init=False, default=0)

    async def run(self, stop: asyncio.Event) -> None:
        await every(self.interval_s, stop, self.round, "marking positions live", log)

    async def round(self) -> int:
        """Mark the open positions of every user watching `positions`; returns the frames queued."""
        users = self.hub.watching(Topic.POSITIONS.value)
        if not users:
            return 0
        found = await asyncio.to_thread(
            self.positions.open_positions_of_users, sorted(users), self.max_positions
        )
        if not found:
            return 0
        # One price per venue and symbol: the first position's account asks for all of them.
        asker: dict[tuple[int, str, str, str], MarkKey] = {}
        for p in found:
            asker.setdefault(p.price_key, p.mark_key)
        keys = sorted(asker)
        if len(keys) > self.max_keys:
            start = (self._turn * self.max_keys) % len(keys)
            keys = (keys[start:] + keys[:start])[: self.max_keys]
            self._turn += 1
        marks = await self.valuations.marks(asker[k] for k in keys)
        priced = {k: marks[asker[k]] for k in keys}
        now = self.clock.now().isoformat()
        frames: dict[int, list[dict[str, Any]]] = {}
        for p in found:
            mark = priced.get(p.price_key)
            if mark is not None:
                frames.setdefault(p.user_id, []).append(_marked(p, mark))
        sent = woken = 0
        for user_id, items in frames.items():
            # A client already sent these marks (no price moved) is not sent them again.
            content = json.dumps({"positions": items}, separators=(",", ":"))
            message = f'{{"topic":"{Topic.POSITIONS.value}","type":"marked","ts":"{now}","data":{content}}}'
            taken = self.hub.push(user_id, Topic.POSITIONS.value, message, content)
            sent, woken = sent + taken, woken + taken
            if woken >= self.hub.clients_per_turn:  # those woken send first, as the hub's rounds do
                woken = 0
                await asyncio.sleep(0)
        return sent


def _marked(p: OpenPosition, mark: Mark) -> dict[str, Any]:
    marked = MarkedPosition({"avg_entry": p.avg_entry, "amount": p.amount}, mark)
    return {
        "position_id": p.position_id,
        "mark_price": plain(marked.price),
        "unrealized_pnl": plain(marked.unrealized_pnl),
        "mark_source": mark.source,
        "mark_error": mark.error if marked.price is None else None,
    }
