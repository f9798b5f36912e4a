"""`tradewire.ports.Members` in memory (dicts, no database), for the marketplace's use case tests.

It keeps the rules the SQL store keeps: reads of private data are scoped to their owner (another
user's record is NotFound), names and slugs are unique (Conflict), a cancelled subscription never
changes, an account with live subscriptions cannot be deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from tests.fakes.memory_store.tables import DEFAULTS
from tradewire.adapters.store.member_rows import strategy_of, subscription_of
from tradewire.adapters.store.strategies import strategy_row
from tradewire.adapters.store.subscriptions import subscription_row
from tradewire.domain.confirmation import ConfirmVia
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import (
    Account,
    Bot,
    BotRun,
    Conflict,
    NewAccount,
    NewStrategy,
    NewSubscription,
    NotFound,
    Role,
    SealedSecrets,
    Strategy,
    StrategyChanges,
    StrategySource,
    Subscription,
    SubscriptionChanges,
    User,
)
from tradewire.domain.risk import TradingState
from tradewire.domain.track_record import PairRecord, PairStatus
from tradewire.ports import Members
from tradewire.services.members import Marketplace, build_marketplace


@dataclass
class _StoredStrategy:
    new: NewStrategy
    definition: dict[str, Any] | None
    extra: dict[str, Any] = field(default_factory=dict)  # changed fields


@dataclass
class MemoryMembers:
    users: dict[int, User] = field(default_factory=dict)
    accounts_: dict[int, tuple[NewAccount, SealedSecrets | None]] = field(default_factory=dict)
    strategies_: dict[int, _StoredStrategy] = field(default_factory=dict)
    subscriptions_: dict[int, Subscription] = field(default_factory=dict)
    owners: dict[int, int] = field(default_factory=dict)  # subscription id -> user id
    pairs: dict[tuple[int, str], PairRecord] = field(default_factory=dict)
    next_id: int = 1

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    # -- users ------------------------------------------------------------------------------------

    def create_user(
        self, username: str, password_hash: str, now: datetime, role: Role = Role.PROVIDER
    ) -> int:
        if any(u.username == username for u in self.users.values()):
            raise Conflict(f"username {username!r} is taken")
        user_id = self._id()
        self.users[user_id] = User(user_id, username, password_hash, role)
        return user_id

    def user_by_name(self, username: str) -> User | None:
        return next((u for u in self.users.values() if u.username == username), None)

    def user_by_id(self, user_id: int) -> User | None:
        return self.users.get(user_id)

    # -- accounts ---------------------------------------------------------------------------------

    def add_account(self, account: NewAccount) -> int:
        taken = any(
            a.user_id == account.user_id and a.name == account.name for a, _ in self.accounts_.values()
        )
        if taken:
            raise Conflict(f"you already have an account named {account.name!r}")
        account_id = self._id()
        self.accounts_[account_id] = (account, None)
        return account_id

    def seal_account(self, account_id: int, secrets: SealedSecrets) -> None:
        account, _ = self.accounts_[account_id]
        self.accounts_[account_id] = (account, secrets)

    def sealed(self, account_id: int) -> SealedSecrets | None:
        return self.accounts_[account_id][1]

    def _account(self, account_id: int) -> Account:
        new, sealed = self.accounts_[account_id]
        api_urls = None if new.api_urls is None else dict(new.api_urls)
        has_key = sealed is not None and sealed.api_key is not None
        return Account(
            account_id, new.name, new.exchange, new.mode, new.sandbox, api_urls, has_key, new.created_at
        )

    def accounts(self, user_id: int) -> list[Account]:
        return [self._account(i) for i, (a, _) in sorted(self.accounts_.items()) if a.user_id == user_id]

    def account(self, user_id: int, account_id: int) -> Account:
        found = self.accounts_.get(account_id)
        if found is None or found[0].user_id != user_id:
            raise NotFound(f"no exchange account {account_id}")
        return self._account(account_id)

    def delete_account(self, user_id: int, account_id: int) -> None:
        self.account(user_id, account_id)
        if any(
            s.account_id == account_id and s.status is not SubscriptionStatus.CANCELLED
            for s in self.subscriptions_.values()
        ):
            raise Conflict("the account still has subscriptions; cancel them first")
        del self.accounts_[account_id]

    # -- strategies -------------------------------------------------------------------------------

    def add_strategy(self, strategy: NewStrategy) -> int:
        if any(s.new.slug == strategy.slug for s in self.strategies_.values()):
            raise Conflict(f"the webhook slug {strategy.slug!r} is taken")
        strategy_id = self._id()
        definition = strategy.definition.model_dump(mode="json") if strategy.definition else None
        self.strategies_[strategy_id] = _StoredStrategy(strategy, definition)
        return strategy_id

    def _strategy(self, strategy_id: int, viewer_id: int | None) -> Strategy:
        """The strategy as SqlMembers reads its row back (stored as SqlMembers writes it)."""
        stored = self.strategies_[strategy_id]
        subscribers = sum(
            1
            for s in self.subscriptions_.values()
            if s.strategy_id == strategy_id and s.status is SubscriptionStatus.ACTIVE
        )
        row = {
            **DEFAULTS["strategies"],
            **strategy_row(stored.new),
            "definition": stored.definition,
            **stored.extra,
            "id": strategy_id,
            "owner": self.users[stored.new.owner_id].username,
            "subscriber_count": subscribers,
        }
        return strategy_of(row, viewer_id)

    def strategies_visible(self, user_id: int) -> list[Strategy]:
        return [self._strategy(i, user_id) for i in sorted(self.strategies_) if self._visible(i, user_id)]

    def public_strategies(self) -> list[Strategy]:
        return [self._strategy(i, None) for i in sorted(self.strategies_) if self._public(i)]

    def strategies_of_owner(self, owner_id: int) -> list[Strategy]:
        owned = (i for i in sorted(self.strategies_) if self.strategies_[i].new.owner_id == owner_id)
        return [self._strategy(i, owner_id) for i in owned]

    def _public(self, strategy_id: int) -> bool:
        stored = self.strategies_[strategy_id]
        return bool(stored.extra.get("is_public", stored.new.is_public))

    def _visible(self, strategy_id: int, user_id: int) -> bool:
        stored = self.strategies_.get(strategy_id)
        if stored is None:
            return False
        return stored.new.owner_id == user_id or bool(stored.extra.get("is_public", stored.new.is_public))

    def strategy(self, user_id: int, strategy_id: int) -> Strategy:
        if not self._visible(strategy_id, user_id):
            raise NotFound(f"no strategy {strategy_id}")
        return self._strategy(strategy_id, user_id)

    def _own(self, owner_id: int, strategy_id: int) -> _StoredStrategy:
        stored = self.strategies_.get(strategy_id)
        if stored is None or stored.new.owner_id != owner_id:
            raise NotFound(f"no strategy {strategy_id} of yours")
        return stored

    def change_strategy(self, owner_id: int, strategy_id: int, changes: StrategyChanges) -> None:
        stored = self._own(owner_id, strategy_id)
        for name in ("name", "description", "is_public", "dedup_window_s"):
            if getattr(changes, name) is not None:
                stored.extra[name] = getattr(changes, name)
        if changes.definition is not None:
            stored.definition = changes.definition.model_dump(mode="json", exclude_none=True)

    def set_strategy_passphrase(self, owner_id: int, strategy_id: int, passphrase_hash: str) -> None:
        stored = self._own(owner_id, strategy_id)
        stored.new = replace(stored.new, passphrase_hash=passphrase_hash)

    def strategy_pairs(self, user_id: int, strategy_id: int) -> list[PairRecord]:
        self.strategy(user_id, strategy_id)
        return self.pair_records(strategy_id)

    def pair_records(self, strategy_id: int) -> list[PairRecord]:
        return [r for (sid, _), r in sorted(self.pairs.items()) if sid == strategy_id]

    def override_pair(
        self, user_id: int, strategy_id: int, symbol: str, status: PairStatus, who: str, now: datetime
    ) -> PairRecord:
        self._own(user_id, strategy_id)
        record = self.pairs.get((strategy_id, symbol), PairRecord(symbol)).overridden(status, now, who)
        self.pairs[(strategy_id, symbol)] = record
        return record

    # -- subscriptions ----------------------------------------------------------------------------

    def add_subscription(self, subscription: NewSubscription) -> int:
        if any(
            s.strategy_id == subscription.strategy_id and s.account_id == subscription.account_id
            for s in self.subscriptions_.values()
        ):
            raise Conflict("this account is already subscribed to this strategy")
        subscription_id = self._id()
        account, _ = self.accounts_[subscription.account_id]
        row = {
            **DEFAULTS["subscriptions"],
            **subscription_row(subscription),
            "id": subscription_id,
            "strategy_slug": self.strategies_[subscription.strategy_id].new.slug,
            "account_name": account.name,
            "mode": account.mode.value,
        }
        self.subscriptions_[subscription_id] = subscription_of(row)
        self.owners[subscription_id] = subscription.user_id
        return subscription_id

    def subscriptions(self, user_id: int) -> list[Subscription]:
        return [s for i, s in sorted(self.subscriptions_.items()) if self.owners[i] == user_id]

    def subscription(self, user_id: int, subscription_id: int) -> Subscription:
        if self.owners.get(subscription_id) != user_id:
            raise NotFound(f"no subscription {subscription_id}")
        return self.subscriptions_[subscription_id]

    def halt_subscriptions(self, user_id: int, who: str, now: datetime) -> list[int]:
        halt = SubscriptionChanges(trading_state=TradingState.HALTED)
        ids = [
            s.id
            for s in self.subscriptions(user_id)
            if s.status is not SubscriptionStatus.CANCELLED and s.trading_state is not TradingState.HALTED
        ]
        for subscription_id in ids:
            self.change_subscription(user_id, subscription_id, halt, who, now)
        return ids

    def change_subscription(
        self, user_id: int, subscription_id: int, changes: SubscriptionChanges, who: str, now: datetime
    ) -> None:
        current = self.subscription(user_id, subscription_id)
        if current.status is SubscriptionStatus.CANCELLED:
            raise Conflict("a cancelled subscription cannot change; subscribe again")
        c = changes
        values: dict[str, Any] = {**c.settings.given(), "updated_at": now}
        if c.trading_state is not None:
            values["state_reason"] = c.state_reason(who)
        for name in ("status", "pairs", "sizing_mode", "sizing_value", "trading_state"):
            if getattr(c, name) is not None:
                values[name] = getattr(c, name)
        if c.all_pairs:
            values["pairs"] = None
        if c.no_dca:
            values["dca"] = None
        if c.resets_drawdown:
            values["pnl_peak"] = current.pnl_total
        for name, value in c.confirmation_columns().items():  # as the SQL columns hold them
            values[name] = ConfirmVia(value) if name == "confirmation" else value
        self.subscriptions_[subscription_id] = replace(current, **values)

    # -- bots -------------------------------------------------------------------------------------

    def add_bot(self, strategy: NewStrategy, subscription: NewSubscription) -> int:
        bot_id = self.add_strategy(strategy)
        self.add_subscription(replace(subscription, strategy_id=bot_id))
        return bot_id

    def bots(self, user_id: int, bot_id: int | None = None) -> list[Bot]:
        found = []
        for strategy_id, stored in sorted(self.strategies_.items()):
            if stored.new.owner_id != user_id or stored.new.source is not StrategySource.BOT:
                continue
            if bot_id is not None and strategy_id != bot_id:
                continue
            [s] = [s for i, s in self.subscriptions_.items() if s.strategy_id == strategy_id]
            assert stored.definition is not None
            found.append(
                Bot(
                    strategy_id,
                    stored.new.name,
                    stored.definition,
                    stored.new.created_at,
                    s.id,
                    s.account_id,
                    s.status,
                    s.mode,
                )
            )
        if bot_id is not None and not found:
            raise NotFound(f"no bot {bot_id}")
        return found

    def set_bot_running(self, user_id: int, bot_id: int, run: BotRun, now: datetime) -> None:
        [bot] = self.bots(user_id, bot_id)
        self.strategies_[bot_id].definition = dict(run.definition)
        current = self.subscriptions_[bot.subscription_id]
        self.subscriptions_[bot.subscription_id] = replace(current, status=run.status)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now_ = now

    def now(self) -> datetime:
        return self.now_


class PlainPasswords:
    """Reversible "hashes" (a prefix), so a test can tell a hashed secret from the secret itself."""

    def __init__(self) -> None:
        self.verified = 0
        self.hashed = 0

    def hash(self, secret: str) -> str:
        self.hashed += 1
        return f"hashed:{secret}"

    def verify(self, secret: str, stored: str) -> bool:
        self.verified += 1
        return stored == f"hashed:{secret}"


@dataclass
class FakeGuards:
    """Account guards: a fixed set of exchange ids, URLs refused by host, "sealed:" encryption."""

    exchange_ids: frozenset[str] = frozenset({"binance", "bybit", "okx"})
    refused_hosts: frozenset[str] = frozenset({"169.254.169.254"})
    sealing: bool = True
    forgotten: list[int] = field(default_factory=list)

    def is_exchange_id(self, exchange: str) -> bool:
        return exchange in self.exchange_ids

    async def check_urls(self, urls: Mapping[str, str]) -> None:
        for key, url in urls.items():
            if any(host in url for host in self.refused_hosts):
                raise ValueError(f"api_urls[{key!r}]: not a public address")

    def can_seal(self) -> bool:
        return self.sealing

    def seal(self, secret: str, context: str) -> str:
        return f"sealed({context}):{len(secret)}"

    def forget(self, account_id: int) -> None:
        self.forgotten.append(account_id)


class FakeDirectory:
    """Live exchanges' market lists by exchange id; an exception to raise instead, or a hang."""

    def __init__(self, markets: Mapping[str, frozenset[str]], error: Exception | None = None) -> None:
        self.markets_ = markets
        self.error = error
        self.hang = False

    def for_account(self, account_id: int, exchange: str, mode: str) -> Any:
        if self.error is not None:
            raise self.error
        directory = self

        class _Venue:
            async def markets(self) -> Mapping[str, object]:
                if directory.hang:
                    await asyncio.sleep(10)
                return {symbol: object() for symbol in directory.markets_[exchange]}

        return _Venue()


PAPER_PAIRS = frozenset({"BTC/USDT", "ETH/USDT"})
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@dataclass
class Desk:
    """The marketplace's use cases over memory: its members, guards, passwords and live markets."""

    members: MemoryMembers
    guards: FakeGuards
    passwords: PlainPasswords
    directory: FakeDirectory
    market: Marketplace

    def user(self, name: str, role: Role = Role.PROVIDER) -> User:
        user_id = self.members.create_user(name, self.passwords.hash("password-1"), NOW, role)
        return self.members.users[user_id]


def desk(signup_enabled: bool = True, sealing: bool = True) -> Desk:
    members = MemoryMembers()
    guards = FakeGuards(sealing=sealing)
    passwords = PlainPasswords()
    directory = FakeDirectory({"binance": frozenset({"BTC/USDT", "SOL/USDT"})})
    typed: Members = members  # the fake keeps the port's shape (mypy checks it here)
    market = build_marketplace(
        typed,
        passwords,
        guards,
        directory,
        FixedClock(NOW),
        paper_pairs=PAPER_PAIRS,
        paper_markets=PAPER_PAIRS,
        markets_timeout_s=0.05,
        signup_enabled=signup_enabled,
    )
    return Desk(members, guards, passwords, directory, market)
