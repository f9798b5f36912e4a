"""Subscriptions: an exchange account following a strategy, with its sizing, risk, exit and entry settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.events import transaction_with_events
from tradewire.adapters.store.member_rows import MemberRows, owned, read_owned, subscription_of
from tradewire.adapters.store.tables import exchange_accounts, strategies, subscriptions
from tradewire.domain.events import Event, subscribers_counted
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import (
    Conflict,
    NewSubscription,
    StrategySource,
    Subscription,
    SubscriptionChanges,
)
from tradewire.domain.risk import TradingState


class SqlSubscriptions(MemberRows):
    """Subscriptions scoped to their owner; a cancelled one never changes again."""

    def add_subscription(self, subscription: NewSubscription) -> int:
        return self.create_subscription(subscription_row(subscription))

    def create_subscription(self, values: dict[str, Any]) -> int:
        """One subscription from its column values (seeding and tests; the API uses add_subscription),
        with the strategy's new subscriber counts for its owner (`provider` topic)."""
        try:
            with transaction_with_events(self.engine, self.notifier, values["created_at"]) as (conn, outbox):
                key = conn.execute(subscriptions.insert().values(values)).inserted_primary_key
                outbox.add(_counted(conn, values["strategy_id"]))
        except IntegrityError as exc:
            raise Conflict("this account is already subscribed to this strategy") from exc
        assert key is not None
        return int(key[0])

    def create_subscriptions(self, rows: Sequence[dict[str, Any]]) -> None:
        """Many subscriptions in one transaction (demo seeding, benchmarks)."""
        if not rows:
            return  # an empty executemany would insert one row of defaults
        with write_transaction(self.engine) as conn:
            conn.execute(subscriptions.insert(), list(rows))

    def subscriptions(self, user_id: int) -> list[Subscription]:
        query = self._subscription_query().where(subscriptions.c.user_id == user_id)
        return self._records(query, subscription_of)

    def subscription(self, user_id: int, subscription_id: int) -> Subscription:
        query = self._subscription_query().where(owned(subscriptions, subscription_id, user_id))
        return self._record(query, subscription_of, f"no subscription {subscription_id}")

    def change_subscription(
        self, user_id: int, subscription_id: int, changes: SubscriptionChanges, who: str, now: datetime
    ) -> None:
        self.update_subscription(user_id, subscription_id, changes_row(changes, who, now))

    def halt_subscriptions(self, user_id: int, who: str, now: datetime) -> list[int]:
        reason = SubscriptionChanges(trading_state=TradingState.HALTED).state_reason(who)
        live = (
            (subscriptions.c.user_id == user_id)
            & (subscriptions.c.status != SubscriptionStatus.CANCELLED.value)
            & (subscriptions.c.trading_state != TradingState.HALTED.value)
        )
        with write_transaction(self.engine) as conn:
            ids = sorted(int(i) for i in conn.execute(select(subscriptions.c.id).where(live)).scalars())
            if ids:
                conn.execute(
                    update(subscriptions)
                    .where(subscriptions.c.id.in_(ids))
                    .values(trading_state=TradingState.HALTED.value, state_reason=reason, updated_at=now)
                )
        return ids

    def update_subscription(self, user_id: int, subscription_id: int, values: dict[str, Any]) -> None:
        """Change a subscription's columns; `reset_drawdown` restarts the drawdown from the current PnL.
        A new status (pause, resume, cancel) tells the strategy's owner its new subscriber counts."""
        now = values.get("updated_at") or datetime.now(UTC)
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            missing = f"no subscription {subscription_id}"
            current = read_owned(conn, subscriptions.c.status, subscription_id, user_id, missing)
            if current == SubscriptionStatus.CANCELLED.value:
                raise Conflict("a cancelled subscription cannot change; subscribe again")
            if values.pop("reset_drawdown", False):
                values["pnl_peak"] = subscriptions.c.pnl_total
            conn.execute(update(subscriptions).where(subscriptions.c.id == subscription_id).values(values))
            if values.get("status", current) != current:
                strategy_id = conn.execute(
                    select(subscriptions.c.strategy_id).where(subscriptions.c.id == subscription_id)
                ).scalar_one()
                outbox.add(_counted(conn, strategy_id))

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


def subscription_row(s: NewSubscription) -> dict[str, Any]:
    """A new subscription's column values (JSON settings as their domain types write them)."""
    return {
        "user_id": s.user_id,
        "strategy_id": s.strategy_id,
        "account_id": s.account_id,
        "status": s.status.value,
        "pairs": s.pairs,
        "sizing_mode": s.sizing_mode.value,
        "sizing_value": s.sizing_value,
        **s.settings.as_json(),
        **s.confirmation.columns(),
        "created_at": s.created_at,
        "updated_at": s.created_at,
    }


def _counted(conn: Connection, strategy_id: int) -> list[Event]:
    """The strategy's subscriber counts as this transaction leaves them, for its owner (none for a
    bot: its owner is its only subscriber). The strategy's row is locked first (FOR NO KEY UPDATE on
    PostgreSQL, which a new subscription's foreign-key check does not wait for), so two changes at once
    count one after the other and the last event holds the final counts."""
    row = conn.execute(
        select(strategies.c.owner_id, strategies.c.source)
        .where(strategies.c.id == strategy_id)
        .with_for_update(key_share=True)
    ).first()
    if row is None or row.source == StrategySource.BOT.value:
        return []
    status = subscriptions.c.status
    active = func.count().filter(status == SubscriptionStatus.ACTIVE.value)
    total = func.count().filter(status != SubscriptionStatus.CANCELLED.value)
    counts = conn.execute(
        select(active, total).select_from(subscriptions).where(subscriptions.c.strategy_id == strategy_id)
    ).one()
    return [subscribers_counted(int(row.owner_id), strategy_id, int(counts[0]), int(counts[1]))]


def changes_row(c: SubscriptionChanges, who: str, now: datetime) -> dict[str, Any]:
    """The columns a change sets."""
    values: dict[str, Any] = {**c.settings.given(), **c.confirmation_columns(), "updated_at": now}
    if c.status is not None:
        values["status"] = c.status.value
    if c.pairs is not None or c.all_pairs:
        values["pairs"] = c.pairs
    if c.sizing_mode is not None:
        values.update(sizing_mode=c.sizing_mode.value, sizing_value=c.sizing_value)
    if c.no_dca:
        values["dca"] = None
    if c.trading_state is not None:
        values.update(trading_state=c.trading_state.value, state_reason=c.state_reason(who))
    if c.resets_drawdown:
        values["reset_drawdown"] = True
    return values
