"""Seeding marketplace records (users, accounts, a strategy, subscriptions) into any store; cheap to
import, so the unit tests of the services use it with the in-memory twin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Seeded:
    provider_id: int
    strategy_id: int
    slug: str
    subscriber_ids: list[int]
    account_ids: list[int]
    subscription_ids: list[int]


# The tests trade one pair again and again within seconds; the 15-minute cooldown is tested on its own.
NO_COOLDOWN: dict[str, Any] = {"cooldown_s": 0}


# What a seeded password or passphrase hash is unless a test gives real ones (no secret matches it).
UNUSABLE_HASH = "unusable"


def now() -> datetime:
    return datetime.now(UTC)


def paper_account(user_id: int, **columns: Any) -> dict[str, Any]:
    """The columns of a user's paper account named "paper" for members' create_account; `columns`
    override them."""
    return {
        "user_id": user_id,
        "name": "paper",
        "exchange": "paper",
        "mode": "paper",
        "sandbox": False,
        "created_at": now(),
        **columns,
    }


def seed_members(
    members: Any,
    subscriptions: list[dict[str, Any]],
    slug: str = "tv-test",
    password_hash: str = UNUSABLE_HASH,
    passphrase_hash: str = UNUSABLE_HASH,
) -> Seeded:
    """A provider with a webhook strategy and one subscriber per entry, through any members store with
    SqlMembers' methods (the SQL one, or the in-memory twin's MemoryMembers). Each entry may set
    sizing_mode, sizing_value, pairs, status, sizing_params, risk_limits, exit_rules, dca, entry_order
    trading_state and the confirm-before-trade settings (confirmation, confirmation_timeout_s,
    max_confirm_drift_pct), and an `account` dict overriding its paper account's columns."""
    provider_id = members.create_user(f"provider-{slug}", password_hash, now())
    strategy_id = members.create_strategy(
        {
            "owner_id": provider_id,
            "slug": slug,
            "name": f"Strategy {slug}",
            "description": "",
            "source": "tradingview",
            "passphrase_hash": passphrase_hash,
            "is_public": True,
            "created_at": now(),
        }
    )
    users, accounts, rows = [], [], []
    for number, spec in enumerate(subscriptions, start=1):
        user_id = members.create_user(f"{slug}-sub{number}", password_hash, now())
        account_id = members.create_account(paper_account(user_id, **spec.get("account", {})))
        users.append(user_id)
        accounts.append(account_id)
        rows.append(
            {
                "user_id": user_id,
                "strategy_id": strategy_id,
                "account_id": account_id,
                "status": spec.get("status", "ACTIVE"),
                "pairs": spec.get("pairs"),
                "sizing_mode": spec.get("sizing_mode", "fixed_quote"),
                "sizing_value": Decimal(str(spec.get("sizing_value", "100"))),
                "risk_limits": spec.get("risk_limits", NO_COOLDOWN),
                "exit_rules": spec.get("exit_rules"),
                "dca": spec.get("dca"),
                "created_at": now(),
                "updated_at": now(),
                "sizing_params": spec.get("sizing_params"),
                "entry_order": spec.get("entry_order"),
                "trading_state": spec.get("trading_state", "ACTIVE"),
                "confirmation": spec.get("confirmation", "none"),
                "confirmation_timeout_s": spec.get("confirmation_timeout_s", 300),
                "max_confirm_drift_pct": Decimal(str(spec.get("max_confirm_drift_pct", "1"))),
            }
        )
    members.create_subscriptions(rows)
    subscription_ids = [_id(s) for u in users for s in members.subscriptions(u)]
    return Seeded(provider_id, strategy_id, slug, users, accounts, subscription_ids)


def _id(subscription: Any) -> int:
    """A subscription's id, from SqlMembers' typed record or the in-memory twin's row."""
    return int(subscription["id"] if isinstance(subscription, dict) else subscription.id)
