"""Wires the Telegram bot (runtime.py's part for it): linking always (a link code is refused without a
bot), the bot and its notifications only when TRADEWIRE_TELEGRAM_TOKEN is set (the Telegram library is
loaded only then)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tradewire.adapters.rate_limits import RateLimits
from tradewire.adapters.store.events import SqlEvents
from tradewire.adapters.store.telegram import SqlTelegramLinks
from tradewire.config import Settings
from tradewire.ports import Clock
from tradewire.services.confirmations import Confirmations
from tradewire.services.members import Marketplace
from tradewire.services.records import Records
from tradewire.services.telegram.commands import ChatCommands
from tradewire.services.telegram.linking import LINK_TIER, Linking
from tradewire.services.telegram.notifications import ALL_TIER, CHAT_TIER, Notifications
from tradewire.services.telegram.summaries import Summaries
from tradewire.services.valuation import Valuations

if TYPE_CHECKING:
    from tradewire.adapters.telegram import TelegramBot

Loop = Callable[[asyncio.Event], Coroutine[object, object, None]]


@dataclass(eq=False)
class Telegram:
    """Linking and settings (always), and the bot with its notifications (None without a token)."""

    linking: Linking
    bot: TelegramBot | None = None
    notifications: Notifications | None = None
    summaries: Summaries | None = None

    @property
    def enabled(self) -> bool:
        return self.bot is not None

    async def receive(self, data: dict[str, object]) -> bool:
        """An update POSTed to the webhook (the bot in webhook mode); ValueError when it is none."""
        if self.bot is None:
            return False
        from tradewire.adapters.telegram import UpdateRefused  # loaded with the bot

        try:
            return await self.bot.receive(data)
        except UpdateRefused as exc:
            raise ValueError(str(exc)) from exc

    def loops(self) -> list[Loop]:
        """The background loops to run with the server: polling and notifications."""
        if self.bot is None or self.notifications is None or self.summaries is None:
            return []
        return [self.bot.run, self.notifications.run, self.summaries.run]


def build_telegram(
    settings: Settings,
    engine: Engine,
    clock: Clock,
    marketplace: Marketplace,
    records: Records,
    valuations: Valuations,
    confirmations: Confirmations,
) -> Telegram:
    links = SqlTelegramLinks(engine)
    linking = Linking(
        links,
        clock,
        RateLimits({LINK_TIER: settings.telegram_link_attempts}),
        code_ttl=timedelta(minutes=settings.telegram_link_code_minutes),
    )
    if settings.telegram_token is None:
        return Telegram(linking)
    from tradewire.adapters.telegram import TelegramBot

    commands = ChatCommands(
        linking,
        marketplace.logins,
        marketplace.subscriptions,
        marketplace.accounts,
        records,
        valuations,
        clock,
        quote=settings.paper_quote_currency,
        confirmations=confirmations,
    )
    bot = TelegramBot(
        settings.telegram_token.get_secret_value(),
        settings.telegram_api_url,
        commands,
        poll_timeout_s=settings.telegram_poll_timeout_s,
        request_timeout_s=settings.telegram_request_timeout_s,
        webhook_url=settings.telegram_webhook_url,
    )
    pace = RateLimits({CHAT_TIER: settings.telegram_chat_rate, ALL_TIER: settings.telegram_rate}, exact=True)
    notifications = Notifications(
        links, SqlEvents(engine), bot, pace, poll_s=settings.telegram_notify_interval_s
    )
    summaries = Summaries(
        links, records, notifications, clock, interval_s=settings.telegram_summary_interval_s
    )
    return Telegram(linking, bot, notifications, summaries)
