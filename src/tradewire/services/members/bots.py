"""Bots: a personal built-in strategy the server runs for its owner, with its one subscription."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Container
from dataclasses import dataclass, field
from decimal import Decimal

from tradewire.domain.confirmation import TradeConfirmation, unreachable
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import (
    Bot,
    BotRun,
    Invalid,
    NewStrategy,
    NewSubscription,
    StrategySource,
    SubscriptionSettings,
)
from tradewire.domain.sizing import SizingMode
from tradewire.domain.strategies.definition import BotSettings, StrategyDefinition
from tradewire.ports import Clock, Members, Passwords
from tradewire.ports.ai import AiStore
from tradewire.ports.models import ModelRegistry
from tradewire.services.ai_setup import check_ai
from tradewire.services.members.accounts import Accounts
from tradewire.services.members.models import check_model
from tradewire.services.members.strategies import check_definition, new_passphrase


@dataclass(frozen=True, slots=True)
class BotRequest:
    name: str
    definition: StrategyDefinition
    account_id: int | None = None  # None: the owner's paper account
    sizing_mode: SizingMode = SizingMode.FIXED_QUOTE
    sizing_value: Decimal = Decimal(100)
    settings: SubscriptionSettings = field(default_factory=SubscriptionSettings)
    confirmation: TradeConfirmation = field(default_factory=TradeConfirmation)  # confirm before trade


@dataclass(slots=True, eq=False)
class Bots:
    """A user's bots: create, retune, start and stop them (stopping pauses the subscription; open
    positions keep their exits)."""

    members: Members
    accounts: Accounts
    passwords: Passwords
    clock: Clock
    paper_pairs: Container[str]
    models: ModelRegistry | None = None  # what `lightgbm` definitions may name
    ai: AiStore | None = None  # the endpoints and prompts `ai_chart` definitions may name
    telegram_bot: bool = True  # the server runs a Telegram bot (where `confirmation: telegram` asks)

    async def create(self, user_id: int, request: BotRequest) -> Bot:
        if (why := unreachable(request.confirmation.via, self.telegram_bot)) is not None:
            raise Invalid(why)
        account_id = request.account_id
        if account_id is not None:
            await self.accounts.get(user_id, account_id)
        definition = _with_bot_settings(request.definition)
        check_definition(definition, self.paper_pairs, self.accounts.guards.is_exchange_id)
        await check_model(self.models, user_id, definition)
        await check_ai(self.ai, user_id, definition)
        if account_id is None:
            account_id = await self.accounts.paper_account(user_id)
        now = self.clock.now()
        strategy = NewStrategy(
            owner_id=user_id,
            slug=f"bot-{user_id}-{secrets.token_hex(4)}",
            name=request.name,
            description="",
            source=StrategySource.BOT,
            passphrase_hash=await asyncio.to_thread(self.passwords.hash, new_passphrase()),
            is_public=False,
            created_at=now,
            definition=definition,
        )
        subscription = NewSubscription(
            user_id=user_id,
            account_id=account_id,
            strategy_id=0,  # the bot's own, created with it
            status=SubscriptionStatus.ACTIVE if definition.enabled else SubscriptionStatus.PAUSED,
            pairs=None,
            sizing_mode=request.sizing_mode,
            sizing_value=request.sizing_value,
            created_at=now,
            settings=request.settings,
            confirmation=request.confirmation,
        )
        bot_id = await asyncio.to_thread(self.members.add_bot, strategy, subscription)
        return await self.get(user_id, bot_id)

    async def owned(self, user_id: int) -> list[Bot]:
        return await asyncio.to_thread(self.members.bots, user_id)

    async def get(self, user_id: int, bot_id: int) -> Bot:
        [bot] = await asyncio.to_thread(self.members.bots, user_id, bot_id)
        return bot

    async def change(self, user_id: int, bot_id: int, definition: StrategyDefinition) -> Bot:
        """A new definition; the server applies it on its next round."""
        current = await self.get(user_id, bot_id)
        check_definition(definition, self.paper_pairs, self.accounts.guards.is_exchange_id)
        await check_model(self.models, user_id, definition)
        await check_ai(self.ai, user_id, definition)
        definition = _with_bot_settings(definition)
        status = current.status if definition.enabled else SubscriptionStatus.PAUSED
        await asyncio.to_thread(
            self.members.set_bot_running,
            user_id,
            bot_id,
            BotRun(definition.model_dump(mode="json"), status),
            self.clock.now(),
        )
        return await self.get(user_id, bot_id)

    async def run(self, user_id: int, bot_id: int, running: bool) -> Bot:
        """Start (or stop) evaluating the bot, and resume (or pause) its subscription."""
        current = await self.get(user_id, bot_id)
        status = SubscriptionStatus.ACTIVE if running else SubscriptionStatus.PAUSED
        run = BotRun({**current.definition, "enabled": running}, status)
        await asyncio.to_thread(self.members.set_bot_running, user_id, bot_id, run, self.clock.now())
        return await self.get(user_id, bot_id)


def _with_bot_settings(definition: StrategyDefinition) -> StrategyDefinition:
    """A bot's definition always carries its bot settings (the defaults when absent)."""
    if definition.bot is None:
        return definition.model_copy(update={"bot": BotSettings()})
    return definition
