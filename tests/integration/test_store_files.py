"""The SQLite database holds password hashes and sealed API keys: its files and folder are the
owner's alone, whatever the umask, and files an older version left readable are narrowed."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.owned import seed_user
from tests.support import make_runtime


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022): what makes files world-readable unless they are created private."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_new_database_and_its_folder_are_private(tmp_path: Path, open_umask: None) -> None:
    # SQLite under tmp_path/var, created and migrated as `tradewire serve` does
    runtime = make_runtime(tmp_path, fresh_database=True)
    seed_user(runtime, "alice")  # writes: the -wal and -shm files exist while connections are open
    var = tmp_path / "var"
    database = var / "tradewire.db"
    assert _mode(var) == 0o700
    assert _mode(database) == 0o600
    side_files = [p for p in (Path(f"{database}-wal"), Path(f"{database}-shm")) if p.exists()]
    assert side_files, "WAL mode keeps its side files while the engine is open"
    for path in side_files:
        assert _mode(path) == 0o600, path
    runtime.engine.dispose()


def test_files_left_readable_by_an_older_version_are_narrowed(tmp_path: Path, open_umask: None) -> None:
    first = make_runtime(tmp_path, fresh_database=True)
    first.engine.dispose()
    database = tmp_path / "var" / "tradewire.db"
    database.chmod(0o644)
    second = make_runtime(tmp_path)  # a restart
    assert _mode(database) == 0o600
    second.engine.dispose()
