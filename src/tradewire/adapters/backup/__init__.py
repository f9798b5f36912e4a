"""Backups of the database, taken while the platform trades, and restores that are checked.

SQLite: SQLite's online backup API copies the database in one step under a read snapshot, so the
copy is consistent while the trading loop writes (WAL readers do not block writers). PostgreSQL:
`pg_dump -Fc` on a snapshot exported from a REPEATABLE READ transaction, so the row counts written
beside the dump are exactly what the dump holds. Each backup `tradewire-<UTC time>.<kind>` has a
manifest `<backup>.json`: its schema revision and rows per table. `verify` restores a backup into a
scratch database (a temporary file, or a temporary PostgreSQL database) and compares the two. The
database holds API keys encrypted only; URLs in messages never show a password.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, inspect, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from tradewire.adapters.backup.basics import (
    POSTGRESQL,
    SCHEMA_ROWS,
    SQLITE,
    VERSION_TABLE,
    BackupError,
    first_line,
    kind_of,
    redacted,
    sql_counts,
)
from tradewire.adapters.backup.postgres import pg_dump, pg_restore, scratch_database
from tradewire.adapters.store.db import disposable_engine, private_dir, private_sqlite_file

_SUFFIX = {SQLITE: "sqlite3", POSTGRESQL: "pgdump"}
_NAME = re.compile(r"^tradewire-(\d{8}T\d{6}\.\d{3}Z)\.(sqlite3|pgdump)$")
_STAMP = "%Y%m%dT%H%M%S.%fZ"

__all__ = [
    "POSTGRESQL",
    "SQLITE",
    "Backup",
    "BackupError",
    "Manifest",
    "Verification",
    "backup_name",
    "backups_in",
    "kind_of",
    "manifest_path",
    "prune_backups",
    "redacted",
    "restore_backup",
    "take_backup",
    "taken_at_of",
    "verify_backup",
]


@dataclass(frozen=True)
class Manifest:
    """What a backup holds: the kind of database, when it was taken, schema revision, rows per table."""

    kind: str
    taken_at: datetime
    revision: str | None
    tables: Mapping[str, int]

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "taken_at": self.taken_at.isoformat(),
                "revision": self.revision,
                "tables": dict(sorted(self.tables.items())),
            },
            indent=2,
        )

    @classmethod
    def read(cls, backup: Path) -> Manifest:
        path = manifest_path(backup)
        try:
            data = json.loads(path.read_text())
            return cls(
                kind=str(data["kind"]),
                taken_at=datetime.fromisoformat(data["taken_at"]),
                revision=data["revision"],
                tables={str(k): int(v) for k, v in data["tables"].items()},
            )
        except FileNotFoundError as exc:
            raise BackupError(
                f"{backup}: its manifest {path.name} is missing (an incomplete backup?)"
            ) from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupError(f"{path}: not a tradewire backup manifest ({exc})") from exc


@dataclass(frozen=True)
class Backup:
    """A backup file and its manifest."""

    path: Path
    manifest: Manifest


@dataclass(frozen=True)
class Verification:
    """A backup restored into a scratch database and compared with its manifest."""

    manifest: Manifest
    found_revision: str | None
    found: Mapping[str, int]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".json")


def backup_name(kind: str, taken_at: datetime) -> str:
    stamp = taken_at.astimezone(UTC).strftime(_STAMP)
    return f"tradewire-{stamp[:-4]}Z.{_SUFFIX[kind]}"  # milliseconds: %f gives microseconds


def taken_at_of(path: Path) -> datetime | None:
    """The UTC time in a backup's file name; None for a file that is not one of our backups."""
    match = _NAME.match(path.name)
    if match is None:
        return None
    return datetime.strptime(match.group(1)[:-1] + "000Z", _STAMP).replace(tzinfo=UTC)


def backups_in(directory: Path) -> list[Path]:
    """Our backup files in `directory`, newest first."""
    if not directory.is_dir():
        return []
    found = [(taken_at_of(p), p) for p in directory.iterdir() if p.is_file()]
    return [p for when, p in sorted(((w, p) for w, p in found if w is not None), reverse=True)]


# -- taking a backup --------------------------------------------------------------------------------


def take_backup(url: str, directory: Path, now: datetime) -> Backup:
    """Back up the database at `url` into `directory` (created owner-only); the file is written under a
    temporary name and renamed once complete, then its manifest beside it."""
    with _database_errors(url):
        return _take_backup(url, directory, now)


def _take_backup(url: str, directory: Path, now: datetime) -> Backup:
    kind = kind_of(url)
    private_dir(directory)
    target = directory / backup_name(kind, now)
    if target.exists():
        raise BackupError(f"{target} exists already")
    partial = directory / f".{target.name}.partial"
    try:
        if kind == SQLITE:
            tables, revision = _sqlite_backup(_sqlite_path(url, must_exist=True), partial)
        else:
            tables, revision = pg_dump(url, partial)
        _fsync(partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    manifest = Manifest(kind, now, revision, tables)
    _write_private(manifest_path(target), manifest.to_json())
    return Backup(target, manifest)


def prune_backups(
    directory: Path, keep: int, max_age: timedelta | None, now: datetime, protect: Path | None = None
) -> list[Path]:
    """Remove backups beyond the newest `keep` and those older than `max_age` (never `protect`, the one
    just taken); returns the removed files."""
    removed = []
    for position, path in enumerate(backups_in(directory)):
        when = taken_at_of(path)
        assert when is not None
        too_many = position >= keep
        too_old = max_age is not None and now - when > max_age
        if path != protect and (too_many or too_old):
            path.unlink(missing_ok=True)
            manifest_path(path).unlink(missing_ok=True)
            removed.append(path)
    return removed


def _sqlite_backup(source: Path, destination: Path) -> tuple[dict[str, int], str | None]:
    with _sqlite(source) as src, _sqlite(destination, create=True) as dst:
        src.backup(dst)  # all pages in one step: one read snapshot, however busy the writers are
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        return _sqlite_counts(dst)


@contextlib.contextmanager
def _sqlite(path: Path, create: bool = False) -> Iterator[sqlite3.Connection]:
    if create:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
    connection = sqlite3.connect(path, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


def _sqlite_counts(connection: sqlite3.Connection) -> tuple[dict[str, int], str | None]:
    names = [
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    tables = {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    revision = None
    if VERSION_TABLE in tables:
        row = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        revision = row[0] if row else None
    return tables, revision


# -- restoring ------------------------------------------------------------------------------------


def restore_backup(backup: Path, url: str, force: bool = False) -> Verification | None:
    """Restore `backup` into the database at `url`. A database holding any rows is refused unless
    `force`. Returns the restored database compared with the backup's manifest (None without one)."""
    with _database_errors(url):
        return _restore_backup(backup, url, force)


def _restore_backup(backup: Path, url: str, force: bool) -> Verification | None:
    kind = _backup_kind(backup)
    if kind != kind_of(url):
        raise BackupError(f"{backup.name} is a {kind} backup; the database at {redacted(url)} is not {kind}")
    manifest = _manifest_or_none(backup)
    holding = _rows_held(url)
    if holding and not force:
        listed = ", ".join(f"{count} {name}" for name, count in sorted(holding.items()) if count)
        raise BackupError(
            f"the database at {redacted(url)} is not empty ({listed}); stop the server and use --force "
            f"to replace it"
        )
    if kind == SQLITE:
        target = _sqlite_path(url, must_exist=False)
        private_sqlite_file(target)
        with _sqlite(backup) as src, contextlib.closing(sqlite3.connect(target, timeout=30)) as dst:
            src.backup(dst)  # replaces every page of the target, under its write lock
            tables, revision = _sqlite_counts(dst)
    else:
        pg_restore(backup, url)
        with _server_connection(url) as connection:
            if manifest is not None:
                _drop_tables_not_in(connection, manifest.tables)
            tables, revision = sql_counts(connection)
    return None if manifest is None else _compare(manifest, tables, revision)


def verify_backup(backup: Path, server_url: str | None = None) -> Verification:
    """Restore `backup` into a scratch database and compare it with its manifest. A PostgreSQL backup
    is restored into a temporary database on the server at `server_url` (created and dropped)."""
    with _database_errors(server_url or "sqlite://"):
        return _verify_backup(backup, server_url)


def _verify_backup(backup: Path, server_url: str | None) -> Verification:
    kind = _backup_kind(backup)
    manifest = Manifest.read(backup)
    if kind == SQLITE:
        with tempfile.TemporaryDirectory(prefix="tradewire-verify-") as scratch:
            copy = Path(scratch) / "restored.db"
            with _sqlite(backup) as src, _sqlite(copy, create=True) as dst:
                src.backup(dst)
                problems = [
                    f"integrity check: {row[0]}"
                    for row in dst.execute("PRAGMA quick_check")
                    if row[0] != "ok"
                ]
                tables, revision = _sqlite_counts(dst)
        verification = _compare(manifest, tables, revision)
        verification.problems.extend(problems)
        return verification
    if server_url is None or kind_of(server_url) != POSTGRESQL:
        raise BackupError("verifying a PostgreSQL backup needs a PostgreSQL server (TRADEWIRE_DATABASE_URL)")
    with scratch_database(server_url) as scratch_url:
        pg_restore(backup, scratch_url)
        with _server_connection(scratch_url) as connection:
            tables, revision = sql_counts(connection)
    return _compare(manifest, tables, revision)


def _compare(manifest: Manifest, tables: Mapping[str, int], revision: str | None) -> Verification:
    problems = []
    if revision != manifest.revision:
        problems.append(f"schema revision {revision!r}, the backup says {manifest.revision!r}")
    for name in sorted(set(manifest.tables) | set(tables)):
        expected, found = manifest.tables.get(name), tables.get(name)
        if expected is None:
            problems.append(f"table {name}: not in the backup's manifest")
        elif found is None:
            problems.append(f"table {name}: missing ({expected} rows expected)")
        elif found != expected:
            problems.append(f"table {name}: {found} rows, {expected} expected")
    return Verification(manifest, revision, dict(tables), problems)


def _rows_held(url: str) -> dict[str, int]:
    """Rows per table of the database at `url` other than the schema revision (empty: none)."""
    if kind_of(url) == SQLITE:
        path = _sqlite_path(url, must_exist=False)
        if not path.exists() or path.stat().st_size == 0:
            return {}
        with _sqlite(path) as connection:
            tables, _ = _sqlite_counts(connection)
    else:
        with _server_connection(url) as connection:
            tables, _ = sql_counts(connection)
    return {name: count for name, count in tables.items() if count and name not in SCHEMA_ROWS}


@contextlib.contextmanager
def _server_connection(url: str) -> Iterator[Connection]:
    """A connection to the database at `url` (PostgreSQL), its engine disposed of afterwards."""
    engine = disposable_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _drop_tables_not_in(connection: Connection, keep: Mapping[str, int]) -> None:
    """A forced restore over a newer schema: tables the backup does not have go too."""
    extra = [name for name in inspect(connection).get_table_names() if name not in keep]
    if extra:
        with connection.begin():
            for name in extra:
                connection.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))


# -- files ------------------------------------------------------------------------------------------


def _backup_kind(backup: Path) -> str:
    if not backup.is_file():
        raise BackupError(f"{backup}: no such backup file")
    if backup.suffix == ".pgdump":
        return POSTGRESQL
    if backup.suffix == ".sqlite3":
        return SQLITE
    with backup.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(b"SQLite format 3"):
        return SQLITE
    if head.startswith(b"PGDMP"):
        return POSTGRESQL
    raise BackupError(f"{backup}: neither a SQLite database nor a pg_dump archive")


def _manifest_or_none(backup: Path) -> Manifest | None:
    try:
        return Manifest.read(backup)
    except BackupError:
        return None


def _sqlite_path(url: str, must_exist: bool) -> Path:
    database = make_url(url).database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"{redacted(url)}: not a SQLite database file")
    path = Path(database)
    if must_exist and not path.is_file():
        raise BackupError(f"no database at {path}")
    return path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private(path: Path, content: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)


@contextlib.contextmanager
def _database_errors(url: str) -> Iterator[None]:
    """A database that cannot be reached or read: one line naming it (never its password)."""
    try:
        yield
    except (SQLAlchemyError, sqlite3.Error) as exc:
        cause = getattr(exc, "orig", None) or exc  # the driver's own words, not SQLAlchemy's wrapping
        raise BackupError(f"database at {redacted(url)}: {first_line(cause)}") from exc
    except OSError as exc:
        raise BackupError(str(exc)) from exc
