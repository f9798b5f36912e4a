"""Telegram as the services see it: the store of links, codes and notification settings, and the
messenger that talks to chats (adapters/store/telegram.py, adapters/telegram.py)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ChatLink:
    """A user's linked chat, and the last of the user's events its notifications were handled to."""

    user_id: int
    chat_id: int
    linked_at: datetime
    last_event_id: int


@dataclass(frozen=True, slots=True)
class SummarySetting:
    """A user's daily summary: sent at `hour` (0-23) in `time_zone` (IANA), last for `last_sent_on`."""

    user_id: int
    hour: int
    time_zone: str
    last_sent_on: str | None  # ISO date, local to time_zone


@dataclass(frozen=True, slots=True)
class Prompt:
    """A confirm-before-trade question sent to a chat: the message its buttons are under, and its text
    (the outcome is added below it when the message is edited)."""

    intent_id: int
    chat_id: int
    message_id: int
    text: str


class TelegramLinks(Protocol):
    """Linked chats, one-time link codes (their digests) and notification settings."""

    def add_link_code(self, user_id: int, digest: str, now: datetime, expires_at: datetime) -> None:
        """Keep a new code of the user (codes of the user not used yet are dropped: one at a time)."""

    def use_link_code(self, digest: str, chat_id: int, now: datetime) -> int | None:
        """Link `chat_id` to the user of a code not used and not expired, and mark the code used, at
        once; the chat's notifications start after the user's last event. The user, or None."""

    def unlink_user(self, user_id: int) -> bool:
        """Forget the user's chat; whether there was one."""

    def unlink_chat(self, chat_id: int) -> int | None:
        """Forget the chat's link; its user, or None."""

    def link_of_user(self, user_id: int) -> ChatLink | None: ...

    def link_of_chat(self, chat_id: int) -> ChatLink | None: ...

    def links(self) -> list[ChatLink]:
        """Every linked chat."""

    def advance(self, user_id: int, chat_id: int, last_event_id: int) -> bool:
        """Move the chat's cursor forward to `last_event_id` (never back; False when the chat is no
        longer linked to the user)."""

    def prompt_sent(self, user_id: int, prompt: Prompt, last_event_id: int, now: datetime) -> bool:
        """Keep the question sent for an intent (a later one for the same intent replaces it) and move
        the chat's cursor to `last_event_id`, at once; False when the chat is no longer linked to the
        user (nothing kept)."""

    def prompts(self, intent_ids: Collection[int]) -> dict[int, Prompt]:
        """The questions sent for those intents, by intent."""

    def forget_prompts(self, before: datetime) -> int:
        """Drop questions sent before `before`; how many."""

    def notice_settings(self, user_ids: Collection[int]) -> dict[int, dict[str, bool]]:
        """Each user's settings that differ from the default (on), by notice."""

    def set_notices(self, user_id: int, settings: Mapping[str, bool]) -> None:
        """Turn notices on or off (others unchanged)."""

    def summaries(self, user_ids: Collection[int]) -> dict[int, SummarySetting]:
        """The daily summary settings of those users that have one."""

    def set_summary(self, user_id: int, hour: int | None, time_zone: str) -> None:
        """Send the user's daily summary at `hour` in `time_zone` (None: no summary)."""

    def summary_sent(self, user_id: int, day: str) -> bool:
        """Record the summary of local day `day` sent (False when one was recorded for it or later)."""


class ChatGone(Exception):
    """The chat cannot be reached any more: the user blocked the bot, or the chat does not exist."""


class RetryLater(Exception):
    """Telegram asked to wait `retry_after` seconds (429)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class MessageRefused(Exception):
    """Telegram refused this message for what it is (a 400 other than a missing chat): sending it
    again cannot help."""


class MessengerUnavailable(Exception):
    """Telegram could not be reached or failed (network, 5xx): try again later."""


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    data: str  # at most 64 bytes


class Messenger(Protocol):
    """Sends to chats; raises ChatGone, RetryLater, MessageRefused or MessengerUnavailable."""

    async def send(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> int:
        """Send a message; its id."""

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        """Replace a message's text, and remove its buttons (the same text again is no error)."""
