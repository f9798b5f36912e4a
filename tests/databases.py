"""Databases for tests: migrated ones copied from a template migrated once per test process (a file
copy for SQLite, `CREATE DATABASE ... TEMPLATE` for PostgreSQL) instead of migrating each one, and
another database of the same kind as a test's engine (a new SQLite file, or a new PostgreSQL database
on the same server, dropped afterwards) for tests that copy data from one database to another."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from tradewire.adapters.store.db import (
    MIGRATIONS_DIR,
    disposable_engine,
    make_engine,
    private_dir,
    upgrade,
    write_transaction,
)


@functools.cache
def _sqlite_template() -> Path:
    """A SQLite file at the schema's head, made by `upgrade` once per test process (removed at exit)."""
    directory = Path(tempfile.mkdtemp(prefix="tradewire-template-"))
    atexit.register(shutil.rmtree, directory, True)
    path = directory / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:  # everything in the file itself, nothing left in its -wal
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def migrated_sqlite_file(path: Path) -> None:
    """A SQLite database at `path` (which must not exist) at the schema's head, as `upgrade` leaves a
    new file: a copy of the process's template, private like the files the server creates."""
    private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out, _sqlite_template().open("rb") as template:
        shutil.copyfileobj(template, out)


@contextmanager
def postgres_template(admin_url: str, name: str) -> Iterator[str]:
    """A PostgreSQL database `name` at the schema's head, migrated once, to create others from with
    `CREATE DATABASE ... TEMPLATE` (nobody may be connected to it then); dropped afterwards."""
    admin = disposable_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        engine = make_engine(admin_url.rsplit("/", 1)[0] + f"/{name}")
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # no connection left: PostgreSQL copies only an unused template
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sibling_database(engine: Engine, directory: Path, suffix: str = "copy") -> Iterator[str]:
    """The URL of an empty database beside `engine`'s (nothing created in it)."""
    if engine.dialect.name == "sqlite":
        yield f"sqlite:///{directory / f'{suffix}.db'}"
        return
    url = engine.url.render_as_string(hide_password=False)
    server, name = url.rsplit("/", 1)[0], f"{engine.url.database}_{suffix}"
    admin = disposable_engine(f"{server}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def downgrade_to(engine: Engine, revision: str) -> None:
    """The database's schema back to migration `revision` (alembic's downgrade, in one transaction);
    `upgrade` brings it to the head again."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with write_transaction(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
