"""Linking a Telegram chat to a user: a one-time code asked for over the API and sent to the bot as
`/start CODE`; unlinking from either side; each user's notification settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tradewire.domain.members import Invalid
from tradewire.domain.notices import NOTICES
from tradewire.domain.telegram import code_digest, looks_like_code, new_link_code
from tradewire.ports import Clock
from tradewire.ports.rate_limits import RateLimiter
from tradewire.ports.telegram import ChatLink, SummarySetting, TelegramLinks

log = logging.getLogger("tradewire.telegram")

LINK_TIER = "telegram_link"  # /start attempts per chat


@dataclass(frozen=True, slots=True)
class LinkCode:
    code: str  # shown once; only its digest is kept
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkStatus:
    link: ChatLink | None
    notices: dict[str, bool]  # every notice, on or off
    summary: SummarySetting | None = None


@dataclass(slots=True, eq=False)
class Linking:
    """Link codes, links and notification settings."""

    links: TelegramLinks
    clock: Clock
    attempts: RateLimiter  # tier LINK_TIER: /start attempts per chat, counted before any check
    code_ttl: timedelta = timedelta(minutes=10)

    async def new_code(self, user_id: int) -> LinkCode:
        """A new one-time code for the user (their previous unused one stops working)."""
        code = new_link_code()
        now = self.clock.now()
        expires_at = now + self.code_ttl
        await asyncio.to_thread(self.links.add_link_code, user_id, code_digest(code), now, expires_at)
        return LinkCode(code, expires_at)

    async def link(self, chat_id: int, code: str) -> int | None:
        """Link the chat to the code's user; None for a wrong, used or expired code, or once the chat
        has used up its attempts (RetryLaterError says how long to wait)."""
        decision = await self.attempts.hit(LINK_TIER, str(chat_id))
        if not decision.allowed:
            raise TooManyAttempts(decision.retry_after_s)
        if not looks_like_code(code):
            return None
        user_id = await asyncio.to_thread(
            self.links.use_link_code, code_digest(code), chat_id, self.clock.now()
        )
        if user_id is not None:
            log.info("telegram chat linked to user %s", user_id)
        return user_id

    async def unlink_user(self, user_id: int) -> bool:
        return await asyncio.to_thread(self.links.unlink_user, user_id)

    async def unlink_chat(self, chat_id: int) -> int | None:
        return await asyncio.to_thread(self.links.unlink_chat, chat_id)

    async def user_of_chat(self, chat_id: int) -> int | None:
        link = await asyncio.to_thread(self.links.link_of_chat, chat_id)
        return None if link is None else link.user_id

    async def status(self, user_id: int) -> LinkStatus:
        link = await asyncio.to_thread(self.links.link_of_user, user_id)
        summary = (await asyncio.to_thread(self.links.summaries, [user_id])).get(user_id)
        return LinkStatus(link, await self.notices(user_id), summary)

    async def notices(self, user_id: int) -> dict[str, bool]:
        stored = (await asyncio.to_thread(self.links.notice_settings, [user_id])).get(user_id, {})
        return {n.value: stored.get(n.value, True) for n in NOTICES}

    async def set_notices(self, user_id: int, settings: Mapping[str, bool]) -> dict[str, bool]:
        """Turn notices on or off (names checked by the caller against NOTICES)."""
        await asyncio.to_thread(self.links.set_notices, user_id, dict(settings))
        return await self.notices(user_id)

    async def set_summary(self, user_id: int, hour: int | None, time_zone: str = "UTC") -> None:
        """The daily summary at `hour` (0-23) in `time_zone` (an IANA name); None: none."""
        if hour is not None:
            if not 0 <= hour <= 23:
                raise Invalid("hour must be 0 … 23")
            if not _known_zone(time_zone):
                raise Invalid(f"unknown time zone {time_zone!r} (an IANA name such as Europe/Berlin)")
        await asyncio.to_thread(self.links.set_summary, user_id, hour, time_zone)


def _known_zone(name: str) -> bool:
    if len(name) > 64 or not name.isascii():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as "America"
        return False
    return True


class TooManyAttempts(Exception):
    """The chat tried too many codes; it may try again after `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many attempts; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s
