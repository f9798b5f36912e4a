"""What the marketplace's use cases keep: users, exchange accounts, strategies, subscriptions, bots.

Every read of private data is scoped to its owner: another user's record raises NotFound, exactly like
one that does not exist. A uniqueness violation raises Conflict.

One protocol per kind of record (`UserRecords`, `AccountRecords`, `StrategyRecords`,
`SubscriptionRecords`, `BotRecords`); `Members` is all of them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from tradewire.domain.members import (
    Account,
    Bot,
    BotRun,
    NewAccount,
    NewStrategy,
    NewSubscription,
    Role,
    SealedSecrets,
    Strategy,
    StrategyChanges,
    Subscription,
    SubscriptionChanges,
    User,
)
from tradewire.domain.track_record import PairRecord, PairStatus


class UserRecords(Protocol):
    """Who can sign in."""

    def create_user(
        self, username: str, password_hash: str, now: datetime, role: Role = Role.PROVIDER
    ) -> int: ...

    def user_by_name(self, username: str) -> User | None: ...

    def user_by_id(self, user_id: int) -> User | None: ...


class AccountRecords(Protocol):
    """Users' exchange accounts, their keys sealed."""

    def add_account(self, account: NewAccount) -> int: ...

    def seal_account(self, account_id: int, secrets: SealedSecrets) -> None: ...

    def accounts(self, user_id: int) -> list[Account]: ...

    def account(self, user_id: int, account_id: int) -> Account: ...

    def delete_account(self, user_id: int, account_id: int) -> None:
        """Delete one of the user's accounts: NotFound when it is not theirs (whatever its
        subscriptions), Conflict while it has subscriptions that are not cancelled."""


class StrategyRecords(Protocol):
    """Strategies, who may see them, and their record per pair."""

    def add_strategy(self, strategy: NewStrategy) -> int: ...

    def strategies_visible(self, user_id: int) -> list[Strategy]:
        """The user's own strategies and every public one."""

    def public_strategies(self) -> list[Strategy]:
        """Every public strategy, as anyone but its owner sees it (is_owner false): the marketplace."""

    def strategies_of_owner(self, owner_id: int) -> list[Strategy]:
        """The owner's own strategies, public or not."""

    def strategy(self, user_id: int, strategy_id: int) -> Strategy: ...

    def change_strategy(self, owner_id: int, strategy_id: int, changes: StrategyChanges) -> None: ...

    def set_strategy_passphrase(self, owner_id: int, strategy_id: int, passphrase_hash: str) -> None: ...

    def strategy_pairs(self, user_id: int, strategy_id: int) -> list[PairRecord]:
        """The strategy's record per pair (for strategies the user may see)."""

    def pair_records(self, strategy_id: int) -> list[PairRecord]:
        """A strategy's record per pair with no check of who asks: only for a public strategy."""

    def override_pair(
        self, user_id: int, strategy_id: int, symbol: str, status: PairStatus, who: str, now: datetime
    ) -> PairRecord:
        """The owner's decision on a pair: blacklist it, re-enable it (30-day whitelist) or reset it."""


class SubscriptionRecords(Protocol):
    """Who follows which strategy with which account, and how."""

    def add_subscription(self, subscription: NewSubscription) -> int: ...

    def subscriptions(self, user_id: int) -> list[Subscription]: ...

    def subscription(self, user_id: int, subscription_id: int) -> Subscription: ...

    def change_subscription(
        self, user_id: int, subscription_id: int, changes: SubscriptionChanges, who: str, now: datetime
    ) -> None:
        """Apply `who`'s changes at `now`; Conflict when the subscription is cancelled."""

    def halt_subscriptions(self, user_id: int, who: str, now: datetime) -> list[int]:
        """Every subscription of the user not cancelled and not HALTED yet set HALTED by `who`, in one
        transaction (the emergency stop); their ids."""


class BotRecords(Protocol):
    """Bots: a private strategy and its owner's subscription to it, kept together."""

    def add_bot(self, strategy: NewStrategy, subscription: NewSubscription) -> int:
        """A private strategy and its owner's subscription to it, together; the bot's id."""

    def bots(self, user_id: int, bot_id: int | None = None) -> list[Bot]:
        """The user's bots with their subscription (one each)."""

    def set_bot_running(self, user_id: int, bot_id: int, run: BotRun, now: datetime) -> None:
        """Start, stop or retune a bot: its new definition and its subscription's status together,
        with its `bots` event, at `now`."""


class Members(UserRecords, AccountRecords, StrategyRecords, SubscriptionRecords, BotRecords, Protocol):
    """The marketplace's records (implemented by SqlMembers, and in memory for tests)."""


class Passwords(Protocol):
    """Slow, salted hashing of passwords and webhook passphrases, with constant-time checks."""

    def hash(self, secret: str) -> str: ...

    def verify(self, secret: str, stored: str) -> bool: ...


class AccountGuards(Protocol):
    """What a new exchange account is checked and sealed with before it is kept."""

    def is_exchange_id(self, exchange: str) -> bool:
        """A venue the server can trade on (a ccxt id)."""

    async def check_urls(self, urls: Mapping[str, str]) -> None:
        """ValueError (with the reason) for an API URL the server must not call (a private address)."""

    def can_seal(self) -> bool:
        """Whether API keys can be encrypted at rest (an encryption key is configured)."""

    def seal(self, secret: str, context: str) -> str:
        """`secret` encrypted, bound to `context` (which account and field it belongs to)."""

    def forget(self, account_id: int) -> None:
        """Drop what is cached of a deleted account (its exchange client)."""
