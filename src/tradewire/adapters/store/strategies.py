"""Strategies (webhook, built-in and bots), their per-pair records, and bots with their subscription."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.events import transaction_with_events
from tradewire.adapters.store.member_rows import MemberRows, bot_of, strategy_of
from tradewire.adapters.store.sql import pair_record, pair_row
from tradewire.adapters.store.subscriptions import subscription_row
from tradewire.adapters.store.tables import (
    exchange_accounts,
    strategies,
    strategy_pairs,
    subscriptions,
    users,
)
from tradewire.domain.events import Event, bot_changed
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import (
    Bot,
    BotRun,
    Conflict,
    NewStrategy,
    NewSubscription,
    NotFound,
    Strategy,
    StrategyChanges,
    StrategySource,
)
from tradewire.domain.track_record import PairRecord, PairStatus


class SqlStrategies(MemberRows):
    """Strategies as each user may see them (their own and every public one); bots are private."""

    def add_strategy(self, strategy: NewStrategy) -> int:
        return self.create_strategy(strategy_row(strategy))

    def create_strategy(self, values: dict[str, Any]) -> int:
        """One strategy from its column values (seeding and tests; the API goes through add_strategy)."""
        return self._insert(strategies, values, f"the webhook slug {values['slug']!r} is taken")

    def add_bot(self, strategy: NewStrategy, subscription: NewSubscription) -> int:
        bot_id, _ = self.create_bot(strategy_row(strategy), subscription_row(subscription))
        return bot_id

    def create_bot(self, strategy: dict[str, Any], subscription: dict[str, Any]) -> tuple[int, int]:
        """A bot: a private strategy and its owner's subscription to it, in one transaction with its
        `bots` event."""
        try:
            with transaction_with_events(self.engine, self.notifier, strategy["created_at"]) as (
                conn,
                outbox,
            ):
                key = conn.execute(strategies.insert().values(strategy)).inserted_primary_key
                assert key is not None
                strategy_id = int(key[0])
                sub = conn.execute(
                    subscriptions.insert().values({**subscription, "strategy_id": strategy_id})
                ).inserted_primary_key
                assert sub is not None
                made = _bot_event(
                    strategy["owner_id"],
                    strategy_id,
                    subscription["status"],
                    strategy["definition"],
                    "created",
                )
                outbox.add([made])
        except IntegrityError as exc:
            raise Conflict(f"the name {strategy['slug']!r} is taken") from exc
        return strategy_id, int(sub[0])

    def bots(self, user_id: int, bot_id: int | None = None) -> list[Bot]:
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
                strategies.c.source == StrategySource.BOT.value,
                subscriptions.c.user_id == user_id,
                # The bot's own subscription, the first: an older version let its owner subscribe
                # to it again, and a second one made the bot unreadable.
                subscriptions.c.id == _first_subscription(user_id),
            )
            .order_by(strategies.c.id)
        )
        if bot_id is not None:
            query = query.where(strategies.c.id == bot_id)
        bots = self._records(query, bot_of)
        if bot_id is not None and not bots:
            raise NotFound(f"no bot {bot_id}")
        return bots

    def set_bot_running(self, user_id: int, bot_id: int, run: BotRun, now: datetime) -> None:
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            before = conn.execute(
                select(strategies.c.definition, subscriptions.c.status)
                .join(subscriptions, subscriptions.c.strategy_id == strategies.c.id)
                .where(strategies.c.id == bot_id, subscriptions.c.user_id == user_id)
            ).first()
            done = conn.execute(
                update(strategies)
                .where(
                    strategies.c.id == bot_id,
                    strategies.c.owner_id == user_id,
                    strategies.c.source == StrategySource.BOT.value,
                )
                .values(definition=dict(run.definition))
            )
            if done.rowcount == 0:
                raise NotFound(f"no bot {bot_id}")
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.strategy_id == bot_id, subscriptions.c.user_id == user_id)
                .values(status=run.status.value)
            )
            # "changed" when it starts or stops (the bot_changed notice), "retuned" when only its
            # definition changed.
            was = before is not None and _runs(before.definition, before.status)
            kind = "changed" if was != _runs(run.definition, run.status) else "retuned"
            outbox.add([_bot_event(user_id, bot_id, run.status.value, run.definition, kind)])

    def set_strategy_passphrase(self, owner_id: int, strategy_id: int, passphrase_hash: str) -> None:
        self._update_own(owner_id, strategy_id, {"passphrase_hash": passphrase_hash})

    def change_strategy(self, owner_id: int, strategy_id: int, changes: StrategyChanges) -> None:
        values: dict[str, Any] = {
            name: getattr(changes, name)
            for name in ("name", "description", "is_public", "dedup_window_s")
            if getattr(changes, name) is not None
        }
        if changes.definition is not None:
            # As a PATCH body's exclude_none dump always stored it: settings left out are not kept as null.
            values["definition"] = changes.definition.model_dump(mode="json", exclude_none=True)
        self._update_own(owner_id, strategy_id, values)

    def _update_own(self, owner_id: int, strategy_id: int, values: dict[str, Any]) -> None:
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(strategies)
                .where(strategies.c.id == strategy_id, strategies.c.owner_id == owner_id)
                .values(values)
            )
        if result.rowcount == 0:
            raise NotFound(f"no strategy {strategy_id} of yours")

    def strategies_visible(self, user_id: int) -> list[Strategy]:
        return self._records(self._visible_to(user_id), lambda r: strategy_of(r, user_id))

    def public_strategies(self) -> list[Strategy]:
        query = _with_owner_and_count().where(strategies.c.is_public)
        return self._records(query, lambda r: strategy_of(r, None))

    def strategies_of_owner(self, owner_id: int) -> list[Strategy]:
        query = _with_owner_and_count().where(strategies.c.owner_id == owner_id)
        return self._records(query, lambda r: strategy_of(r, owner_id))

    def strategy(self, user_id: int, strategy_id: int) -> Strategy:
        query = self._visible_to(user_id).where(strategies.c.id == strategy_id)
        return self._record(query, lambda r: strategy_of(r, user_id), f"no strategy {strategy_id}")

    def strategy_pairs(self, user_id: int, strategy_id: int) -> list[PairRecord]:
        self.strategy(user_id, strategy_id)
        return self.pair_records(strategy_id)

    def pair_records(self, strategy_id: int) -> list[PairRecord]:
        query = (
            select(strategy_pairs)
            .where(strategy_pairs.c.strategy_id == strategy_id)
            .order_by(strategy_pairs.c.symbol)
        )
        return self._records(query, pair_record)

    def override_pair(
        self, user_id: int, strategy_id: int, symbol: str, status: PairStatus, who: str, now: datetime
    ) -> PairRecord:
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

    @staticmethod
    def _visible_to(user_id: int) -> Select[Any]:
        """Strategies `user_id` may see (their own and every public one)."""
        return _with_owner_and_count().where((strategies.c.owner_id == user_id) | strategies.c.is_public)


def _with_owner_and_count() -> Select[Any]:
    """Strategies with the owner's name and the number of active subscribers, by id."""
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


def _runs(definition: Mapping[str, Any] | None, status: Any) -> bool:
    """Whether a bot runs: evaluated (its definition enabled) and its subscription ACTIVE."""
    enabled = bool((definition or {}).get("enabled", True))
    return enabled and str(getattr(status, "value", status)) == SubscriptionStatus.ACTIVE.value


def _bot_event(
    user_id: int, bot_id: int, status: Any, definition: Mapping[str, Any] | None, kind: str
) -> Event:
    """What the bot's owner hears (`bots` topic): its subscription's status, whether it runs, its rules."""
    definition = definition or {}
    settings = definition.get("bot")
    return bot_changed(
        user_id,
        bot_id,
        str(getattr(status, "value", status)),
        bool(definition.get("enabled", True)),
        settings if isinstance(settings, Mapping) else None,
        kind,
    )


def strategy_row(strategy: NewStrategy) -> dict[str, Any]:
    """A new strategy's column values."""
    row: dict[str, Any] = {
        "owner_id": strategy.owner_id,
        "slug": strategy.slug,
        "name": strategy.name,
        "description": strategy.description,
        "source": strategy.source.value,
        "passphrase_hash": strategy.passphrase_hash,
        "is_public": strategy.is_public,
        "created_at": strategy.created_at,
        "definition": strategy.definition.model_dump(mode="json") if strategy.definition else None,
    }
    if strategy.dedup_window_s is not None:
        row["dedup_window_s"] = strategy.dedup_window_s
    return row


def _first_subscription(user_id: int) -> Any:
    """The id of `user_id`'s first subscription to the strategy of the enclosing query's row."""
    first = subscriptions.alias("first")
    return (
        select(func.min(first.c.id))
        .where(first.c.strategy_id == strategies.c.id, first.c.user_id == user_id)
        .scalar_subquery()
    )
