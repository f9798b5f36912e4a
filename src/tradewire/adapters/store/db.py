"""Engines and migrations: SQLite in WAL mode by default, PostgreSQL through the URL."""

from __future__ import annotations

import logging
import os
import stat
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.pool import NullPool

from tradewire.ports.events import EventNotifier

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_WRITE_OPTION = "tradewire_write"
log = logging.getLogger("tradewire.db")


def private_dir(path: Path) -> None:
    """Create `path` (and missing parents) readable by its owner only; an existing one is left alone."""
    if not path.exists():
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        path.chmod(0o700)  # mkdir's mode is cut by the umask; never widened by it


def private_sqlite_file(path: Path) -> None:
    """The database file created 0600 before SQLite opens it (its -wal and -shm copy the file's mode);
    files an older version left readable by others are narrowed to their owner."""
    private_dir(path.parent)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
            if mode & 0o077:
                file.chmod(mode & 0o700)
        except FileNotFoundError:
            continue
        except OSError as exc:  # not ours to change: say so, keep going
            log.warning("cannot make %s private: %s", file, exc)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and foreign keys, and its folder created."""
    if url.startswith("sqlite"):
        path = make_url(url).database or ""
        if path and path != ":memory:" and not path.startswith("file:"):
            private_sqlite_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; SQLAlchemy's begin hook opens txns
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE) so that they queue on busy_timeout
    # instead of failing when a read-then-write transaction cannot upgrade its lock. Readers don't.
    immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class SqlTables:
    """A part of the SQL store: its methods share one engine, and each runs one transaction; the
    events a transaction writes are announced to `notifier` once it has committed."""

    def __init__(self, engine: Engine, notifier: EventNotifier | None = None) -> None:
        self.engine = engine
        self.notifier = notifier


def write_transaction(engine: Engine) -> AbstractContextManager[Connection]:
    """A transaction that will write: on SQLite it holds the write lock from its first statement."""
    return engine.execution_options(**{_WRITE_OPTION: True}).begin()


# pg_advisory_xact_lock's key while migrating: "tw-migra" in ASCII.
MIGRATION_LOCK_KEY = int.from_bytes(b"tw-migra", "big")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` with Alembic."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with write_transaction(engine) as connection:
        if engine.dialect.name == "postgresql":
            # Processes starting together (an API process and workers) migrate one after the other;
            # the later ones find the schema at head. SQLite's write transaction already serialises.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def disposable_engine(url: str) -> Engine:
    """An engine without a pool, for one-off tools (CLI commands, tests)."""
    return make_engine(url, poolclass=NullPool)
