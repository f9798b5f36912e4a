"""Bulk writes convert each value as the column's own dialect type does: a time written in bulk at a
whole second compares equal to the same time as a query value (on SQLite, times are compared as text,
and "…:10" sorts before "…:10.000000")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Engine, select

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.tables import users


def test_a_whole_second_written_in_bulk_is_found_by_a_query_on_that_same_time(engine: Engine) -> None:
    whole_second = datetime(2026, 12, 6, 12, 0, 10, tzinfo=UTC)
    with write_transaction(engine) as conn:
        bulk.insert(conn, users, [{"username": "bulk", "password_hash": "x", "created_at": whole_second}])

    with engine.connect() as conn:
        found = conn.execute(select(users.c.username).where(users.c.created_at >= whole_second)).all()
        stored = conn.execute(select(users.c.created_at)).scalar_one()

    assert [r.username for r in found] == ["bulk"]
    assert stored == whole_second


def test_a_time_written_in_bulk_is_stored_as_sqlalchemy_stores_it(sqlite_engine: Engine) -> None:
    times = [
        datetime(2026, 12, 6, 12, 0, 10, tzinfo=UTC),
        datetime(2026, 12, 6, 12, 0, 10, 5, tzinfo=UTC),
        datetime(2026, 12, 6, 13, 0, 10, tzinfo=timezone(timedelta(hours=1))),  # the same instant
    ]
    with write_transaction(sqlite_engine) as conn:
        bulk.insert(
            conn,
            users,
            [{"username": f"bulk{n}", "password_hash": "x", "created_at": t} for n, t in enumerate(times)],
        )
        conn.execute(
            users.insert(),
            [{"username": f"core{n}", "password_hash": "x", "created_at": t} for n, t in enumerate(times)],
        )

    with sqlite_engine.connect() as conn:
        raw = dict(conn.exec_driver_sql("SELECT username, created_at FROM users").all())

    for n in range(len(times)):
        assert raw[f"bulk{n}"] == raw[f"core{n}"]
    assert raw["bulk0"] == "2026-12-06 12:00:10.000000" == raw["bulk2"]
