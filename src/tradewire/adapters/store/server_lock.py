"""One trading process per database: a second `tradewire serve` on the same database refuses to
start, and of several `tradewire worker`s one is active while the others wait for the lock.

The paper venue keeps its wallets in the trading process's memory and writes them back whole, so two
would overwrite each other's paper balances, and each would run its own monitor and strategy runner
over every account. API processes (TRADEWIRE_ROLE=api) trade nothing and do not take the lock;
commands (`db`, `user`, exports, backups) do not either: they work beside the server.

PostgreSQL: a session-level advisory lock, held on a connection of its own for the server's life
(released by PostgreSQL when the process dies, even by kill -9). SQLite: an exclusive `flock` on a
file beside the database (released by the kernel when the process dies).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.engine import make_url

# pg_advisory_lock's 64-bit key: "tradewir" in ASCII.
LOCK_KEY = int.from_bytes(b"tradewir", "big") & (2**63 - 1)


class ServerRunning(RuntimeError):
    """Another server holds this database."""


class ServerLock:
    """Taken when a server starts (`take`), given back when it stops (`release`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def take(self, wait_s: float = 0.0) -> None:
        """Hold the database for this process (again: nothing); ServerRunning when another still
        holds it after `wait_s` (a restart may overlap the previous server's last moments)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self._take()
                return
            except ServerRunning:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def _take(self) -> None:
        if self.held:
            return
        if self._engine.dialect.name == "postgresql":
            self._take_postgres()
        elif self._engine.dialect.name == "sqlite":
            self._take_sqlite()

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(select(func.pg_advisory_unlock(LOCK_KEY)))
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._file is not None:
            self._file.close()  # closing the file drops its flock
            self._file = None

    def _take_postgres(self) -> None:
        conn = session_lock(self._engine, func.pg_try_advisory_lock(LOCK_KEY))
        if conn is None:
            raise ServerRunning(
                "another tradewire server (or partitioned workers) holds this PostgreSQL database; two "
                "trading servers on one database would overwrite each other's paper balances: stop it first"
            )
        self._conn = conn

    def _take_sqlite(self) -> None:
        import fcntl

        path = _sqlite_path(self._engine)
        if path is None:
            return  # an in-memory database belongs to this process alone
        lock_path = path.with_name(path.name + ".server.lock")
        handle = lock_path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()[:20]
            handle.close()
            raise ServerRunning(
                f"another tradewire server (pid {holder or 'unknown'}) is running on {path}; two on one "
                "database are not supported (paper balances are kept in each server's memory): stop it "
                "first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle


def session_lock(engine: Engine, try_lock: Any) -> Connection | None:
    """A connection of its own holding the session-level advisory lock `try_lock` (a pg_try_advisory_lock
    call) takes, or None when another session holds it."""
    conn = engine.connect()
    try:
        got = bool(conn.execute(select(try_lock)).scalar())
        conn.commit()  # the lock is the session's: no transaction stays open
    except Exception:
        conn.close()
        raise
    if not got:
        conn.close()
        return None
    return conn


def _sqlite_path(engine: Engine) -> Path | None:
    url: Any = make_url(str(engine.url))
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()
