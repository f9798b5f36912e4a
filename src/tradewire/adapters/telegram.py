"""The installation's one Telegram bot, with python-telegram-bot (asyncio): long polling of updates
(or, with a webhook URL, Telegram's POSTs to /api/v1/telegram/updates, checked by their secret token),
commands and button presses handed to `services.telegram.commands.ChatCommands`, and the messenger the
notifications send through (`ports.telegram.Messenger`).

The Bot API's base URL is a setting (`TRADEWIRE_TELEGRAM_API_URL`), so tests run the real library
against a local fake. The token travels in every request's URL: it is registered with the log
redaction, and httpx's request lines are kept out of the logs (tradewire.logs).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from tradewire.domain.telegram import COMMANDS
from tradewire.logs import register_secret
from tradewire.ports.telegram import (
    Button,
    ChatGone,
    MessageRefused,
    MessengerUnavailable,
    RetryLater,
)
from tradewire.services.loops import pause
from tradewire.services.telegram.commands import PressReply, Reply

log = logging.getLogger("tradewire.telegram")

ALLOWED_UPDATES = ["message", "callback_query"]
RECENT_UPDATES = 1000  # update ids remembered: Telegram may deliver one again after a failed answer


class UpdateRefused(Exception):
    """An update POSTed to the webhook that is not one (its JSON is not a Telegram Update)."""


class Conversation(Protocol):
    """What answers a chat (services.telegram.commands.ChatCommands)."""

    async def handle(self, chat_id: int, text: str | None) -> Reply: ...

    async def press(self, chat_id: int, data: str | None, text: str | None = None) -> PressReply: ...


def _markup(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.text, callback_data=b.data) for b in buttons]])


def _retry_after(exc: RetryAfter) -> float:
    """A 429's wait in seconds (python-telegram-bot 22 warns that it will become a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | float | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramBot:
    """One bot: `run` polls updates until stopped; `send` is the notifications' messenger."""

    def __init__(
        self,
        token: str,
        api_url: str,
        conversation: Conversation,
        poll_timeout_s: int = 30,
        request_timeout_s: float = 10.0,
        webhook_url: str | None = None,
    ) -> None:
        register_secret(token)
        root = api_url.rstrip("/")
        self._conversation = conversation
        self._poll_timeout_s = poll_timeout_s
        self._webhook_url = webhook_url
        # The token Telegram sends with each webhook POST: derived from the bot's token, so it needs no
        # setting of its own and changes with it.
        self._webhook_secret = hmac.new(
            token.encode(), b"tradewire telegram webhook", hashlib.sha256
        ).hexdigest()
        register_secret(self._webhook_secret)
        self._recent: deque[int] = deque(maxlen=RECENT_UPDATES)
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            Application.builder()
            .token(token)
            .base_url(f"{root}/bot")
            .base_file_url(f"{root}/file/bot")
            .read_timeout(request_timeout_s)
            .write_timeout(request_timeout_s)
            .connect_timeout(request_timeout_s)
            # A few connections are plenty at Telegram's 30 messages a second, and httpcore checks
            # every pooled connection on each request (256 by default: most of a send's CPU).
            .connection_pool_size(8)
            .pool_timeout(request_timeout_s)
            .get_updates_read_timeout(poll_timeout_s + request_timeout_s)
            .concurrent_updates(8)
            .updater(None)
            .build()
        )
        self.app.add_handler(MessageHandler(filters.TEXT & filters.ChatType.PRIVATE, self._on_text))
        self.app.add_handler(CallbackQueryHandler(self._on_button))
        self.app.add_error_handler(self._on_error)
        self._offset = 0
        self._username: str | None = None

    @property
    def username(self) -> str | None:
        """The bot's @username, once it has started (getMe)."""
        return self._username

    @property
    def webhook_mode(self) -> bool:
        """Updates arrive by Telegram's POSTs to the webhook, not by polling."""
        return self._webhook_url is not None

    def webhook_secret_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self._webhook_secret.encode())

    async def receive(self, data: Mapping[str, object]) -> bool:
        """An update POSTed to the webhook, handed to the application (handled in the background, so
        Telegram is answered at once); False while the bot is not started (Telegram tries again).
        An update id seen lately is not handled twice. Raises UpdateRefused for JSON that is no
        update."""
        if not self.app.running:
            return False
        try:
            update = Update.de_json(dict(data), self.app.bot)
        # Whatever the parser trips on: a string where an object belongs (AttributeError), a date
        # past any time_t (OverflowError), ...: the body is no update.
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
            raise UpdateRefused(f"not a Telegram update: {type(exc).__name__}") from exc
        if update is None or not isinstance(update.update_id, int):
            raise UpdateRefused("not a Telegram update")
        if update.update_id in self._recent:
            return True
        self._recent.append(update.update_id)
        await self.app.update_queue.put(update)
        return True

    # -- the messenger (ports.telegram.Messenger) --------------------------------------------------------

    async def send(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> int:
        try:
            message = await self.app.bot.send_message(chat_id, text, reply_markup=_markup(buttons))
        except RetryAfter as exc:
            raise RetryLater(_retry_after(exc)) from exc
        except Forbidden as exc:
            raise ChatGone(exc.message) from exc
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                raise ChatGone(exc.message) from exc
            raise MessageRefused(exc.message) from exc
        except TelegramError as exc:  # network, timeouts, 5xx, a token refused
            raise MessengerUnavailable(str(exc)) from exc
        return int(message.message_id)

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        try:
            await self.app.bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=None
            )
        except RetryAfter as exc:
            raise RetryLater(_retry_after(exc)) from exc
        except Forbidden as exc:
            raise ChatGone(exc.message) from exc
        except BadRequest as exc:
            lowered = exc.message.lower()
            if "message is not modified" in lowered:
                return  # told already (the button's own answer, or a restart's second edit)
            if "chat not found" in lowered:
                raise ChatGone(exc.message) from exc
            raise MessageRefused(exc.message) from exc
        except TelegramError as exc:
            raise MessengerUnavailable(str(exc)) from exc

    # -- polling -----------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Start the bot (retried every 10 s while Telegram cannot be reached), then poll updates and
        handle each until `stop` is set (in webhook mode, Telegram POSTs them: `receive`)."""
        while not stop.is_set():
            try:
                await self._start()
                break
            except TelegramError as exc:
                log.error("telegram bot not started (%s); trying again in 10 s", exc)
                await pause(stop, 10.0)
        else:
            return
        try:
            if self._webhook_url is None:
                await self._poll(stop)
            else:
                await stop.wait()
        finally:
            await self._stop()

    async def _start(self) -> None:
        await self.app.initialize()  # getMe: checks the token
        if self._webhook_url is None:
            await self.app.bot.delete_webhook()  # long polling and a webhook exclude each other
        else:
            await self.app.bot.set_webhook(
                self._webhook_url, secret_token=self._webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
        await self.app.bot.set_my_commands([BotCommand(name, about) for name, about in COMMANDS])
        await self.app.start()
        self._username = self.app.bot.username
        how = "polling for updates" if self._webhook_url is None else "receiving updates by webhook"
        log.info("telegram bot @%s %s", self._username, how)

    async def _poll(self, stop: asyncio.Event) -> None:
        """getUpdates long polling: each batch is handed to the application, then confirmed by the
        next request's offset (an update handled is not fetched again)."""
        while not stop.is_set():
            try:
                updates = await self.app.bot.get_updates(
                    offset=self._offset,
                    timeout=self._poll_timeout_s,
                    allowed_updates=ALLOWED_UPDATES,
                )
            except RetryAfter as exc:
                await pause(stop, _retry_after(exc))
                continue
            except TelegramError as exc:
                log.warning("telegram getUpdates failed (%s); retrying in 2 s", exc)
                await pause(stop, 2.0)
                continue
            for update in updates:
                self._offset = max(self._offset, update.update_id + 1)
                await self.app.update_queue.put(update)

    async def _stop(self) -> None:
        try:
            if self.app.running:
                await self.app.stop()
            await self.app.shutdown()
        except Exception:
            log.exception("telegram bot did not stop cleanly")

    # -- handlers ----------------------------------------------------------------------------------------

    async def _on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat = update.effective_message, update.effective_chat
        if message is None or chat is None:
            return
        reply = await self._conversation.handle(chat.id, message.text)
        await message.reply_text(reply.text, reply_markup=_markup(reply.buttons))

    async def _on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, chat = update.callback_query, update.effective_chat
        if query is None:
            return
        if chat is None or chat.type != "private":
            await query.answer()
            return
        text = getattr(query.message, "text", None)  # an inaccessible (old) message has none
        result = await self._conversation.press(chat.id, query.data, text)
        await query.answer(result.notice)
        if result.edit is not None and query.message is not None:
            await query.edit_message_text(result.edit)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update not handled: %s", context.error, exc_info=context.error)
