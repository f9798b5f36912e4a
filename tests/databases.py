"""Another database of the same kind as a test's engine: a new SQLite file, or a new PostgreSQL database
on the same server (dropped afterwards). For tests that copy data from one database to another."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from tradewire.adapters.store.db import disposable_engine


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
