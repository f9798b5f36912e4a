"""PostgreSQL backups through its client tools: `pg_dump -Fc` on an exported snapshot, `pg_restore` in
one transaction, scratch databases to verify into. Passwords travel in the environment, never argv."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, make_url, text
from sqlalchemy.engine import URL

from tradewire.adapters.backup.basics import BackupError, first_line, redacted, sql_counts
from tradewire.adapters.store.db import disposable_engine


def pg_dump(url: str, destination: Path) -> tuple[dict[str, int], str | None]:
    tool = _pg_tool("pg_dump")
    engine = disposable_engine(url)
    try:
        with engine.connect() as connection:
            _check_versions(connection, tool, url)
        repeatable = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with repeatable as connection, connection.begin():
            # pg_dump reads the very snapshot these counts come from: the manifest matches the dump.
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tables, revision = sql_counts(connection)
            _run(tool, ["--format=custom", f"--snapshot={snapshot}", f"--file={destination}"], url)
    finally:
        engine.dispose()
    destination.chmod(0o600)
    return tables, revision


def pg_restore(backup: Path, url: str) -> None:
    tool = _pg_tool("pg_restore")
    # --clean --if-exists: a forced restore replaces what the dump holds; one transaction: all or nothing.
    options = ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction"]
    _run(tool, [*options, "--exit-on-error"], url, backup)


@contextlib.contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    name = f"tradewire_verify_{secrets.token_hex(6)}"
    admin = disposable_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        raise BackupError(
            f"cannot create a scratch database on {redacted(server_url)} to verify into: "
            f"{first_line(exc)} (the role needs CREATEDB)"
        ) from exc
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- the client tools ---------------------------------------------------------------------------


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client tools of the server's version "
            f"(Debian: apt-get install postgresql-client)"
        )
    return found


def _check_versions(connection: Connection, tool: str, url: str) -> None:
    """pg_dump refuses a server newer than itself; say so before it starts."""
    server = int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    output = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    match = re.search(r"(\d+)(?:\.\d+)?", output)
    client = int(match.group(1)) if match else 0
    if client < server:
        raise BackupError(
            f"pg_dump is version {client} but the server at {redacted(url)} runs PostgreSQL {server}: "
            f"install postgresql-client-{server} (or newer) and put its pg_dump first on PATH"
        )


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string for the client tools, and the environment carrying the password
    (never on the command line, where `ps` would show it)."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(tool: str, options: list[str], url: str, archive: Path | None = None) -> None:
    connection, env = _libpq(url)
    argv = [tool, *options, f"--dbname={connection}", *([str(archive)] if archive else [])]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if done.returncode != 0:
        message = " ".join(done.stderr.split())[-800:] or f"exit code {done.returncode}"
        raise BackupError(f"{Path(tool).name} failed on {redacted(url)}: {message}")
