"""Backups on SQLite and PostgreSQL: what a backup holds, checked restores, refusals, retention, and
error messages that name the problem without showing a password."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.databases import sibling_database
from tests.seeding import now
from tests.support import seed_marketplace
from tradewire.adapters.backup import (
    BackupError,
    backup_name,
    backups_in,
    manifest_path,
    prune_backups,
    restore_backup,
    take_backup,
    taken_at_of,
    verify_backup,
)
from tradewire.adapters.store.db import disposable_engine, upgrade

T0 = datetime(2025, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _usernames(url: str) -> list[str]:
    engine = disposable_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT username FROM users ORDER BY username")).scalars())
    finally:
        engine.dispose()


@pytest.fixture
def empty_url(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """Another, empty database of the same kind as `engine` (a new file or a new PostgreSQL database)."""
    with sibling_database(engine, tmp_path, "restored") as url:
        yield url


def test_a_backup_restores_into_an_empty_database_with_every_row(
    engine: Engine, empty_url: str, tmp_path: Path
) -> None:
    seeded = seed_marketplace(engine, [{}, {}])

    backup = take_backup(_url(engine), tmp_path / "backups", T0)
    report = restore_backup(backup.path, empty_url)

    assert backup.path.name == backup_name(backup.manifest.kind, T0)
    assert backup.manifest.tables["subscriptions"] == 2
    assert backup.manifest.revision is not None
    assert report is not None and report.ok, report.problems
    assert report.found == backup.manifest.tables
    assert _usernames(empty_url) == _usernames(_url(engine))
    assert len(_usernames(empty_url)) == 3 and seeded.strategy_id > 0


def test_backup_files_are_private_and_named_by_their_utc_time(engine: Engine, tmp_path: Path) -> None:
    backup = take_backup(_url(engine), tmp_path / "backups", T0)

    for path in (backup.path, manifest_path(backup.path), backup.path.parent):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert taken_at_of(backup.path) == T0.replace(microsecond=250_000)
    assert backup.path.name.startswith("tradewire-20250301T120000.250Z.")
    assert not [p for p in backup.path.parent.iterdir() if p.name.endswith(".partial")]


def test_verify_restores_into_a_scratch_database_and_reports_each_difference(
    engine: Engine, tmp_path: Path
) -> None:
    seed_marketplace(engine, [{}])
    backup = take_backup(_url(engine), tmp_path / "backups", T0)
    assert verify_backup(backup.path, _url(engine)).ok

    manifest = json.loads(manifest_path(backup.path).read_text())
    manifest["tables"]["users"] += 1
    manifest["tables"].pop("orders")
    manifest["revision"] = "0001"
    manifest_path(backup.path).write_text(json.dumps(manifest))
    verification = verify_backup(backup.path, _url(engine))

    assert not verification.ok
    assert "table users: 2 rows, 3 expected" in verification.problems
    assert "table orders: not in the backup's manifest" in verification.problems
    assert any(p.startswith("schema revision") for p in verification.problems)


def test_a_backup_without_its_manifest_is_not_verified(engine: Engine, tmp_path: Path) -> None:
    backup = take_backup(_url(engine), tmp_path / "backups", T0)
    manifest_path(backup.path).unlink()

    with pytest.raises(BackupError, match=r"manifest .* is missing"):
        verify_backup(backup.path, _url(engine))


def test_restore_refuses_a_database_holding_data_unless_forced(
    engine: Engine, empty_url: str, tmp_path: Path
) -> None:
    seed_marketplace(engine, [{}])
    backup = take_backup(_url(engine), tmp_path / "backups", T0)
    target = disposable_engine(empty_url)
    upgrade(target)
    seed_marketplace(target, [{}, {}, {}], slug="other")
    target.dispose()
    before = _usernames(empty_url)

    with pytest.raises(BackupError, match=r"not empty \(.*4 users.*\).*--force"):
        restore_backup(backup.path, empty_url)
    assert _usernames(empty_url) == before

    report = restore_backup(backup.path, empty_url, force=True)
    assert report is not None and report.ok, report.problems
    assert _usernames(empty_url) == _usernames(_url(engine))


def test_an_empty_schema_is_restored_over_without_force(
    engine: Engine, empty_url: str, tmp_path: Path
) -> None:
    seed_marketplace(engine, [{}])
    backup = take_backup(_url(engine), tmp_path / "backups", T0)
    target = disposable_engine(empty_url)
    upgrade(target)  # tables, but no rows: what a server's first start leaves
    target.dispose()

    report = restore_backup(backup.path, empty_url)

    assert report is not None and report.ok, report.problems


def test_a_backup_of_one_kind_is_not_restored_into_the_other(engine: Engine, tmp_path: Path) -> None:
    backup = take_backup(_url(engine), tmp_path / "backups", T0)
    other = (
        "postgresql+psycopg://u@127.0.0.1:1/x"
        if engine.dialect.name == "sqlite"
        else f"sqlite:///{tmp_path / 'x.db'}"
    )

    with pytest.raises(BackupError, match=r"backup; the database at .* is not"):
        restore_backup(backup.path, other)


def test_retention_keeps_the_newest_and_drops_the_old(tmp_path: Path) -> None:
    directory = tmp_path / "backups"
    directory.mkdir()
    times = [T0 - timedelta(days=d) for d in (0, 1, 2, 10, 30)]
    for when in times:
        path = directory / backup_name("sqlite", when)
        path.write_bytes(b"x")
        manifest_path(path).write_text("{}")
    (directory / "notes.txt").write_text("not a backup")

    removed = prune_backups(directory, keep=3, max_age=None, now=T0)
    assert [taken_at_of(p) for p in removed] == [times[3], times[4]]
    assert [taken_at_of(p) for p in backups_in(directory)] == times[:3]
    assert not manifest_path(removed[0]).exists()

    newest = backups_in(directory)[0]
    later = T0 + timedelta(days=5)
    removed = prune_backups(directory, keep=10, max_age=timedelta(hours=12), now=later, protect=newest)
    assert [taken_at_of(p) for p in removed] == [times[1], times[2]]  # the one just taken stays
    assert backups_in(directory) == [newest]
    assert (directory / "notes.txt").exists()


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_pg_errors_name_the_server_without_its_password(engine: Engine, tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/nowhere"

    with pytest.raises(BackupError) as raised:
        take_backup(url, tmp_path / "backups", T0)

    assert "s3cret-pw" not in str(raised.value)
    assert "127.0.0.1:1/nowhere" in str(raised.value) or "nowhere" in str(raised.value)


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_pg_dump_older_than_the_server_is_refused_with_what_to_install(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "bin"
    tools.mkdir()
    fake = tools / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")

    with pytest.raises(BackupError, match=r"pg_dump is version 9 but .* runs PostgreSQL \d+: install"):
        take_backup(_url(engine), tmp_path / "backups", T0)
    assert backups_in(tmp_path / "backups") == []


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_without_pg_dump_the_error_says_what_to_install(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(BackupError, match="pg_dump not found: install"):
        take_backup(_url(engine), tmp_path / "backups", T0)


def test_restored_rows_keep_their_values(engine: Engine, empty_url: str, tmp_path: Path) -> None:
    seeded = seed_marketplace(engine, [{"sizing_value": "123.456789"}])
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE subscriptions SET updated_at = :t WHERE id = :i"),
            {"t": now(), "i": seeded.subscription_ids[0]},
        )
        source = connection.execute(text("SELECT sizing_value, updated_at FROM subscriptions")).one()

    backup = take_backup(_url(engine), tmp_path / "backups", T0)
    restore_backup(backup.path, empty_url)

    restored = disposable_engine(empty_url)
    with restored.connect() as connection:
        assert connection.execute(text("SELECT sizing_value, updated_at FROM subscriptions")).one() == source
    restored.dispose()
