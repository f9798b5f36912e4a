"""Signals and the strategies they come from, in SQL: stored once, routed once (ports/signals.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from tradewire.adapters.store.db import SqlTables, write_transaction
from tradewire.adapters.store.events import transaction_with_events
from tradewire.adapters.store.tables import exchange_accounts, signals, strategies, subscriptions, users
from tradewire.adapters.store.values import bounded_reason
from tradewire.domain.events import SignalFacts, signal_failed, signal_received
from tradewire.domain.execution import SubscriptionStatus
from tradewire.domain.members import AccountMode
from tradewire.domain.records import (
    LiveVenue,
    NewSignal,
    PlatformStrategy,
    SignalRoute,
    StoredSignal,
    StrategyVenues,
    WebhookStrategy,
)

_ACTIVE_SUBSCRIPTIONS = subscriptions.join(
    exchange_accounts, exchange_accounts.c.id == subscriptions.c.account_id
)
_OF_STRATEGY = and_(
    subscriptions.c.strategy_id == bindparam("strategy_id"),
    subscriptions.c.status == SubscriptionStatus.ACTIVE.value,
)
_PAPER_SUBSCRIBER = (
    select(subscriptions.c.id)
    .select_from(_ACTIVE_SUBSCRIPTIONS)
    .where(_OF_STRATEGY, exchange_accounts.c.mode == AccountMode.PAPER.value)
    .limit(1)
)
_VENUE_COLUMNS = (
    exchange_accounts.c.id,
    exchange_accounts.c.exchange,
    exchange_accounts.c.sandbox,
    exchange_accounts.c.api_urls,
)
_LIVE_SUBSCRIBERS = (
    select(*_VENUE_COLUMNS)
    .select_from(_ACTIVE_SUBSCRIPTIONS)
    .where(_OF_STRATEGY, exchange_accounts.c.mode == AccountMode.LIVE.value)
    .order_by(exchange_accounts.c.id)
)


class SqlSignals(SqlTables):
    """Signals (unique on strategy and dedup key), their routing status, and the strategies."""

    # -- ingest -----------------------------------------------------------------------------------

    def webhook_strategy(self, slug: str) -> WebhookStrategy | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(strategies.c.id, strategies.c.passphrase_hash, users.c.disabled_at)
                .join(users, users.c.id == strategies.c.owner_id)
                .where(strategies.c.slug == slug, strategies.c.source == "tradingview")
            ).first()
        return WebhookStrategy(row.id, row.passphrase_hash, row.disabled_at is not None) if row else None

    def find_signal(self, strategy_id: int, dedup_keys: Sequence[str]) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(signals.c.id).where(
                    signals.c.strategy_id == strategy_id, signals.c.dedup_key.in_(list(dedup_keys))
                )
            ).scalar()

    def insert_signal(self, signal: NewSignal) -> StoredSignal:
        row = signal_row(signal)
        try:
            with transaction_with_events(self.engine, self.notifier, signal.received_at) as (conn, outbox):
                key = conn.execute(signals.insert().values(row)).inserted_primary_key
                assert key is not None
                signal_id = int(key[0])
                owner_id = _owner(conn, signal.strategy_id)
                if owner_id is not None:
                    outbox.add(signal_received(owner_id, SignalFacts.of(signal_id, signal)))
                return StoredSignal(signal_id, True)
        except IntegrityError:
            existing = self.find_signal(signal.strategy_id, [signal.dedup_key])
            if existing is None:
                raise
            return StoredSignal(existing, False)

    def insert_signal_in_window(self, signal: NewSignal, content_key: str) -> StoredSignal:
        # The strategy's row is locked for the check and the insert (SQLite serialises writers already).
        with transaction_with_events(self.engine, self.notifier, signal.received_at) as (conn, outbox):
            window_s, owner_id = conn.execute(
                select(strategies.c.dedup_window_s, strategies.c.owner_id)
                .where(strategies.c.id == signal.strategy_id)
                .with_for_update()
            ).one()
            earlier = conn.execute(
                select(signals.c.id)
                .where(
                    signals.c.strategy_id == signal.strategy_id,
                    signals.c.content_key == content_key,
                    signals.c.received_at >= signal.received_at - timedelta(seconds=window_s),
                )
                .order_by(signals.c.received_at.desc())
                .limit(1)
            ).scalar()
            if earlier is not None:
                return StoredSignal(int(earlier), False)
            key = conn.execute(
                signals.insert().values({**signal_row(signal), "content_key": content_key})
            ).inserted_primary_key
            assert key is not None
            outbox.add(signal_received(owner_id, SignalFacts.of(int(key[0]), signal)))
            return StoredSignal(int(key[0]), True)

    # -- routing ----------------------------------------------------------------------------------

    def signal_route_info(self, signal_id: int) -> SignalRoute | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(signals.c.strategy_id, signals.c.symbol, signals.c.status, signals.c.price).where(
                    signals.c.id == signal_id
                )
            ).first()
        return SignalRoute(row.strategy_id, row.symbol, row.status, row.price is not None) if row else None

    def signal_ticker(self, signal_id: int) -> str | None:
        with self.engine.connect() as conn:
            found: str | None = conn.execute(
                select(signals.c.ticker).where(signals.c.id == signal_id)
            ).scalar()
        return found

    def resolve_signal(self, signal_id: int, symbol: str) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(signals)
                .where(signals.c.id == signal_id, signals.c.symbol == "", signals.c.status == "received")
                .values(symbol=symbol)
            )

    def unrouted_signal_ids(self, received_before: datetime | None = None) -> list[int]:
        query = select(signals.c.id).where(signals.c.status == "received").order_by(signals.c.id)
        if received_before is not None:
            query = query.where(signals.c.received_at <= received_before)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def routing_failed(self, signal_id: int, reason: str, attempts_allowed: int, now: datetime) -> bool:
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            row = conn.execute(
                update(signals)
                .where(signals.c.id == signal_id, signals.c.status == "received")
                .values(attempts=signals.c.attempts + 1, reason=bounded_reason(reason))
                .returning(signals.c.attempts, signals.c.strategy_id)
            ).first()
            if row is None or row.attempts < attempts_allowed:
                return False
            why = bounded_reason(f"routing failed {row.attempts} times; last: {reason}")
            conn.execute(update(signals).where(signals.c.id == signal_id).values(status="failed", reason=why))
            owner_id = _owner(conn, row.strategy_id)
            if owner_id is not None:
                outbox.add(signal_failed(owner_id, signal_id, row.strategy_id, why))
            return True

    # -- strategies and their venues --------------------------------------------------------------

    def strategy_venues(self, strategy_id: int) -> StrategyVenues:
        with self.engine.connect() as conn:  # asked on every webhook: the statements are built once
            paper = conn.execute(_PAPER_SUBSCRIBER, {"strategy_id": strategy_id}).first()
            live = conn.execute(_LIVE_SUBSCRIBERS, {"strategy_id": strategy_id}).all()
        return StrategyVenues(paper is not None, tuple(live_venue(r) for r in live))

    def live_venues_in_use(self) -> list[LiveVenue]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(*_VENUE_COLUMNS)
                .where(
                    exchange_accounts.c.mode == AccountMode.LIVE.value,
                    exchange_accounts.c.id.in_(
                        select(subscriptions.c.account_id).where(
                            subscriptions.c.status == SubscriptionStatus.ACTIVE.value
                        )
                    ),
                )
                .order_by(exchange_accounts.c.id)
            ).all()
        return [live_venue(r) for r in rows]

    def strategy_definitions(self) -> list[PlatformStrategy]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(strategies.c.id, strategies.c.definition)
                .join(users, users.c.id == strategies.c.owner_id)
                # A disabled owner's strategies and bots are not run: no new signals from them.
                .where(strategies.c.definition.is_not(None), users.c.disabled_at.is_(None))
                .order_by(strategies.c.id)
            )
            return [PlatformStrategy(r.id, r.definition) for r in rows if r.definition]

    def last_signal_at(self, strategy_id: int, symbol: str) -> datetime | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(signals.c.received_at)
                .where(signals.c.strategy_id == strategy_id, signals.c.symbol == symbol)
                .order_by(signals.c.id.desc())
                .limit(1)
            ).scalar()
        return found


def _owner(conn: Connection, strategy_id: int) -> int | None:
    owner: int | None = conn.execute(
        select(strategies.c.owner_id).where(strategies.c.id == strategy_id)
    ).scalar()
    return owner


def live_venue(r: Any) -> LiveVenue:
    urls = r.api_urls if isinstance(r.api_urls, dict) else {}
    return LiveVenue(
        r.id, r.exchange, bool(r.sandbox), tuple(sorted((str(k), str(v)) for k, v in urls.items()))
    )


def signal_row(signal: NewSignal) -> dict[str, Any]:
    return {
        "strategy_id": signal.strategy_id,
        "dedup_key": signal.dedup_key,
        "status": "received",
        "action": signal.action.value,
        "ticker": signal.ticker,
        "symbol": signal.symbol,
        "contracts": signal.contracts,
        "price": signal.price,
        "signal_time": signal.signal_time,
        "details": signal.details,
        "received_at": signal.received_at,
    }
