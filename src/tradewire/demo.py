"""The demo: a provider with a webhook strategy and N subscribers on paper accounts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from tradewire.adapters.passwords import hash_secret
from tradewire.adapters.store.members import SqlMembers
from tradewire.adapters.store.tables import exchange_accounts, strategies, subscriptions, users
from tradewire.domain.execution import SizingMode, SubscriptionStatus
from tradewire.domain.members import AccountMode, StrategySource
from tradewire.ports import Clock

DEMO_SLUG = "demo-tradingview"

# Subscribers differ so the demo shows each sizing rule and a pair filter.
_PROFILES: tuple[tuple[SizingMode, Decimal, list[str] | None], ...] = (
    (SizingMode.FIXED_QUOTE, Decimal(100), None),
    (SizingMode.EQUITY_PCT, Decimal(2), None),
    (SizingMode.FIXED_QUOTE, Decimal(250), ["BTC/USDT"]),
    (SizingMode.SIGNAL, Decimal(1), None),
)


@dataclass(frozen=True, slots=True)
class Login:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class DemoSeed:
    strategy_id: int
    slug: str
    passphrase: str
    provider: Login
    subscribers: list[Login]


def seed_demo(members: SqlMembers, clock: Clock, subscribers: int) -> DemoSeed:
    """Create (or, in a kept demo database, refresh) the demo users, accounts and subscriptions; new
    passwords every run for every login the strategy's subscriptions have."""
    now = clock.now()
    provider = _login(members, "provider", now)
    passphrase = secrets.token_urlsafe(12)
    strategy_id = _strategy(members, provider, passphrase, now)
    logins: list[Login] = []
    new_subscriptions: list[dict[str, Any]] = []
    with members.engine.connect() as conn:
        subscribed = set(
            conn.execute(
                select(subscriptions.c.account_id).where(subscriptions.c.strategy_id == strategy_id)
            ).scalars()
        )
    for number in range(1, subscribers + 1):
        login = _login(members, f"trader{number}", now)
        logins.append(login)
        user = members.user_by_name(login.username)
        assert user is not None
        account_id = _paper_account(members, user.id, now)
        if account_id in subscribed:
            continue
        mode, value, pairs = _PROFILES[(number - 1) % len(_PROFILES)]
        new_subscriptions.append(
            {
                "user_id": user.id,
                "strategy_id": strategy_id,
                "account_id": account_id,
                "status": SubscriptionStatus.ACTIVE.value,
                "pairs": pairs,
                "sizing_mode": mode.value,
                "sizing_value": value,
                "created_at": now,
                "updated_at": now,
            }
        )
    if new_subscriptions:
        members.create_subscriptions(new_subscriptions)
    # A kept demo may have more subscribers than asked for this time: they trade too, so they are
    # shown with new passwords like the others (the banner lists everyone the strategy counts).
    for username in _other_subscribers(members, strategy_id, {login.username for login in logins}):
        logins.append(_login(members, username, now))
    return DemoSeed(strategy_id, DEMO_SLUG, passphrase, provider, logins)


def _other_subscribers(members: SqlMembers, strategy_id: int, known: set[str]) -> list[str]:
    with members.engine.connect() as conn:
        names = conn.execute(
            select(users.c.username)
            .join(subscriptions, subscriptions.c.user_id == users.c.id)
            .where(
                subscriptions.c.strategy_id == strategy_id,
                subscriptions.c.status == SubscriptionStatus.ACTIVE.value,
            )
            .order_by(subscriptions.c.id)
        ).scalars()
        return [name for name in dict.fromkeys(names) if name not in known]


def _login(members: SqlMembers, username: str, now: Any) -> Login:
    password = secrets.token_urlsafe(9)
    password_hash = hash_secret(password)
    existing = members.user_by_name(username)
    if existing is None:
        members.create_user(username, password_hash, now)
    else:
        members.set_password(existing.id, password_hash)
    return Login(username, password)


def _strategy(members: SqlMembers, provider: Login, passphrase: str, now: Any) -> int:
    owner = members.user_by_name(provider.username)
    assert owner is not None
    with members.engine.connect() as conn:
        strategy_id = conn.execute(select(strategies.c.id).where(strategies.c.slug == DEMO_SLUG)).scalar()
    if strategy_id is not None:
        members.set_strategy_passphrase(owner.id, strategy_id, hash_secret(passphrase))
        return int(strategy_id)
    return members.create_strategy(
        {
            "owner_id": owner.id,
            "slug": DEMO_SLUG,
            "name": "Demo TradingView strategy",
            "description": "Send TradingView alerts here; every subscriber trades them on paper.",
            "source": StrategySource.TRADINGVIEW.value,
            "passphrase_hash": hash_secret(passphrase),
            "is_public": True,
            "created_at": now,
        }
    )


def _paper_account(members: SqlMembers, user_id: int, now: Any) -> int:
    with members.engine.connect() as conn:
        account_id = conn.execute(
            select(exchange_accounts.c.id).where(
                exchange_accounts.c.user_id == user_id, exchange_accounts.c.name == "paper"
            )
        ).scalar()
    if account_id is not None:
        return int(account_id)
    return members.create_account(
        {
            "user_id": user_id,
            "name": "paper",
            "exchange": "paper",
            "mode": AccountMode.PAPER.value,
            "sandbox": False,
            "created_at": now,
        }
    )
