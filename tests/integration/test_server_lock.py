"""One server per database, on SQLite and PostgreSQL: a second server refuses to start while the first
holds the database, starts once it stopped, and once it was killed (kill -9 frees the lock: the kernel
closes the file, PostgreSQL ends the session); commands beside a running server are not held up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tradewire.adapters.store.server_lock import ServerLock, ServerRunning

HOLDER = textwrap.dedent(
    """
    import sys, time
    from tradewire.adapters.store.db import make_engine
    from tradewire.adapters.store.server_lock import ServerLock
    lock = ServerLock(make_engine(sys.argv[1]))
    lock.take()
    print("held", flush=True)
    time.sleep(60)
    """
)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_a_second_server_is_refused_until_the_first_stops(engine: Engine) -> None:
    first, second = ServerLock(engine), ServerLock(engine)
    first.take()
    first.take()  # again: nothing

    with pytest.raises(ServerRunning, match="another tradewire server"):
        second.take()
    assert first.held and not second.held
    with engine.connect() as conn:  # commands beside the server still read and write
        assert conn.execute(text("SELECT 1")).scalar() == 1

    first.release()
    second.take()
    assert second.held
    second.release()


def test_a_killed_server_frees_the_database(engine: Engine) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, _url(engine)], stdout=subprocess.PIPE, text=True, env=os.environ
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(ServerRunning):
            ServerLock(engine).take()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)

        after = ServerLock(engine)
        deadline = time.monotonic() + 10
        while True:  # PostgreSQL notices the closed connection at once; allow it a moment anyway
            try:
                after.take()
                break
            except ServerRunning:
                assert time.monotonic() < deadline, "the lock of a killed server was not freed"
                time.sleep(0.1)
        after.release()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_the_sqlite_lock_says_which_process_holds_it(tmp_path: Path, sqlite_engine: Engine) -> None:
    first = ServerLock(sqlite_engine)
    first.take()

    with pytest.raises(ServerRunning, match=f"pid {os.getpid()}"):
        ServerLock(sqlite_engine).take()
    first.release()


def test_a_restart_that_overlaps_the_last_moments_of_the_previous_server_waits_for_it(
    sqlite_engine: Engine,
) -> None:
    import threading

    first = ServerLock(sqlite_engine)
    first.take()
    threading.Timer(0.5, first.release).start()  # the previous server ends half a second later

    second = ServerLock(sqlite_engine)
    started = time.monotonic()
    second.take(wait_s=5)

    assert second.held and 0.4 < time.monotonic() - started < 5
    second.release()
    third = ServerLock(sqlite_engine)
    third.take()
    with pytest.raises(ServerRunning):
        ServerLock(sqlite_engine).take(wait_s=0.3)
    third.release()
