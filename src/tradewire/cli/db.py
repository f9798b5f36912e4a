"""`tradewire db backup`, `db restore` and `db verify`: backups taken while trading, checked restores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tradewire.cli.common import db_app, fail, settings_or_exit

if TYPE_CHECKING:
    from tradewire.adapters.backup import Verification


@db_app.command("backup")
def db_backup(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="where backups go (default: TRADEWIRE_BACKUP_DIR, var/backups)"),
    ] = None,
    keep: Annotated[
        int | None, typer.Option(min=1, help="backups kept, newest first (default: TRADEWIRE_BACKUP_KEEP, 7)")
    ] = None,
    max_age_days: Annotated[
        float | None,
        typer.Option(min=0, help="remove backups older than this many days; 0: no age limit (default)"),
    ] = None,
    verify: Annotated[
        bool, typer.Option(help="restore the new backup into a scratch database and compare row counts")
    ] = False,
) -> None:
    """Back up the database, even while the platform trades; remove old backups.

    SQLite: an online backup; PostgreSQL: pg_dump. Backups beyond --keep, and older than
    --max-age-days, are removed afterwards.
    """
    from datetime import UTC, datetime, timedelta

    from tradewire.adapters.backup import BackupError, prune_backups, take_backup

    settings = settings_or_exit()
    url = settings.effective_database_url
    target = directory or settings.effective_backup_dir
    now = datetime.now(UTC)
    try:
        backup = take_backup(url, target, now)
    except BackupError as exc:
        fail(str(exc), 1)
    manifest = backup.manifest
    typer.echo(
        f"backup written: {backup.path} ({manifest.rows} rows in {len(manifest.tables)} tables, "
        f"schema {manifest.revision})"
    )
    if verify:
        _verified(backup.path, url)
    days = settings.backup_max_age_days if max_age_days is None else max_age_days
    removed = prune_backups(
        target,
        keep=keep or settings.backup_keep,
        max_age=timedelta(days=days) if days > 0 else None,
        now=now,
        protect=backup.path,
    )
    for path in removed:
        typer.echo(f"removed old backup {path.name}")


@db_app.command("restore")
def db_restore(
    backup: Annotated[Path, typer.Argument(help="a backup file written by `tradewire db backup`")],
    force: Annotated[
        bool, typer.Option(help="replace a database that holds data (stop the server first)")
    ] = False,
) -> None:
    """Restore a backup into the configured database (one holding data needs --force).

    The restored rows per table and the schema revision are compared with the backup's manifest.
    """
    from tradewire.adapters.backup import BackupError, restore_backup

    settings = settings_or_exit()
    try:
        verification = restore_backup(backup, settings.effective_database_url, force=force)
    except BackupError as exc:
        fail(str(exc))
    if verification is None:
        typer.echo(f"restored {backup.name} (no manifest beside it: rows not compared)")
        return
    _report(verification, f"restored {backup.name}")
    typer.echo("start the server (or run `tradewire db upgrade`) to bring the schema up to date")


@db_app.command("verify")
def db_verify(
    backup: Annotated[Path, typer.Argument(help="a backup file written by `tradewire db backup`")],
) -> None:
    """Restore a backup into a scratch database and compare it with its manifest.

    The scratch database is a temporary file, or a temporary PostgreSQL database on the configured
    server (created and dropped); rows per table and the schema revision must match.
    """
    _verified(backup, settings_or_exit().effective_database_url)


def _verified(backup: Path, url: str) -> None:
    from tradewire.adapters.backup import POSTGRESQL, BackupError, kind_of, verify_backup

    try:
        server = url if kind_of(url) == POSTGRESQL else None
    except BackupError:
        server = None
    try:
        verification = verify_backup(backup, server)
    except BackupError as exc:
        fail(str(exc), 1)
    _report(verification, f"verified {backup.name}")


def _report(verification: Verification, done: str) -> None:
    if not verification.ok:
        for problem in verification.problems:
            typer.echo(f"  {problem}", err=True)
        fail(f"{done.split()[1]} does not match its manifest ({len(verification.problems)} differences)", 1)
    manifest = verification.manifest
    typer.echo(
        f"{done}: {manifest.rows} rows in {len(manifest.tables)} tables and schema {manifest.revision} "
        f"match the backup taken {manifest.taken_at.isoformat(timespec='seconds')}"
    )
