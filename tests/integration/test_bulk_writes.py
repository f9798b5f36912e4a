"""Bulk writes convert each value as the column's own dialect type does: a time written in bulk at a
whole second compares equal to the same time as a query value (on SQLite, times are compared as text,
and "…:10" sorts before "…:10.000000"). Large batches (COPY on PostgreSQL) store what small ones do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError

from tradewire.adapters.store import bulk
from tradewire.adapters.store.db import write_transaction
from tradewire.adapters.store.tables import event_seq, events, users


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


# -- batches of COPY_FROM rows or more (on PostgreSQL: COPY, and a staging table for upserts) ------


def _batch_events(user_id: int, count: int, at: datetime) -> list[dict[str, object]]:
    return [
        {"user_id": user_id, "id": n, "topic": "orders", "type": f"t{n}", "ts": at, "data": f'{{"n":{n}}}'}
        for n in range(1, count + 1)
    ]


def test_a_large_batch_is_stored_value_for_value(engine: Engine) -> None:
    at = datetime(2026, 12, 6, 12, 0, 10, 5, tzinfo=UTC)
    rows = _batch_events(7, 3 * bulk.COPY_FROM, at)
    rows[1]["data"] = 'tab\there, a newline\nand a backslash \\ "quoted"'
    with write_transaction(engine) as conn:
        bulk.insert(conn, events, rows)

    with engine.connect() as conn:
        stored = [dict(r._mapping) for r in conn.execute(select(events).order_by(events.c.id))]

    assert stored == rows


def test_times_of_a_large_batch_are_stored_as_the_instants_they_are(engine: Engine) -> None:
    # A batch's times are formatted once each: repeated ones, other zones, whole seconds and not.
    east = timezone(timedelta(hours=5, minutes=30))
    times = [
        datetime(2026, 12, 6, 12, 0, 10, tzinfo=UTC),
        datetime(2026, 12, 6, 12, 0, 10, 5, tzinfo=UTC),
        datetime(2026, 12, 6, 17, 30, 10, tzinfo=east),  # the first instant, in another zone
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    rows = _batch_events(3, 4 * bulk.COPY_FROM, times[0])
    for n, row in enumerate(rows):
        row["ts"] = times[n % len(times)]
    with write_transaction(engine) as conn:
        bulk.insert(conn, events, rows)

    with engine.connect() as conn:
        stored = [r.ts for r in conn.execute(select(events.c.ts).order_by(events.c.id))]

    assert stored == [row["ts"] for row in rows]
    assert all(t.utcoffset() == timedelta(0) for t in stored)


@pytest.mark.parametrize("count", [2, 3 * bulk.COPY_FROM])  # one INSERT, and COPY on PostgreSQL
def test_tuples_sharing_a_time_bound_once_are_stored_as_the_time_itself(engine: Engine, count: int) -> None:
    at = datetime(2026, 12, 6, 17, 30, 10, 5, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    columns = ["user_id", "id", "topic", "type", "ts", "data"]
    with write_transaction(engine) as conn:
        ts = bulk.binder(conn, events, "ts", count)(at)
        rows = [(5, n, "orders", "new", ts, "{}") for n in range(1, count + 1)]
        bulk.insert_tuples(conn, events, columns, rows, bound=("ts",))

    with engine.connect() as conn:
        stored = [r.ts for r in conn.execute(select(events.c.ts).where(events.c.user_id == 5))]

    assert stored == [at] * count
    assert all(t.utcoffset() == timedelta(0) for t in stored)


def test_one_of_finds_the_rows_of_exactly_the_listed_values(engine: Engine) -> None:
    at = datetime(2026, 12, 6, 12, 0, 10, tzinfo=UTC)
    odd = ['a"b', "c\\d", "e,f", "{g}", "NULL", " h ", ""]  # what an array's text must quote
    with write_transaction(engine) as conn:
        bulk.insert(conn, events, [*_batch_events(1, 3, at), *_batch_events(2, 3, at)])
        bulk.insert(
            conn, events, [{**e, "type": t} for e, t in zip(_batch_events(3, len(odd), at), odd, strict=True)]
        )

    with engine.connect() as conn:

        def found(column: Any, values: list[Any]) -> list[tuple[int, str]]:
            query = select(events.c.user_id, events.c.type).where(bulk.one_of(conn, column, values))
            return sorted(conn.execute(query).tuples().all())

        assert found(events.c.user_id, [2, 4]) == [(2, "t1"), (2, "t2"), (2, "t3")]
        assert found(events.c.type, ["t2", "t2-longer", "t", "t2"]) == [(1, "t2"), (2, "t2")]
        assert found(events.c.user_id, []) == []
        assert found(events.c.type, odd) == sorted((3, t) for t in odd)
        assert found(events.c.type, ['a"', "c\\", "NUL", "h", None]) == []


def test_a_large_upsert_updates_existing_rows_and_the_last_of_a_repeated_key_wins(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        bulk.insert(conn, event_seq, [{"user_id": 1, "last_id": 5}, {"user_id": 2, "last_id": 6}])
    count = max(2 * bulk.COPY_FROM, 8)
    rows = [{"user_id": u, "last_id": 100 + u} for u in range(1, count)]
    rows.append({"user_id": 2, "last_id": 999})  # a repeat: applied after the first, so it wins
    with write_transaction(engine) as conn:
        bulk.insert(conn, event_seq, rows, update_conflicts_on=["user_id"])

    with engine.connect() as conn:
        stored = dict(conn.execute(select(event_seq.c.user_id, event_seq.c.last_id)).tuples().all())

    assert stored == {**{u: 100 + u for u in range(1, count)}, 2: 999}


def test_a_large_insert_that_skips_conflicts_leaves_existing_rows_alone(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        bulk.insert(conn, event_seq, [{"user_id": 3, "last_id": 7}])
    count = max(2 * bulk.COPY_FROM, 8)
    rows = [{"user_id": u, "last_id": 1} for u in range(1, count)]
    rows.append({"user_id": 4, "last_id": 2})  # a repeat: skipped like any conflict
    with write_transaction(engine) as conn:
        bulk.insert(conn, event_seq, rows, ignore_conflicts_on=["user_id"])

    with engine.connect() as conn:
        stored = dict(conn.execute(select(event_seq.c.user_id, event_seq.c.last_id)).tuples().all())

    assert stored == {**{u: 1 for u in range(1, count)}, 3: 7}


def test_large_updates_by_key_twice_in_one_transaction_touch_only_their_rows(engine: Engine) -> None:
    count = max(3 * bulk.COPY_FROM, 8)
    at = datetime(2026, 12, 6, 12, 0, 10, tzinfo=UTC)
    with write_transaction(engine) as conn:
        bulk.insert(conn, users, [_user(n, at) for n in range(count)])
    with engine.connect() as conn:
        ids = list(conn.execute(select(users.c.id).order_by(users.c.id)).scalars())
    later = at + timedelta(hours=1)
    first = [{"id": i, "username": f"renamed{i}", "created_at": later} for i in ids[: count - 1]]
    first.append({"id": ids[0], "username": "last-wins", "created_at": later})
    second = [{"id": i, "password_hash": "changed"} for i in ids[1 : count - 1]]
    with write_transaction(engine) as conn:
        bulk.update_by(conn, users, "id", first)
        bulk.update_by(conn, users, "id", second)  # another staging table, the same transaction

    with engine.connect() as conn:
        stored = {r.id: r for r in conn.execute(select(users))}

    assert stored[ids[0]].username == "last-wins" and stored[ids[0]].password_hash == "x"
    assert all(stored[i].username == f"renamed{i}" for i in ids[1 : count - 1])
    assert all(stored[i].password_hash == "changed" for i in ids[1 : count - 1])
    assert all(stored[i].created_at == later for i in ids[: count - 1])
    untouched = stored[ids[-1]]
    assert (untouched.username, untouched.password_hash, untouched.created_at) == (f"u{count - 1}", "x", at)


def test_a_value_beyond_its_column_fails_a_large_batch_as_it_fails_a_small_one(
    postgres_engine: Engine,
) -> None:
    def rows(count: int) -> list[dict[str, object]]:
        batch = [{"user_id": u, "last_id": 1} for u in range(count)]
        batch[-1]["last_id"] = 2**63  # beyond BIGINT
        return batch

    for count in (1, bulk.COPY_FROM):
        for upsert in ({}, {"update_conflicts_on": ["user_id"]}):
            with pytest.raises(DBAPIError), write_transaction(postgres_engine) as conn:
                bulk.insert(conn, event_seq, rows(count), **upsert)  # type: ignore[arg-type]

    # Each failed transaction rolled back whole, its staging table with it: the next batch works.
    with write_transaction(postgres_engine) as conn:
        bulk.insert(conn, event_seq, rows(bulk.COPY_FROM)[:-1], update_conflicts_on=["user_id"])
    with postgres_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(event_seq)).scalar_one() == bulk.COPY_FROM - 1


def test_a_large_insert_returning_returns_what_it_inserted_and_skips_conflicts(engine: Engine) -> None:
    at = datetime(2026, 12, 6, 12, 0, 10, tzinfo=UTC)
    with write_transaction(engine) as conn:
        bulk.insert(conn, users, [_user(1, at)])
    count = max(2 * bulk.COPY_FROM, 8)
    with write_transaction(engine) as conn:
        returned = bulk.insert_returning(
            conn, users, [_user(n, at) for n in range(count)], ["id", "username"], ["username"]
        )

    with engine.connect() as conn:
        stored = dict(conn.execute(select(users.c.id, users.c.username)).tuples().all())

    assert sorted(username for _, username in returned) == sorted(f"u{n}" for n in range(count) if n != 1)
    assert dict(returned) == {i: name for i, name in stored.items() if name != "u1"}


def test_a_large_increment_adds_to_each_counter_and_returns_the_counters_after(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        bulk.insert(conn, event_seq, [{"user_id": 5, "last_id": 40}])
    count = max(2 * bulk.COPY_FROM, 8)
    amounts = {u: u % 3 + 1 for u in range(count, 0, -1)}
    with write_transaction(engine) as conn:
        after = bulk.increment(conn, event_seq, "user_id", "last_id", amounts)

    with engine.connect() as conn:
        stored = dict(conn.execute(select(event_seq.c.user_id, event_seq.c.last_id)).tuples().all())

    assert after == stored == {**amounts, 5: 40 + amounts[5]}


def test_keys_in_finds_the_rows_of_exactly_the_listed_keys(engine: Engine) -> None:
    at = datetime(2026, 12, 6, 12, 0, 10, tzinfo=UTC)
    with write_transaction(engine) as conn:
        bulk.insert(conn, events, [*_batch_events(1, 3, at), *_batch_events(2, 3, at)])
    wanted = [(1, "t2"), (2, "t3"), (2, "t3-longer"), (3, "t1"), (None, "t1")]

    with engine.connect() as conn:
        query = select(events.c.user_id, events.c.type).where(
            bulk.keys_in(conn, [events.c.user_id, events.c.type], wanted)
        )
        found = sorted(conn.execute(query).tuples().all())

    assert found == [(1, "t2"), (2, "t3")]


def _user(n: int, at: datetime) -> dict[str, object]:
    return {"username": f"u{n}", "password_hash": "x", "created_at": at}
