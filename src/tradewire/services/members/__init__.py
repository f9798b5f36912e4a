"""The marketplace's use cases: logins, exchange accounts, strategies, subscriptions and bots.

Each takes typed requests and returns the domain's records; errors are the domain's (NotFound,
Conflict, Invalid, Unavailable, Forbidden), for the API to map to its status codes. They reach storage,
hashing, encryption and URL guards only through ports.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field

from tradewire.domain.members import Role
from tradewire.domain.signin import PasswordPolicy
from tradewire.ports import AccountGuards, Clock, ExchangeDirectory, Members, Passwords
from tradewire.ports.ai import AiStore
from tradewire.ports.models import ModelRegistry, ModelValidator
from tradewire.services.members.accounts import Accounts
from tradewire.services.members.bots import Bots
from tradewire.services.members.logins import Logins
from tradewire.services.members.models import Models
from tradewire.services.members.strategies import MarketplaceCaches, Strategies
from tradewire.services.members.subscriptions import Subscriptions


@dataclass(frozen=True, slots=True)
class Marketplace:
    logins: Logins
    accounts: Accounts
    strategies: Strategies
    subscriptions: Subscriptions
    bots: Bots
    models: Models | None = None  # None: no model registry on this server
    caches: MarketplaceCaches = field(default_factory=lambda: MarketplaceCaches.lasting(0))


def build_marketplace(
    members: Members,
    passwords: Passwords,
    guards: AccountGuards,
    exchanges: ExchangeDirectory,
    clock: Clock,
    *,
    paper_pairs: Container[str],
    paper_markets: Container[str],
    markets_timeout_s: float,
    signup_enabled: bool,
    signup_role: Role = Role.SUBSCRIBER,
    models: ModelRegistry | None = None,
    validator: ModelValidator | None = None,
    password_policy: PasswordPolicy | None = None,
    ai: AiStore | None = None,
    telegram_bot: bool = True,
    cache_ttl_s: float = 0.0,
) -> Marketplace:
    """The use cases over one set of ports; `paper_pairs` is what built-in strategies may name,
    `paper_markets` what a paper account's pair filter may name; what everyone reads of the
    marketplace is kept `cache_ttl_s` seconds (0: read every time)."""
    accounts = Accounts(members, guards, clock)
    caches = MarketplaceCaches.lasting(cache_ttl_s)
    return Marketplace(
        logins=Logins(
            members,
            passwords,
            clock,
            signup_enabled=signup_enabled,
            signup_role=signup_role,
            password_policy=password_policy or PasswordPolicy(),
        ),
        accounts=accounts,
        strategies=Strategies(
            members, passwords, clock, paper_pairs, models, ai, caches, guards.is_exchange_id
        ),
        subscriptions=Subscriptions(
            members, exchanges, clock, paper_markets, markets_timeout_s, telegram_bot, caches
        ),
        bots=Bots(members, accounts, passwords, clock, paper_pairs, models, ai, telegram_bot=telegram_bot),
        models=None if models is None or validator is None else Models(models, validator, clock),
        caches=caches,
    )
