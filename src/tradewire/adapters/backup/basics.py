"""What backups of both kinds share: the error, the database kinds, row counts, safe messages."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, make_url, text

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
VERSION_TABLE = "alembic_version"
# Tables whose rows the migrations themselves write (the platform's trading state, one row): a freshly
# migrated database holds them and is still empty of anything a restore could lose.
SCHEMA_ROWS = frozenset({VERSION_TABLE, "platform_trading"})


class BackupError(Exception):
    """A backup, restore or verification that cannot be done; the message says why and what to do."""


def kind_of(url: str) -> str:
    """SQLITE or POSTGRESQL for a database URL; BackupError for anything else."""
    backend = make_url(url).get_backend_name()
    if backend in (SQLITE, POSTGRESQL):
        return backend
    raise BackupError(f"cannot back up a {backend} database (SQLite and PostgreSQL only)")


def redacted(url: str) -> str:
    """The URL as it may be shown or logged: without its password."""
    return make_url(url).render_as_string(hide_password=True)


def sql_counts(connection: Connection) -> tuple[dict[str, int], str | None]:
    names = sorted(inspect(connection).get_table_names())
    tables = {
        name: int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()) for name in names
    }
    revision = None
    if VERSION_TABLE in tables:
        revision = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return tables, revision


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
