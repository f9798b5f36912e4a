"""Telegram: a link code, the link's state and the notification settings."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from tradewire.api.schemas.common import Strict
from tradewire.domain.notices import NOTICES


class LinkCodeOut(BaseModel):
    code: str = Field(description="send `/start CODE` to the bot; works once, until `expires_at`")
    expires_at: datetime
    bot_username: str | None = Field(description="the bot to send it to, when it has started")


class SummaryIn(Strict):
    """The daily summary: sent once a day from `hour` on, in `time_zone`."""

    hour: int = Field(ge=0, le=23)
    time_zone: str = Field(
        default="UTC", min_length=1, max_length=64, description="an IANA name, e.g. Europe/Berlin"
    )


class SummaryOut(BaseModel):
    hour: int
    time_zone: str
    last_sent_on: str | None = Field(description="the last local day summarised")


class TelegramOut(BaseModel):
    enabled: bool = Field(description="whether this server runs a Telegram bot")
    linked: bool
    linked_at: datetime | None
    notifications: dict[str, bool] = Field(description=f"each notification on or off: {', '.join(NOTICES)}")
    daily_summary: SummaryOut | None = Field(description="the daily summary (null: none)")


class NotificationsUpdate(Strict):
    """Notifications to turn on (true) or off (false); the others stay as they are."""

    signal_received: bool | None = None
    entry_filled: bool | None = None
    exit_filled: bool | None = None
    order_failed: bool | None = None
    entry_refused: bool | None = None
    bot_changed: bool | None = None
    daily_loss: bool | None = None
    drawdown: bool | None = None
    breaker_open: bool | None = None
