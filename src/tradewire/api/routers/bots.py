"""Bots: a personal strategy the server runs for its owner."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from tradewire.api.audited import AuditDep
from tradewire.api.auth import CurrentUser, RuntimeDep
from tradewire.api.fields import DbId
from tradewire.api.schemas.bots import BotCreate, BotOut, BotUpdate
from tradewire.api.schemas.common import request_of
from tradewire.api.schemas.settings import confirmation_of, settings_of
from tradewire.domain.audit import Action
from tradewire.domain.members import Bot
from tradewire.services.members.bots import BotRequest

router = APIRouter(prefix="/api/v1", tags=["bots"])


@router.post("/bots", response_model=BotOut, status_code=201, responses={409: {}})
async def create_bot(body: BotCreate, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep) -> BotOut:
    """A personal strategy the server runs for you, trading your paper account unless you name another."""
    request = request_of(body, BotRequest, settings=settings_of(body), confirmation=confirmation_of(body))
    bot = await runtime.marketplace.bots.create(user.id, request)
    await audit.record(user, Action.BOT_CREATED, ("bot", bot.id))
    return _bot_out(bot)


@router.get("/bots", response_model=list[BotOut])
async def list_bots(runtime: RuntimeDep, user: CurrentUser) -> list[BotOut]:
    return [_bot_out(bot) for bot in await runtime.marketplace.bots.owned(user.id)]


@router.get("/bots/{bot_id}", response_model=BotOut)
async def get_bot(bot_id: DbId, runtime: RuntimeDep, user: CurrentUser) -> BotOut:
    return _bot_out(await runtime.marketplace.bots.get(user.id, bot_id))


@router.patch("/bots/{bot_id}", response_model=BotOut)
async def update_bot(
    bot_id: DbId, body: BotUpdate, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep
) -> BotOut:
    """Change a bot's strategy, pairs, timeframe or rules; the server applies it on its next round."""
    bot = await runtime.marketplace.bots.change(user.id, bot_id, body.definition)
    await audit.record(user, Action.BOT_CHANGED, ("bot", bot_id))
    return _bot_out(bot)


@router.post("/bots/{bot_id}/start", response_model=BotOut)
async def start_bot(bot_id: DbId, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep) -> BotOut:
    bot = await runtime.marketplace.bots.run(user.id, bot_id, running=True)
    await audit.record(user, Action.BOT_STARTED, ("bot", bot_id))
    return _bot_out(bot)


@router.post("/bots/{bot_id}/stop", response_model=BotOut)
async def stop_bot(bot_id: DbId, runtime: RuntimeDep, user: CurrentUser, audit: AuditDep) -> BotOut:
    """Stop evaluating the bot and pause its subscription; open positions keep their exits."""
    bot = await runtime.marketplace.bots.run(user.id, bot_id, running=False)
    await audit.record(user, Action.BOT_STOPPED, ("bot", bot_id))
    return _bot_out(bot)


def _bot_out(bot: Bot) -> BotOut:
    return BotOut(**asdict(bot), running=bot.running)
