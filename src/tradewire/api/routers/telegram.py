"""Telegram: a one-time code that links a chat to you (`/start CODE` to the bot), unlinking, and which
notifications you get."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request, Response, status

from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.schemas.telegram import (
    LinkCodeOut,
    NotificationsUpdate,
    SummaryIn,
    SummaryOut,
    TelegramOut,
)
from tradewire.services.telegram.linking import LinkStatus

router = APIRouter(prefix="/api/v1", tags=["telegram"])


@router.get("/telegram", response_model=TelegramOut)
async def telegram_status(runtime: RuntimeDep, user: CurrentUser) -> TelegramOut:
    """Whether a chat is linked to you, and your notification settings."""
    return _out(runtime.telegram.enabled, await runtime.telegram.linking.status(user.id))


@router.post("/telegram/link", response_model=LinkCodeOut, status_code=201, responses={409: {}})
async def new_link_code(runtime: RuntimeDep, user: CurrentUser) -> LinkCodeOut:
    """A one-time code (shown once, kept hashed): send `/start CODE` to the bot within its life to link
    that chat to you (a chat linked before is replaced). A new code replaces your previous one. 409
    when this server runs no Telegram bot (TRADEWIRE_TELEGRAM_TOKEN)."""
    if not runtime.telegram.enabled or runtime.telegram.bot is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "this server runs no Telegram bot")
    made = await runtime.telegram.linking.new_code(user.id)
    username = runtime.telegram.bot.username
    return LinkCodeOut(code=made.code, expires_at=made.expires_at, bot_username=username)


@router.delete("/telegram/link", status_code=204, response_class=Response, responses={404: {}})
async def unlink(runtime: RuntimeDep, user: CurrentUser) -> Response:
    """Unlink your chat: no more notifications or commands there (404 when none is linked)."""
    if not await runtime.telegram.linking.unlink_user(user.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no Telegram chat is linked")
    return Response(status_code=204)


@router.patch("/telegram/notifications", response_model=TelegramOut)
async def set_notifications(body: NotificationsUpdate, runtime: RuntimeDep, user: CurrentUser) -> TelegramOut:
    """Turn notifications on or off; those not named stay as they are (every one is on by default)."""
    changes = {name: value for name, value in body.model_dump().items() if value is not None}
    if changes:
        await runtime.telegram.linking.set_notices(user.id, changes)
    return _out(runtime.telegram.enabled, await runtime.telegram.linking.status(user.id))


@router.put("/telegram/summary", response_model=TelegramOut, responses={422: {}})
async def set_summary(body: SummaryIn, runtime: RuntimeDep, user: CurrentUser) -> TelegramOut:
    """A daily summary in your chat, once a day from `hour` on in `time_zone`: positions closed in the
    last 24 hours (realised PnL and fees per quote currency) and what is open (422: unknown zone)."""
    await runtime.telegram.linking.set_summary(user.id, body.hour, body.time_zone)
    return _out(runtime.telegram.enabled, await runtime.telegram.linking.status(user.id))


@router.delete("/telegram/summary", status_code=204, response_class=Response)
async def remove_summary(runtime: RuntimeDep, user: CurrentUser) -> Response:
    """No daily summary any more."""
    await runtime.telegram.linking.set_summary(user.id, None)
    return Response(status_code=204)


@router.post(
    "/telegram/updates",
    status_code=200,
    response_class=Response,
    responses={
        200: {"description": "taken: handled in the background"},
        400: {},
        401: {"description": "the secret token header is missing or wrong"},
        404: {"description": "the bot does not receive updates by webhook"},
        503: {"description": "the bot is starting: Telegram tries again"},
    },
)
async def telegram_update(request: Request, runtime: RuntimeDep) -> Response:
    """Telegram's webhook, when TRADEWIRE_TELEGRAM_WEBHOOK_URL is set (it must reach this path): one
    Update, authenticated by the `X-Telegram-Bot-Api-Secret-Token` header the bot registered, checked
    before the body is read. Not for people: the bot's chats are its interface."""
    bot = runtime.telegram.bot
    if bot is None or not bot.webhook_mode:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this server receives no Telegram updates by webhook")
    if not bot.webhook_secret_matches(request.headers.get("x-telegram-bot-api-secret-token")):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong or missing secret token")
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body is not JSON") from exc
    if not isinstance(data, dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body is not a Telegram update")
    try:
        taken = await runtime.telegram.receive(data)
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    if not taken:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the bot is starting")
    return Response(status_code=200)


def _out(enabled: bool, found: LinkStatus) -> TelegramOut:
    link = found.link
    return TelegramOut(
        enabled=enabled,
        linked=link is not None,
        linked_at=None if link is None else link.linked_at,
        notifications=found.notices,
        daily_summary=None
        if found.summary is None
        else SummaryOut(
            hour=found.summary.hour,
            time_zone=found.summary.time_zone,
            last_sent_on=found.summary.last_sent_on,
        ),
    )
