"""The daily summary on Telegram: at the hour a user chose, in their time zone, once a day, what their
last 24 hours closed (realised PnL and fees per quote currency) and what is open now."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradewire.domain.notices import quote_of
from tradewire.domain.records import Page
from tradewire.domain.telegram import DayResults, summary_day, summary_text
from tradewire.ports import Clock
from tradewire.ports.telegram import TelegramLinks
from tradewire.services.loops import every
from tradewire.services.records import MarkedPosition
from tradewire.services.telegram.notifications import Notifications

log = logging.getLogger("tradewire.telegram")


class Positions(Protocol):
    """The positions a user reads (services.records.Records)."""

    async def positions(self, user_id: int, status: str | None, page: Page) -> list[MarkedPosition]: ...


_PAGE = 200
_PAGES = 50  # closed positions read for one summary or /profit: at most 10,000


async def closed_since(
    records: Positions, user_id: int, since: object
) -> dict[str, tuple[int, Decimal, Decimal]]:
    """Positions the user closed after `since`, per quote currency: (count, realised PnL, fees)."""
    found: dict[str, tuple[int, Decimal, Decimal]] = {}
    before = None
    for _ in range(_PAGES):
        page = await records.positions(user_id, "closed", Page(_PAGE, before))
        for p in page:
            row = p.row
            closed_at = row.get("closed_at")
            if closed_at is None or closed_at <= since:
                continue
            quote = quote_of(row["symbol"])
            count, realised, fees = found.get(quote, (0, Decimal(0), Decimal(0)))
            found[quote] = (count + 1, realised + row["realized_pnl"], fees + row["fees"])
        if len(page) < _PAGE:
            break
        before = page[-1].row["id"]
    return found


@dataclass(eq=False)
class Summaries:
    """Sends each linked user's daily summary when it is due."""

    links: TelegramLinks
    records: Positions
    notifications: Notifications  # sends within the limits; unlinks chats that are gone
    clock: Clock
    interval_s: float = 60.0

    async def run(self, stop: asyncio.Event) -> None:
        await every(self.interval_s, stop, self.round, "telegram daily summaries", log)

    async def round(self) -> int:
        """Send the summaries due now; how many were sent."""
        linked = {link.user_id: link for link in await asyncio.to_thread(self.links.links)}
        if not linked:
            return 0
        settings = await asyncio.to_thread(self.links.summaries, list(linked))
        now = self.clock.now()
        sent = 0
        for user_id, setting in settings.items():
            try:
                zone = ZoneInfo(setting.time_zone)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                log.warning("user %s: unknown time zone %r; no summary", user_id, setting.time_zone)
                continue
            day = summary_day(now.astimezone(zone), setting.hour, setting.last_sent_on)
            if day is None:
                continue
            text = summary_text(day, setting.time_zone, await self.results(user_id))
            # Sent, then recorded: at least once (a crash in between sends that day's again).
            if await self.notifications.deliver(linked[user_id].chat_id, text):
                await asyncio.to_thread(self.links.summary_sent, user_id, day)
                sent += 1
        return sent

    async def results(self, user_id: int) -> DayResults:
        now = self.clock.now()
        closed = await closed_since(self.records, user_id, now - timedelta(hours=24))
        open_positions = await self.records.positions(user_id, "open", Page(_PAGE))
        unrealised: dict[str, Decimal] = {}
        unmarked = 0
        for p in open_positions:
            pnl = p.unrealized_pnl
            if pnl is None:
                unmarked += 1
                continue
            quote = quote_of(p.row["symbol"])
            unrealised[quote] = unrealised.get(quote, Decimal(0)) + pnl
        return DayResults(closed, len(open_positions), unrealised, unmarked)
