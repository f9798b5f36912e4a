"""Users, exchange accounts, strategies and subscriptions: the marketplace's own records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Table, func, select, update
from sqlalchemy.exc import IntegrityError

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.sql import pair_record, pair_row
from tradewire.adapters.store.tables import (
    exchange_accounts,
    strategies,
    strategy_pairs,
    subscriptions,
    users,
)
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.track_record import PairRecord, PairStatus


class Conflict(ValueError):
    """The record would break a uniqueness rule (a taken name, a repeated subscription)."""


class NotFound(LookupError):
    """No such record, or not one the caller may see."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    password_hash: str


class SqlMembers:
    """CRUD for the marketplace; every query that reads private data is scoped to its owner."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _insert(self, table: Table, values: dict[str, Any], conflict: str) -> int:
        """Insert one row and return its id; a uniqueness violation becomes Conflict(conflict)."""
        try:
            with write_transaction(self.engine) as conn:
                key = conn.execute(table.insert().values(values)).inserted_primary_key
        except IntegrityError as exc:
            raise Conflict(conflict) from exc
        assert key is not None
        return int(key[0])

    # -- users ------------------------------------------------------------------------------------

    def create_user(self, username: str, password_hash: str, now: datetime) -> int:
        values = {"username": username, "password_hash": password_hash, "created_at": now}
        return self._insert(users, values, f"username {username!r} is taken")

    def set_password(self, user_id: int, password_hash: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))

    def user_by_name(self, username: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        return User(row.id, row.username, row.password_hash) if row else None

    def user_by_id(self, user_id: int) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return User(row.id, row.username, row.password_hash) if row else None

    # -- exchange accounts ------------------------------------------------------------------------

    def create_account(self, values: dict[str, Any]) -> int:
        return self._insert(
            exchange_accounts, values, f"you already have an account named {values['name']!r}"
        )

    def set_account_secrets(self, account_id: int, secrets: dict[str, str | None]) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(exchange_accounts).where(exchange_accounts.c.id == account_id).values(secrets)
            )

    def accounts(self, user_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(exchange_accounts)
                .where(exchange_accounts.c.user_id == user_id)
                .order_by(exchange_accounts.c.id)
            )
            return [_public_account(r._mapping) for r in rows]

    def account(self, user_id: int, account_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(exchange_accounts).where(
                    exchange_accounts.c.id == account_id, exchange_accounts.c.user_id == user_id
                )
            ).first()
        if row is None:
            raise NotFound(f"no exchange account {account_id}")
        return _public_account(row._mapping)

    def live_account(self, account_id: int) -> dict[str, Any] | None:
        """A live account's connection details, secrets still encrypted (server-side use only)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(exchange_accounts).where(
                    exchange_accounts.c.id == account_id, exchange_accounts.c.mode == "live"
                )
            ).first()
        return dict(row._mapping) if row else None

    def live_account_count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(exchange_accounts)
                    .where(exchange_accounts.c.mode == "live")
                ).scalar_one()
            )

    def encrypted_secrets(self) -> list[dict[str, Any]]:
        """Every live account's ciphertexts (for key rotation); never leaves the server."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    exchange_accounts.c.id,
                    exchange_accounts.c.api_key_enc,
                    exchange_accounts.c.api_secret_enc,
                    exchange_accounts.c.api_password_enc,
                ).where(exchange_accounts.c.api_key_enc.is_not(None))
            )
            return [dict(r._mapping) for r in rows]

    def delete_account(self, user_id: int, account_id: int) -> None:
        """Delete one of the user's accounts; whose it is is checked first, so another user's account
        answers NotFound whatever its subscriptions."""
        with write_transaction(self.engine) as conn:
            owned = conn.execute(
                select(exchange_accounts.c.id).where(
                    exchange_accounts.c.id == account_id, exchange_accounts.c.user_id == user_id
                )
            ).first()
            if owned is None:
                raise NotFound(f"no exchange account {account_id}")
            active = conn.execute(
                select(func.count())
                .select_from(subscriptions)
                .where(
                    subscriptions.c.account_id == account_id,
                    subscriptions.c.status != SubscriptionStatus.CANCELLED.value,
                )
            ).scalar_one()
            if active:
                raise Conflict("the account still has subscriptions; cancel them first")
            conn.execute(
                exchange_accounts.delete().where(
                    exchange_accounts.c.id == account_id, exchange_accounts.c.user_id == user_id
                )
            )

    # -- strategies -------------------------------------------------------------------------------

    def create_strategy(self, values: dict[str, Any]) -> int:
        return self._insert(strategies, values, f"the webhook slug {values['slug']!r} is taken")

    def create_bot(self, strategy: dict[str, Any], subscription: dict[str, Any]) -> tuple[int, int]:
        """A bot: a private strategy and its owner's subscription to it, in one transaction."""
        try:
            with write_transaction(self.engine) as conn:
                key = conn.execute(strategies.insert().values(strategy)).inserted_primary_key
                assert key is not None
                strategy_id = int(key[0])
                sub = conn.execute(
                    subscriptions.insert().values({**subscription, "strategy_id": strategy_id})
                ).inserted_primary_key
                assert sub is not None
        except IntegrityError as exc:
            raise Conflict(f"the name {strategy['slug']!r} is taken") from exc
        return strategy_id, int(sub[0])

    def bots(self, user_id: int, bot_id: int | None = None) -> list[dict[str, Any]]:
        """The user's bots with their subscription (one each)."""
        query = (
            select(
                strategies.c.id,
                strategies.c.name,
                strategies.c.definition,
                strategies.c.created_at,
                subscriptions.c.id.label("subscription_id"),
                subscriptions.c.account_id,
                subscriptions.c.status,
                exchange_accounts.c.mode,
            )
            .join(subscriptions, subscriptions.c.strategy_id == strategies.c.id)
            .join(exchange_accounts, exchange_accounts.c.id == subscriptions.c.account_id)
            .where(
                strategies.c.owner_id == user_id,
                strategies.c.source == "bot",
                subscriptions.c.user_id == user_id,
            )
            .order_by(strategies.c.id)
        )
        if bot_id is not None:
            query = query.where(strategies.c.id == bot_id)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        if bot_id is not None and not rows:
            raise NotFound(f"no bot {bot_id}")
        return rows

    def set_bot_running(self, user_id: int, bot_id: int, definition: dict[str, Any], status: str) -> None:
        """Start or stop a bot: its definition (what the server evaluates) and its subscription together."""
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(strategies)
                .where(
                    strategies.c.id == bot_id, strategies.c.owner_id == user_id, strategies.c.source == "bot"
                )
                .values(definition=definition)
            )
            if done.rowcount == 0:
                raise NotFound(f"no bot {bot_id}")
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.strategy_id == bot_id, subscriptions.c.user_id == user_id)
                .values(status=status)
            )

    def set_strategy_passphrase(self, owner_id: int, strategy_id: int, passphrase_hash: str) -> None:
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(strategies)
                .where(strategies.c.id == strategy_id, strategies.c.owner_id == owner_id)
                .values(passphrase_hash=passphrase_hash)
            )
        if result.rowcount == 0:
            raise NotFound(f"no strategy {strategy_id} of yours")

    def update_strategy(self, owner_id: int, strategy_id: int, values: dict[str, Any]) -> None:
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(strategies)
                .where(strategies.c.id == strategy_id, strategies.c.owner_id == owner_id)
                .values(values)
            )
        if result.rowcount == 0:
            raise NotFound(f"no strategy {strategy_id} of yours")

    def strategies_visible(self, user_id: int) -> list[dict[str, Any]]:
        """The user's own strategies and every public one."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                self._strategy_query().where((strategies.c.owner_id == user_id) | strategies.c.is_public)
            )
            return [_public_strategy(r._mapping, user_id) for r in rows]

    def strategy(self, user_id: int, strategy_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(
                self._strategy_query().where(
                    strategies.c.id == strategy_id,
                    (strategies.c.owner_id == user_id) | strategies.c.is_public,
                )
            ).first()
        if row is None:
            raise NotFound(f"no strategy {strategy_id}")
        return _public_strategy(row._mapping, user_id)

    def strategy_pairs(self, user_id: int, strategy_id: int) -> list[PairRecord]:
        """The strategy's record per pair (for strategies the user may see)."""
        self.strategy(user_id, strategy_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(strategy_pairs)
                .where(strategy_pairs.c.strategy_id == strategy_id)
                .order_by(strategy_pairs.c.symbol)
            )
            return [pair_record(r._mapping) for r in rows]

    def override_pair(
        self, user_id: int, strategy_id: int, symbol: str, status: PairStatus, who: str, now: datetime
    ) -> PairRecord:
        """The owner's decision on a pair: blacklist it, re-enable it (30-day whitelist) or reset it."""
        with write_transaction(self.engine) as conn:
            owner = conn.execute(select(strategies.c.owner_id).where(strategies.c.id == strategy_id)).scalar()
            if owner is None or owner != user_id:
                raise NotFound(f"no strategy {strategy_id} of yours")
            found = conn.execute(
                select(strategy_pairs)
                .where(strategy_pairs.c.strategy_id == strategy_id, strategy_pairs.c.symbol == symbol)
                .with_for_update()
            ).first()
            record = pair_record(found._mapping) if found else PairRecord(symbol)
            record = record.overridden(status, now, who)
            bulk.insert(
                conn,
                strategy_pairs,
                [pair_row(strategy_id, record, now)],
                update_conflicts_on=["strategy_id", "symbol"],
            )
            return record

    def strategy_by_slug(self, slug: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(self._strategy_query().where(strategies.c.slug == slug)).first()
        return _public_strategy(row._mapping, row.owner_id) if row else None

    @staticmethod
    def _strategy_query() -> Any:
        active = (
            select(func.count())
            .select_from(subscriptions)
            .where(
                subscriptions.c.strategy_id == strategies.c.id,
                subscriptions.c.status == SubscriptionStatus.ACTIVE.value,
            )
            .scalar_subquery()
        )
        return (
            select(strategies, users.c.username.label("owner"), active.label("subscriber_count"))
            .join(users, users.c.id == strategies.c.owner_id)
            .order_by(strategies.c.id)
        )

    # -- subscriptions ----------------------------------------------------------------------------

    def create_subscription(self, values: dict[str, Any]) -> int:
        return self._insert(subscriptions, values, "this account is already subscribed to this strategy")

    def create_subscriptions(self, rows: Sequence[dict[str, Any]]) -> None:
        """Many subscriptions in one transaction (demo seeding, benchmarks)."""
        if not rows:
            return  # an empty executemany would insert one row of defaults
        with write_transaction(self.engine) as conn:
            conn.execute(subscriptions.insert(), list(rows))

    def subscriptions(self, user_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(self._subscription_query().where(subscriptions.c.user_id == user_id))
            return [_subscription(r._mapping) for r in rows]

    def subscription(self, user_id: int, subscription_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(
                self._subscription_query().where(
                    subscriptions.c.id == subscription_id, subscriptions.c.user_id == user_id
                )
            ).first()
        if row is None:
            raise NotFound(f"no subscription {subscription_id}")
        return _subscription(row._mapping)

    def update_subscription(self, user_id: int, subscription_id: int, values: dict[str, Any]) -> None:
        with write_transaction(self.engine) as conn:
            current = conn.execute(
                select(subscriptions.c.status).where(
                    subscriptions.c.id == subscription_id, subscriptions.c.user_id == user_id
                )
            ).scalar()
            if current is None:
                raise NotFound(f"no subscription {subscription_id}")
            if current == SubscriptionStatus.CANCELLED.value:
                raise Conflict("a cancelled subscription cannot change; subscribe again")
            if values.pop("reset_drawdown", False):
                values["pnl_peak"] = subscriptions.c.pnl_total
            conn.execute(update(subscriptions).where(subscriptions.c.id == subscription_id).values(values))

    @staticmethod
    def _subscription_query() -> Any:
        return (
            select(
                subscriptions,
                strategies.c.slug.label("strategy_slug"),
                exchange_accounts.c.name.label("account_name"),
                exchange_accounts.c.mode.label("mode"),
            )
            .join(strategies, strategies.c.id == subscriptions.c.strategy_id)
            .join(exchange_accounts, exchange_accounts.c.id == subscriptions.c.account_id)
            .order_by(subscriptions.c.id)
        )


def _public_account(r: Any) -> dict[str, Any]:
    return {
        "id": r["id"],
        "name": r["name"],
        "exchange": r["exchange"],
        "mode": r["mode"],
        "sandbox": r["sandbox"],
        "api_urls": r["api_urls"],
        "has_api_key": r["api_key_enc"] is not None,
        "created_at": r["created_at"],
    }


def _public_strategy(r: Any, viewer_id: int) -> dict[str, Any]:
    own = r["owner_id"] == viewer_id
    data = {
        "id": r["id"],
        "slug": r["slug"],
        "name": r["name"],
        "description": r["description"],
        "source": r["source"],
        "is_public": r["is_public"],
        "owner": r["owner"],
        "subscriber_count": r["subscriber_count"],
        "created_at": r["created_at"],
        "is_owner": own,
        "definition": r["definition"],
        "dedup_window_s": r["dedup_window_s"],
    }
    return data


def _subscription(r: Any) -> dict[str, Any]:
    value: Decimal = r["sizing_value"]
    return {
        "id": r["id"],
        "strategy_id": r["strategy_id"],
        "strategy_slug": r["strategy_slug"],
        "account_id": r["account_id"],
        "account_name": r["account_name"],
        "mode": r["mode"],
        "status": r["status"],
        "pairs": r["pairs"],
        "sizing_mode": r["sizing_mode"],
        "sizing_value": value,
        "sizing_params": r["sizing_params"],
        "risk_limits": r["risk_limits"],
        "exit_rules": r["exit_rules"],
        "dca": r["dca"],
        "entry_order": r["entry_order"],
        "trading_state": r["trading_state"],
        "state_reason": r["state_reason"],
        "pnl_total": r["pnl_total"],
        "pnl_peak": r["pnl_peak"],
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
    }
