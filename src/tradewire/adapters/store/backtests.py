"""Backtests run by the server: their requests, progress and results (the `backtests` table); each
change tells its owner (the `backtests` topic of the events outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from tradewire.adapters.store.events import transaction_with_events
from tradewire.adapters.store.tables import backtests, strategies
from tradewire.domain.events import backtest_changed
from tradewire.domain.members import NotFound
from tradewire.ports.events import EventNotifier

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"

# Every column but the result, which can hold thousands of trades: what listings return.
_SUMMARY = [column for column in backtests.c if column.name != "result"]


class SqlBacktests:
    """Reads and writes of `backtests`; the user-facing reads are scoped to the backtest's owner."""

    def __init__(self, engine: Engine, notifier: EventNotifier | None = None) -> None:
        self.engine = engine
        self.notifier = notifier

    def create(self, values: dict[str, Any]) -> int:
        with transaction_with_events(self.engine, self.notifier, values["created_at"]) as (conn, outbox):
            key = conn.execute(backtests.insert().values(values)).inserted_primary_key
            assert key is not None
            outbox.add([backtest_changed(values["user_id"], int(key[0]), QUEUED)])
        return int(key[0])

    def get(self, user_id: int, backtest_id: int, with_result: bool = True) -> dict[str, Any]:
        """One of the user's backtests; NotFound when it does not exist or is someone else's."""
        columns = list(backtests.c) if with_result else _SUMMARY
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*columns).where(backtests.c.id == backtest_id, backtests.c.user_id == user_id)
            ).first()
        if row is None:
            raise NotFound(f"no backtest {backtest_id}")
        return dict(row._mapping)

    def of_strategy(
        self, user_id: int, strategy_id: int, limit: int = 100, before_id: int | None = None
    ) -> list[dict[str, Any]]:
        """The user's backtests filed under a strategy they can see (own or public), newest first."""
        self.strategy_definition(user_id, strategy_id)
        query = (
            select(*_SUMMARY)
            .where(backtests.c.strategy_id == strategy_id, backtests.c.user_id == user_id)
            .order_by(backtests.c.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(backtests.c.id < before_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def strategy_definition(self, user_id: int, strategy_id: int) -> dict[str, Any] | None:
        """The indicator definition of a strategy the user can see (None: a webhook strategy)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(strategies.c.definition).where(
                    strategies.c.id == strategy_id,
                    (strategies.c.owner_id == user_id) | strategies.c.is_public,
                )
            ).first()
        if row is None:
            raise NotFound(f"no strategy {strategy_id}")
        definition: dict[str, Any] | None = row.definition
        return definition

    # -- the worker's side: no owner scope --------------------------------------------------------

    def claim(self, backtest_id: int, now: datetime) -> dict[str, Any] | None:
        """Move a queued backtest to running and return it; None if it is not queued (any more)."""
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            result = conn.execute(
                update(backtests)
                .where(backtests.c.id == backtest_id, backtests.c.status == QUEUED)
                .values(status=RUNNING, progress=0.0, updated_at=now)
            )
            if result.rowcount == 0:
                return None
            row = conn.execute(select(*_SUMMARY).where(backtests.c.id == backtest_id)).one()
            outbox.add([backtest_changed(row.user_id, backtest_id, RUNNING)])
        return dict(row._mapping)

    def set_progress(self, backtest_id: int, progress: float, now: datetime) -> None:
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            owner = conn.execute(
                update(backtests)
                .where(backtests.c.id == backtest_id, backtests.c.status == RUNNING)
                .values(progress=progress, updated_at=now)
                .returning(backtests.c.user_id)
            ).scalar()
            if owner is not None:
                outbox.add([backtest_changed(owner, backtest_id, RUNNING, progress)])

    def finish(self, backtest_id: int, result: dict[str, Any], now: datetime) -> None:
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            owner = conn.execute(
                update(backtests)
                .where(backtests.c.id == backtest_id)
                .values(status=DONE, progress=1.0, result=result, error=None, updated_at=now, finished_at=now)
                .returning(backtests.c.user_id)
            ).scalar()
            if owner is not None:
                outbox.add([backtest_changed(owner, backtest_id, DONE)])

    def fail(self, backtest_id: int, error: str, now: datetime) -> None:
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            owner = conn.execute(
                update(backtests)
                .where(backtests.c.id == backtest_id)
                .values(status=FAILED, error=error, updated_at=now, finished_at=now)
                .returning(backtests.c.user_id)
            ).scalar()
            if owner is not None:
                outbox.add([backtest_changed(owner, backtest_id, FAILED, error=error)])

    def fail_unfinished(self, error: str, now: datetime) -> int:
        """Mark every backtest left running failed (the process running it is gone: the walk cannot
        be resumed); how many there were. Queued ones are left to run (`queued_ids`)."""
        with transaction_with_events(self.engine, self.notifier, now) as (conn, outbox):
            failed = conn.execute(
                update(backtests)
                .where(backtests.c.status == RUNNING)
                .values(status=FAILED, error=error, updated_at=now, finished_at=now)
                .returning(backtests.c.id, backtests.c.user_id)
            ).all()
            outbox.add(backtest_changed(user_id, i, FAILED, error=error) for i, user_id in sorted(failed))
        return len(failed)

    def queued_ids(self, limit: int = 1000) -> list[int]:
        """Backtests accepted and not started yet, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(backtests.c.id)
                .where(backtests.c.status == QUEUED)
                .order_by(backtests.c.id)
                .limit(limit)
            )
            return [r.id for r in rows]
