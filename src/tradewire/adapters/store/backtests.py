"""Backtests run by the server: their requests, progress and results (the `backtests` table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.tables import backtests, strategies
from tradewire.domain.members import NotFound

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
UNFINISHED = (QUEUED, RUNNING)

# Every column but the result, which can hold thousands of trades: what listings return.
_SUMMARY = [column for column in backtests.c if column.name != "result"]


class SqlBacktests:
    """Reads and writes of `backtests`; the user-facing reads are scoped to the backtest's owner."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, values: dict[str, Any]) -> int:
        with write_transaction(self.engine) as conn:
            key = conn.execute(backtests.insert().values(values)).inserted_primary_key
        assert key is not None
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
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(backtests)
                .where(backtests.c.id == backtest_id, backtests.c.status == QUEUED)
                .values(status=RUNNING, progress=0.0, updated_at=now)
            )
            if result.rowcount == 0:
                return None
            row = conn.execute(select(*_SUMMARY).where(backtests.c.id == backtest_id)).one()
        return dict(row._mapping)

    def set_progress(self, backtest_id: int, progress: float, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(backtests)
                .where(backtests.c.id == backtest_id, backtests.c.status == RUNNING)
                .values(progress=progress, updated_at=now)
            )

    def finish(self, backtest_id: int, result: dict[str, Any], now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(backtests)
                .where(backtests.c.id == backtest_id)
                .values(status=DONE, progress=1.0, result=result, error=None, updated_at=now, finished_at=now)
            )

    def fail(self, backtest_id: int, error: str, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(backtests)
                .where(backtests.c.id == backtest_id)
                .values(status=FAILED, error=error, updated_at=now, finished_at=now)
            )

    def fail_unfinished(self, error: str, now: datetime) -> int:
        """Mark every queued or running backtest failed (their process is gone); how many there were."""
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(backtests)
                .where(backtests.c.status.in_(UNFINISHED))
                .values(status=FAILED, error=error, updated_at=now, finished_at=now)
            )
        return int(result.rowcount)
