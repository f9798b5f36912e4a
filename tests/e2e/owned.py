"""Users with one of every object the API has ids for, stored directly (fast): for tests that walk
every route with real ids (ownership, fuzzing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from tests.seeding import paper_account
from tests.support import PASSPHRASE, PASSWORD, now, quick_hash, subscription_columns
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.tables import backtests, execution_intents, positions, signals
from tradewire.adapters.store.webhook_tables import webhook_endpoints
from tradewire.api.auth import issue_token
from tradewire.domain.members import Role
from tradewire.runtime import Runtime

_PASSWORD_HASH = quick_hash(PASSWORD)
_PASSPHRASE_HASH = quick_hash(PASSPHRASE)
BOT_DEFINITION: dict[str, Any] = {
    "builtin": "ema_cross",
    "params": {"fast": 3, "slow": 8},
    "timeframe": "1m",
    "symbols": ["BTC/USDT"],
    "bot": {"min_temperature": 0, "confirmation_minutes": 0, "cooldown_minutes": 0},
}


@dataclass(frozen=True)
class Owned:
    """One user's objects and a bearer header for them."""

    user_id: int
    username: str
    headers: dict[str, str]
    account_id: int
    strategy_id: int  # private webhook strategy
    public_strategy_id: int  # public webhook strategy
    subscription_id: int  # the account subscribed to the private strategy
    bot_id: int
    position_id: int  # open, on the subscription
    backtest_id: int  # done, with an equity curve
    intent_id: int  # an entry on the subscription waiting for its owner's confirmation
    hook_id: int  # an outgoing webhook (to a private address: a test of it is refused, sends nothing)


def seed_user(runtime: Runtime, username: str, role: Role = Role.PROVIDER) -> Owned:
    members = runtime.members
    user_id = members.create_user(username, _PASSWORD_HASH, now(), role)
    user = members.user_by_id(user_id)
    assert user is not None
    account_id = members.create_account(paper_account(user_id))
    strategy_ids = [
        members.create_strategy(
            {
                "owner_id": user_id,
                "slug": f"{username}-{kind}",
                "name": f"{username} {kind}",
                "description": "",
                "source": "tradingview",
                "passphrase_hash": _PASSPHRASE_HASH,
                "is_public": kind == "public",
                "created_at": now(),
            }
        )
        for kind in ("private", "public")
    ]
    subscription = subscription_columns(user_id, account_id, now())
    subscription_id = members.create_subscription({**subscription, "strategy_id": strategy_ids[0]})
    bot_id, _ = members.create_bot(
        {
            "owner_id": user_id,
            "slug": f"bot-{username}",
            "name": f"{username} bot",
            "description": "",
            "source": "bot",
            "passphrase_hash": _PASSPHRASE_HASH,
            "is_public": False,
            "created_at": now(),
            "definition": {**BOT_DEFINITION, "enabled": False},
        },
        {**subscription, "status": "PAUSED"},
    )
    with write_transaction(runtime.engine) as conn:
        position_id = conn.execute(
            insert(positions).values(
                account_id=account_id,
                subscription_id=subscription_id,
                user_id=user_id,
                mode="paper",
                symbol="BTC/USDT",
                side="long",
                status="open",
                amount=Decimal("0.001"),
                avg_entry=Decimal(60000),
                cost_basis=Decimal(60),
                realized_pnl=Decimal(0),
                fees=Decimal(0),
                opened_at=now(),
                updated_at=now(),
            )
        ).inserted_primary_key[0]
        backtest_id = conn.execute(
            insert(backtests).values(
                user_id=user_id,
                strategy_id=strategy_ids[0],
                strategy_name="ema_cross",
                params={"fast": 3, "slow": 8},
                config={},
                symbols=["BTC/USDT"],
                timeframe="1m",
                status="done",
                progress=1.0,
                result={"equity": {"ts_ms": [0, 60_000, 120_000], "equity": [100.0, 101.0, 99.5]}},
                created_at=now(),
                updated_at=now(),
                finished_at=now(),
            )
        ).inserted_primary_key[0]
        signal_id = conn.execute(
            insert(signals).values(
                strategy_id=strategy_ids[0],
                dedup_key=f"{username}-seeded",
                status="routed",
                action="buy",
                ticker="BTCUSDT",
                symbol="BTC/USDT",
                details={},
                received_at=now(),
            )
        ).inserted_primary_key[0]
        intent_id = conn.execute(
            insert(execution_intents).values(
                signal_id=signal_id,
                subscription_id=subscription_id,
                account_id=account_id,
                user_id=user_id,
                status="awaiting_confirmation",
                created_at=now(),
                updated_at=now(),
                proposal={"symbol": "BTC/USDT", "side": "buy", "amount": "0.001"},
                confirm_by=now() + timedelta(hours=1),
            )
        ).inserted_primary_key[0]
        hook_id = conn.execute(
            insert(webhook_endpoints).values(
                user_id=user_id,
                url="https://10.255.255.1/hook",
                kind="json",
                notices={},
                enabled=False,
                secret_enc="v1:unknown:AAAA",
                created_at=now(),
                last_event_id=0,
            )
        ).inserted_primary_key[0]
    token = issue_token(runtime, user)
    return Owned(
        user_id=user_id,
        username=username,
        headers={"Authorization": f"Bearer {token}"},
        account_id=account_id,
        strategy_id=strategy_ids[0],
        public_strategy_id=strategy_ids[1],
        subscription_id=subscription_id,
        bot_id=bot_id,
        position_id=int(position_id),
        backtest_id=int(backtest_id),
        intent_id=int(intent_id),
        hook_id=int(hook_id),
    )
