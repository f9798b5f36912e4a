"""Many-row writes without per-row statement compilation: the hot path of a 1,000-subscriber fan-out.

SQLAlchemy builds parameters row by row for executemany; for thousands of rows that costs more than
the database itself. These helpers compile once, apply each column's type conversion (Money, UTC
times) directly, and hand plain tuples to the driver. The SQL they emit (including ON CONFLICT) is the
same on SQLite and PostgreSQL.

On PostgreSQL an executemany is still one statement per row on the server (and one pass through the
driver's Python per row), and a multi-row VALUES costs the driver a parse of every placeholder; so a
batch of `COPY_FROM` rows or more is sent with COPY instead: straight into the table, or, for an
upsert, an insert that skips conflicts or returns columns, or an update, into a staging table
(temporary, one per table and columns and connection, emptied at commit) that a single INSERT ...
SELECT or UPDATE ... FROM applies. Rows that repeat a key are applied as executemany applies them:
the last one wins. Integers alone (an increment's keys and amounts, a list of ids) go as arrays
written out as text, `{1,2,3}`, which the server reads in one go.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Integer,
    Table,
    any_,
    bindparam,
    func,
    select,
    tuple_,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import UserDefinedType

from tradewire.adapters.store.types import Money, UTCDateTime

Row = dict[str, Any]

# Bound parameters per statement: below SQLite's limit (32,766) and PostgreSQL's (65,535).
_PARAMETERS = 16_000

# Rows from which a PostgreSQL batch goes through COPY (below it, executemany's one pipelined round
# trip is cheaper than a staging table's few).
COPY_FROM = 16


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
    conflict = ""
    if ignore_conflicts_on:
        conflict = f" ON CONFLICT ({', '.join(map(_q, ignore_conflicts_on))}) DO NOTHING"
    elif update_conflicts_on:
        updated = [c for c in columns if c not in update_conflicts_on]
        assignments = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in updated)
        conflict = f" ON CONFLICT ({', '.join(map(_q, update_conflicts_on))}) DO UPDATE SET {assignments}"
    if _copies(conn, rows):
        if update_conflicts_on:  # one statement may not update a row twice: the last row wins
            rows = _last_per_key(rows, update_conflicts_on)
        if not conflict:
            _copy(conn, _q(table.name), columns, _tuples(conn, table, columns, rows, copying=True))
            return
        stage = _staged(conn, table, columns, rows)
        names = ", ".join(map(_q, columns))
        _execute(
            conn, f"INSERT INTO {_q(table.name)} ({names}) SELECT {names} FROM {stage} ORDER BY _n{conflict}"
        )
        return
    marks = ", ".join(_mark(conn) for _ in columns)
    sql = f"INSERT INTO {_q(table.name)} ({', '.join(map(_q, columns))}) VALUES ({marks}){conflict}"
    conn.exec_driver_sql(sql, _tuples(conn, table, columns, rows))


def insert_tuples(
    conn: Connection,
    table: Table,
    columns: list[str],
    rows: Sequence[tuple[Any, ...]],
    bound: Collection[str] = (),
) -> None:
    """INSERT rows given as tuples of `columns`' values (no conflict handling): for the largest
    batches (the events outbox, ten rows per subscriber), without a dict per row. The values of the
    columns in `bound` are bound already (by `binder`: a value every row shares, converted once)."""
    if not rows:
        return
    if _copies(conn, rows):
        _copy(conn, _q(table.name), columns, _tuples(conn, table, columns, rows, copying=True, bound=bound))
        return
    marks = ", ".join(_mark(conn) for _ in columns)
    sql = f"INSERT INTO {_q(table.name)} ({', '.join(map(_q, columns))}) VALUES ({marks})"
    conn.exec_driver_sql(sql, _tuples(conn, table, columns, rows, bound=bound))


def binder(conn: Connection, table: Table, column: str, count: int) -> Callable[[Any], Any]:
    """How insert_tuples of `count` rows binds a value of `column` (as it is, if its type does not
    convert): for a value every row shares, converted once by the caller and named in `bound`."""
    copying = count >= COPY_FROM and conn.dialect.name == "postgresql"
    processor = _bind_processor(table.c[column].type, conn.dialect, copying)
    return processor if processor is not None else _as_it_is


def _as_it_is(value: Any) -> Any:
    return value


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
    if _copies(conn, rows):
        stage = _staged(conn, table, columns, rows)
        names = ", ".join(map(_q, columns))
        conflict = (
            f" ON CONFLICT ({', '.join(map(_q, ignore_conflicts_on))}) DO NOTHING"
            if ignore_conflicts_on
            else ""
        )
        sql = (
            f"INSERT INTO {_q(table.name)} ({names}) SELECT {names} FROM {stage} ORDER BY _n{conflict} "
            f"RETURNING {', '.join(map(_q, returning))}"
        )
        return [tuple(r) for r in conn.exec_driver_sql(sql)]
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

    The rows are taken in key order (one statement, or one per chunk, chunks in key order), so two
    transactions incrementing overlapping keys lock them in the same order and never deadlock; the
    row locks last until the transaction ends (PostgreSQL), so a second one waits and then adds to
    what the first committed."""
    found: dict[int, int] = {}
    keys = sorted(amounts)
    tail = (
        f" ON CONFLICT ({_q(key)}) DO UPDATE SET {_q(column)} = {_q(table.name)}.{_q(column)} + "
        f"excluded.{_q(column)} RETURNING {_q(key)}, {_q(column)}"
    )
    if _copies(conn, keys):
        # One statement, its rows (and so its locks) in key order; keys and amounts as two arrays'
        # text (integers: no staging table, no per-value conversion by the driver).
        sql = (
            f"INSERT INTO {_q(table.name)} ({_q(key)}, {_q(column)}) SELECT k, n "
            f"FROM unnest(%s::bigint[], %s::bigint[]) AS s(k, n) ORDER BY k{tail}"
        )
        arrays = (_integers_text(keys), _integers_text([amounts[k] for k in keys]))
        found.update((int(k), int(v)) for k, v in conn.exec_driver_sql(sql, arrays).all())
        return found
    row_marks = f"({_mark(conn)}, {_mark(conn)})"
    head = f"INSERT INTO {_q(table.name)} ({_q(key)}, {_q(column)}) VALUES "
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
    if _copies(conn, rows) and columns:
        rows = _last_per_key(rows, [key])  # as executemany applies them: the last one wins
        stage = _staged(conn, table, [key, *columns], rows)
        assignments = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in columns)
        target = _q(table.name)
        _execute(
            conn, f"UPDATE {target} SET {assignments} FROM {stage} s WHERE {target}.{_q(key)} = s.{_q(key)}"
        )
        return
    assignments = ", ".join(f"{_q(c)} = {_mark(conn)}" for c in columns)
    sql = f"UPDATE {_q(table.name)} SET {assignments} WHERE {_q(key)} = {_mark(conn)}"
    conn.exec_driver_sql(sql, _tuples(conn, table, [*columns, key], rows))


def keys_in(
    conn: Connection, columns: Sequence[ColumnElement[Any]], keys: Sequence[tuple[Any, ...]]
) -> ColumnElement[bool]:
    """SQL for "(columns) is one of `keys`". On PostgreSQL the keys go as one array per column (a list
    of row values in IN (...) is planned as an OR per key, and the driver parses each placeholder)."""
    if conn.dialect.name != "postgresql":
        return tuple_(*columns).in_(keys)
    arrays = [_array(column, [key[n] for key in keys]) for n, column in enumerate(columns)]
    listed = func.unnest(*arrays).table_valued(*(f"k{n}" for n in range(len(columns)))).render_derived()
    return tuple_(*columns).in_(select(*listed.c))


def one_of(conn: Connection, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """SQL for "column is one of `values`" (a chunk of ids, say). On PostgreSQL the values go as one
    array (`= ANY(...)`): an IN (...) list costs SQLAlchemy a placeholder to render, the driver one to
    find and convert and the server one to parse, per value, and its text differs with the count."""
    if conn.dialect.name != "postgresql":
        return column.in_(values)
    return column == any_(_array(column, values))


class _IntegerArrayText(UserDefinedType[str]):
    """A BIGINT[] parameter bound as its text, `{1,2,3}`, which the server reads as the array."""

    cache_ok = True
    render_bind_cast = True  # %(name)s::BIGINT[]: the driver sends text of no type, the server casts it

    def get_col_spec(self, **kw: Any) -> str:
        return "BIGINT[]"


class _TextArrayText(UserDefinedType[str]):
    """A TEXT[] parameter bound as its text, `{"a","b"}`. Text, not the column's VARCHAR(n): a cast
    to that would cut a longer key down to a stored one."""

    cache_ok = True
    render_bind_cast = True

    def get_col_spec(self, **kw: Any) -> str:
        return "TEXT[]"


def _array(column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[Any]:
    """`values` bound as one array parameter of `column`'s element type, written out as the array's
    text: the driver converts a list element by element in Python (for a thousand ids 25 times as
    long, for a thousand symbols 8 times)."""
    if isinstance(column.type, Integer):
        return bindparam(None, _integers_text(values), type_=_IntegerArrayText())
    return bindparam(None, _texts_text(values), type_=_TextArrayText())


def _integers_text(values: Sequence[Any]) -> str:
    """Integers (or None) as the text of a PostgreSQL array: {1,2,NULL}."""
    if None in values:
        listed = ",".join("NULL" if v is None else str(int(v)) for v in values)
    else:
        listed = ",".join(map(str, map(int, values)))
    return f"{{{listed}}}"


def _texts_text(values: Sequence[Any]) -> str:
    """Texts (or None) as the text of a PostgreSQL array, each quoted: {"BTC/USDT","a\\"b",NULL}.
    Keys repeat (a page's symbol): each distinct one is quoted once."""
    quoted: dict[Any, str] = {None: "NULL"}
    listed = []
    for value in values:
        text = quoted.get(value)
        if text is None:
            text = quoted[value] = '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
        listed.append(text)
    return "{" + ",".join(listed) + "}"


def _copies(conn: Connection, rows: Sequence[Any]) -> bool:
    """Whether this batch goes through COPY (PostgreSQL, `COPY_FROM` rows or more)."""
    return len(rows) >= COPY_FROM and conn.dialect.name == "postgresql"


def _last_per_key(rows: Sequence[Row], key: Sequence[str]) -> Sequence[Row]:
    """`rows` with only the last of each key, in the order of those last ones."""
    of = itemgetter(*key)
    last = {of(row): row for row in rows}
    if len(last) == len(rows):
        return rows
    kept = set(map(id, last.values()))
    return [row for row in rows if id(row) in kept]


def _staged(conn: Connection, table: Table, columns: list[str], rows: Sequence[Row]) -> str:
    """Copy `rows` into this connection's staging table for `table` and `columns` (created on first
    use with the table's own column types, so a value the table cannot hold is refused here), with
    each row's position in `_n`; returns the staging table's name."""
    digest = hashlib.blake2s(",".join(columns).encode(), digest_size=5).hexdigest()
    stage = _q(f"tw_stage_{table.name[:30]}_{digest}")
    names = ", ".join(map(_q, columns))
    # Created inside the caller's transaction: a rollback takes it away, and the next call makes it
    # again. ON COMMIT DELETE ROWS empties it (cheaply) at the end of each transaction that used it.
    _execute(
        conn,
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
        f"SELECT {names}, 0 AS _n FROM {_q(table.name)} WITH NO DATA",
    )
    _execute(conn, f"DELETE FROM {stage}")  # used before in this transaction: empty again
    _copy(conn, stage, [*columns, "_n"], _tuples(conn, table, columns, rows, copying=True, numbered=True))
    return stage


def _copy(conn: Connection, target: str, columns: list[str], values: Sequence[Sequence[Any]]) -> None:
    """COPY `values` into `target` (quoted) in the connection's transaction; a failure is raised as
    SQLAlchemy raises a failed statement (IntegrityError, DataError, ...)."""
    sql = f"COPY {target} ({', '.join(map(_q, columns))}) FROM STDIN"
    cursor = conn.connection.cursor()
    try:
        with cursor.copy(sql) as copy:
            for row in values:
                copy.write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc
    finally:
        cursor.close()


def _execute(conn: Connection, sql: str) -> None:
    conn.exec_driver_sql(sql)


def _tuples(
    conn: Connection,
    table: Table,
    columns: list[str],
    rows: Sequence[Any],
    copying: bool = False,
    numbered: bool = False,
    bound: Collection[str] = (),
) -> list[tuple[Any, ...]]:
    """The rows' values in `columns` order (rows are dicts, or tuples in that order already), each
    converted as its column binds it (only the columns whose type converts and whose values are not
    `bound` already: a fan-out writes thousands of rows a batch), for COPY when `copying`, each
    followed by its position in `rows` when `numbered`."""
    dialect = conn.dialect
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for index, column in enumerate(columns):
        if column in bound:
            continue
        processor = _bind_processor(table.c[column].type, dialect, copying)
        if processor is not None:
            converters.append((index, processor))
    values_of: Callable[[Any], tuple[Any, ...]]
    if rows and isinstance(rows[0], tuple):
        values_of = tuple
    elif len(columns) > 1:
        values_of = itemgetter(*columns)
    else:
        values_of = lambda row: (row[columns[0]],)  # noqa: E731
    if not converters and not numbered:
        return [values_of(row) for row in rows]
    result: list[tuple[Any, ...]] = []
    for n, row in enumerate(rows):
        values = list(values_of(row))
        for index, convert in converters:
            values[index] = convert(values[index])
        if numbered:
            values.append(n)
        result.append(tuple(values))
    return result


def _bind_processor(column_type: Any, dialect: Dialect, copying: bool = False) -> Callable[[Any], Any] | None:
    """As the column's own dialect type binds a value (SQLite: DATETIME written with its microseconds,
    as SQLAlchemy writes it elsewhere; the generic type left a whole second as "…:10", which sorts
    before "…:10.000000" when SQLite compares times as text). Times are written as text, each distinct
    time once (a batch's rows mostly share their times): on SQLite as above, for PostgreSQL's COPY as
    ISO 8601 with the offset (the driver's own formatting of a time costs more than the rest of a
    row)."""
    if isinstance(column_type, Money) and dialect.name == "postgresql":
        return None  # a Decimal is bound as it is there (Money.process_bind_param): no call per value
    if isinstance(column_type, UTCDateTime):
        if dialect.name == "sqlite":
            return _once_each(UTCDateTime.sqlite_text)
        if copying:
            as_utc = column_type.dialect_impl(dialect).bind_processor(dialect)
            assert as_utc is not None
            return _once_each(lambda value: as_utc(value).isoformat())
    processor: Callable[[Any], Any] | None = column_type.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _once_each(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert`, called once per distinct value (None stays None); for one batch's values."""
    done: dict[Any, Any] = {}

    def converted(value: Any) -> Any:
        if value is None:
            return None
        found = done.get(value)
        if found is None:
            found = done[value] = convert(value)
        return found

    return converted


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _q(name: str) -> str:
    return f'"{name}"'


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """`items` in slices of at most `size`: bound the parameters of one IN (...) or VALUES list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
