"""Subscriptions: an account follows a strategy; its owner pauses, resumes, cancels or retunes it."""

from __future__ import annotations

import asyncio
from collections.abc import Container
from dataclasses import dataclass, field
from decimal import Decimal

from tradewire.domain.confirmation import TradeConfirmation, unreachable
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import (
    Account,
    AccountMode,
    Conflict,
    Invalid,
    NewSubscription,
    StrategySource,
    Subscription,
    SubscriptionChanges,
    SubscriptionSettings,
    Unavailable,
    User,
)
from tradewire.domain.sizing import Sizing, SizingMode
from tradewire.ports import Clock, ExchangeDirectory, ExchangeError, ExchangeUnavailable, Members
from tradewire.services.members.strategies import MarketplaceCaches


@dataclass(frozen=True, slots=True)
class SubscriptionRequest:
    strategy_id: int
    account_id: int
    pairs: list[str] | None = None
    sizing_mode: SizingMode = SizingMode.FIXED_QUOTE
    sizing_value: Decimal = Decimal(100)
    settings: SubscriptionSettings = field(default_factory=SubscriptionSettings)
    confirmation: TradeConfirmation = field(default_factory=TradeConfirmation)


@dataclass(slots=True, eq=False)
class Subscriptions:
    """A user's subscriptions; a pair filter names markets of the account's own venue."""

    members: Members
    exchanges: ExchangeDirectory
    clock: Clock
    paper_markets: Container[str]
    markets_timeout_s: float
    telegram_bot: bool = True  # the server runs a Telegram bot (where `confirmation: telegram` asks)
    # The marketplace's subscriber counts, forgotten when a subscription starts or changes status.
    caches: MarketplaceCaches = field(default_factory=lambda: MarketplaceCaches.lasting(0))

    async def subscribe(self, user_id: int, request: SubscriptionRequest) -> Subscription:
        """Subscribe one of the user's accounts to a strategy they can see."""
        if (why := unreachable(request.confirmation.via, self.telegram_bot)) is not None:
            raise Invalid(why)
        strategy = await asyncio.to_thread(self.members.strategy, user_id, request.strategy_id)
        if strategy.source == StrategySource.BOT and strategy.is_owner:
            # A bot trades on the one subscription it was made with (POST /bots, PATCH /subscriptions).
            raise Conflict(f"strategy {strategy.id} is your bot: it trades on its own subscription")
        account = await asyncio.to_thread(self.members.account, user_id, request.account_id)
        await self._check_pairs(account, request.pairs)
        new = NewSubscription(
            user_id=user_id,
            account_id=request.account_id,
            strategy_id=request.strategy_id,
            status=SubscriptionStatus.ACTIVE,
            pairs=request.pairs,
            sizing_mode=request.sizing_mode,
            sizing_value=request.sizing_value,
            created_at=self.clock.now(),
            settings=request.settings,
            confirmation=request.confirmation,
        )
        subscription_id = await asyncio.to_thread(self.members.add_subscription, new)
        self.caches.public.clear()
        return await self.get(user_id, subscription_id)

    async def owned(self, user_id: int) -> list[Subscription]:
        return await asyncio.to_thread(self.members.subscriptions, user_id)

    async def get(self, user_id: int, subscription_id: int) -> Subscription:
        return await asyncio.to_thread(self.members.subscription, user_id, subscription_id)

    async def change(self, user: User, subscription_id: int, changes: SubscriptionChanges) -> Subscription:
        """Pause, resume or cancel; change the pair filter, the sizing, the risk, exit or entry settings."""
        current = await self.get(user.id, subscription_id)  # yours, before all else
        if changes.pairs is not None:
            account = await asyncio.to_thread(self.members.account, user.id, current.account_id)
            await self._check_pairs(account, changes.pairs)
        params = changes.settings.sizing_params
        if params is not None:
            mode = changes.sizing_mode or current.sizing_mode
            try:
                Sizing(mode, changes.sizing_value or current.sizing_value, params)
            except ValueError as exc:
                raise Invalid(str(exc)) from exc
        if changes.settings.dca is not None and changes.no_dca:
            raise Invalid("give either dca or no_dca, not both")
        if changes.is_empty():
            raise Invalid("nothing to change")
        if (why := unreachable(changes.confirmation, self.telegram_bot)) is not None:
            raise Invalid(why)
        try:
            changes.confirmation_columns()
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        await asyncio.to_thread(
            self.members.change_subscription,
            user.id,
            subscription_id,
            changes,
            user.username,
            self.clock.now(),
        )
        if changes.status is not None:
            self.caches.public.clear()
        return await self.get(user.id, subscription_id)

    async def halt_all(self, user: User) -> list[int]:
        """The emergency stop: every subscription of the user HALTED (no orders at all) at once."""
        return await asyncio.to_thread(
            self.members.halt_subscriptions, user.id, user.username, self.clock.now()
        )

    async def _check_pairs(self, account: Account, pairs: list[str] | None) -> None:
        """A pair filter names markets of the account's own venue (a live exchange lists its own)."""
        if not pairs:
            return
        listed: Container[str]
        if account.mode is AccountMode.PAPER:
            listed = self.paper_markets
        else:
            try:
                exchange = self.exchanges.for_account(account.id, account.exchange, AccountMode.LIVE)
                listed = await asyncio.wait_for(exchange.markets(), self.markets_timeout_s)
            except (ExchangeUnavailable, ExchangeError, TimeoutError) as exc:
                raise Unavailable(
                    f"cannot check the pairs: {account.exchange} markets could not be loaded: {exc}"
                ) from exc
        unknown = [p for p in pairs if p not in listed]
        if unknown:
            raise Invalid(f"unknown pairs on {account.exchange}: {unknown}")
