"""Many-row writes without per-row statement compilation: the hot path of a 1,000-subscriber fan-out.

SQLAlchemy builds parameters row by row for executemany; for thousands of rows that costs more than
the database itself. These helpers compile once, apply each column's type conversion (Money, UTC
times) directly, and hand plain tuples to the driver. The SQL they emit (including ON CONFLICT) is the
same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table

from tradewire.adapters.store.types import UTCDateTime

Row = dict[str, Any]

# Bound parameters per statement: below SQLite's limit (32,766) and PostgreSQL's (65,535).
_PARAMETERS = 16_000


def insert(
    conn: Connection,
    table: Table,
    rows: Sequence[Row],
    ignore_conflicts_on: Sequence[str] | None = None,
    update_conflicts_on: Sequence[str] | None = None,
) -> None:
    """INSERT rows; optionally skip rows that collide on a unique key, or update them (upsert)."""
    if not rows:
        return
    columns = list(rows[0])
    marks = ", ".join(_mark(conn) for _ in columns)
    sql = f"INSERT INTO {_q(table.name)} ({', '.join(map(_q, columns))}) VALUES ({marks})"
    if ignore_conflicts_on:
        sql += f" ON CONFLICT ({', '.join(map(_q, ignore_conflicts_on))}) DO NOTHING"
    elif update_conflicts_on:
        updated = [c for c in columns if c not in update_conflicts_on]
        assignments = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in updated)
        sql += f" ON CONFLICT ({', '.join(map(_q, update_conflicts_on))}) DO UPDATE SET {assignments}"
    conn.exec_driver_sql(sql, _tuples(conn, table, columns, rows))


def insert_returning(
    conn: Connection,
    table: Table,
    rows: Sequence[Row],
    returning: Sequence[str],
    ignore_conflicts_on: Sequence[str] | None = None,
) -> list[tuple[Any, ...]]:
    """INSERT rows (skipping those that collide on `ignore_conflicts_on`) and return the `returning`
    columns of the rows inserted, in no particular order: multi-row VALUES, one statement per chunk."""
    if not rows:
        return []
    columns = list(rows[0])
    values = _tuples(conn, table, columns, rows)
    row_marks = "(" + ", ".join(_mark(conn) for _ in columns) + ")"
    head = f"INSERT INTO {_q(table.name)} ({', '.join(map(_q, columns))}) VALUES "
    tail = ""
    if ignore_conflicts_on:
        tail = f" ON CONFLICT ({', '.join(map(_q, ignore_conflicts_on))}) DO NOTHING"
    tail += f" RETURNING {', '.join(map(_q, returning))}"
    found: list[tuple[Any, ...]] = []
    for chunk in chunks(values, max(1, _PARAMETERS // len(columns))):
        sql = head + ", ".join([row_marks] * len(chunk)) + tail
        flat = tuple(v for row in chunk for v in row)
        found += [tuple(r) for r in conn.exec_driver_sql(sql, flat)]
    return found


def increment(
    conn: Connection, table: Table, key: str, column: str, amounts: Mapping[int, int]
) -> dict[int, int]:
    """Add each amount to its key's counter (a new key's starts from 0) and return the counters after.

    The rows are taken in key order (one statement per chunk, chunks in key order), so two
    transactions incrementing overlapping keys lock them in the same order and never deadlock; the
    row locks last until the transaction ends (PostgreSQL), so a second one waits and then adds to
    what the first committed."""
    found: dict[int, int] = {}
    keys = sorted(amounts)
    row_marks = f"({_mark(conn)}, {_mark(conn)})"
    head = f"INSERT INTO {_q(table.name)} ({_q(key)}, {_q(column)}) VALUES "
    tail = (
        f" ON CONFLICT ({_q(key)}) DO UPDATE SET {_q(column)} = {_q(table.name)}.{_q(column)} + "
        f"excluded.{_q(column)} RETURNING {_q(key)}, {_q(column)}"
    )
    for chunk in chunks(keys, 500):
        sql = head + ", ".join([row_marks] * len(chunk)) + tail
        flat = tuple(v for k in chunk for v in (k, amounts[k]))
        found.update((int(k), int(v)) for k, v in conn.exec_driver_sql(sql, flat))
    return found


def update_by(conn: Connection, table: Table, key: str, rows: Sequence[Row]) -> None:
    """UPDATE each row's other columns WHERE `key` equals the row's `key` value."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key]
    assignments = ", ".join(f"{_q(c)} = {_mark(conn)}" for c in columns)
    sql = f"UPDATE {_q(table.name)} SET {assignments} WHERE {_q(key)} = {_mark(conn)}"
    conn.exec_driver_sql(sql, _tuples(conn, table, [*columns, key], rows))


def _tuples(conn: Connection, table: Table, columns: list[str], rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    """The rows' values in `columns` order, each converted as its column binds it (only the columns
    whose type converts: a fan-out writes thousands of rows a batch)."""
    dialect = conn.dialect
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, column in enumerate(columns):
        processor = _bind_processor(table.c[column].type, dialect)
        if processor is not None:
            converters.append((index, processor))
    values_of: Callable[[Row], tuple[Any, ...]] = (
        itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    )
    if not converters:
        return [values_of(row) for row in rows]
    result: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(values_of(row))
        for index, convert in converters:
            values[index] = convert(values[index])
        result.append(tuple(values))
    return result


def _bind_processor(column_type: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """As the column's own dialect type binds a value (SQLite: DATETIME written with its microseconds,
    as SQLAlchemy writes it elsewhere; the generic type left a whole second as "…:10", which sorts
    before "…:10.000000" when SQLite compares times as text)."""
    if dialect.name == "sqlite" and isinstance(column_type, UTCDateTime):
        return UTCDateTime.sqlite_text  # the same text, without SQLAlchemy's formatting per value
    processor: Callable[[Any], Any] | None = column_type.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _q(name: str) -> str:
    return f'"{name}"'


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """`items` in slices of at most `size`: bound the parameters of one IN (...) or VALUES list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
