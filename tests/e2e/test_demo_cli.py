"""A newcomer's first runs: `make run` starts a fresh demo each time (KEEP=1 keeps it), a busy port
is reported before anything is printed or reset, and PORT= is passed on."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, free_port

BIN = Path(sys.executable).with_name("tradewire")


def _env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIRE_")}
    env.update(
        TRADEWIRE_VAR_DIR=str(var_dir),
        TRADEWIRE_DATA_DIR=str(var_dir / "no-candles"),  # simulated prices: a fast start
        TRADEWIRE_CONFIG=str(var_dir / "absent.toml"),
        **extra,
    )
    return env


def _make_run(*variables: str) -> list[str]:
    """The command `make run` runs with these variables (as make would expand it)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "--dry-run", "run", *variables],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    [line] = [line for line in done.stdout.splitlines() if "tradewire demo" in line]
    command = shlex.split(line)
    assert command[0] == ".venv/bin/tradewire"
    return [str(BIN), *command[1:]]


class Demo:
    """One `tradewire demo --json` process on a free port."""

    def __init__(self, var_dir: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(BIN), "demo", "--json", "--port", "0", *args],
            env=_env(var_dir), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.info: dict[str, Any] = json.loads(self.process.stdout.readline())
        self.http = httpx.Client(base_url=self.info["api"], timeout=10)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self.http.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and self.process.poll() is None, "demo did not start"
            time.sleep(0.05)

    def token(self, username: str, password: str) -> httpx.Response:
        return self.http.post("/api/v1/auth/token", data={"username": username, "password": password})

    def provider(self) -> dict[str, str]:
        login = self.token(self.info["provider"]["username"], self.info["provider"]["password"])
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    def subscriber_count(self) -> int:
        [strategy] = self.http.get("/api/v1/strategies", headers=self.provider()).json()
        return int(strategy["subscriber_count"])

    def signals(self) -> int:
        return len(self.http.get("/api/v1/signals", headers=self.provider()).json())

    def alert(self) -> None:
        body = {"passphrase": self.info["passphrase"], "ticker": "BTCUSDT", "action": "buy"}
        assert self.http.post(self.info["webhook_url"], json=body).status_code == 202

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(20) in (0, 130, -signal.SIGINT)  # uvicorn re-raises Ctrl-C after shutdown


@pytest.fixture
def demos() -> Iterator[list[Demo]]:
    started: list[Demo] = []
    yield started
    for demo in started:
        if demo.process.poll() is None:
            demo.process.kill()
            demo.process.wait(10)


@pytest.mark.slow
def test_each_demo_starts_afresh_unless_asked_to_keep_and_shows_everyone_who_trades(
    tmp_path: Path, demos: list[Demo]
) -> None:
    first = Demo(tmp_path, "--subscribers", "4")
    demos.append(first)
    first.alert()
    assert (first.subscriber_count(), first.signals()) == (4, 1)
    dashboard = first.http.get(first.info["dashboard"])  # the printed dashboard, and a printed login for it
    assert dashboard.status_code == 200 and "Username" in dashboard.text
    login = first.info["subscribers"][0]
    assert first.token(login["username"], login["password"]).status_code == 200
    first.stop()

    second = Demo(tmp_path, "--subscribers", "2")
    demos.append(second)
    # Nothing of the first run: no old subscriber trades with a password nobody was shown.
    assert [s["username"] for s in second.info["subscribers"]] == ["trader1", "trader2"]
    assert (second.subscriber_count(), second.signals()) == (2, 0)
    assert second.token("trader3", first.info["subscribers"][2]["password"]).status_code == 401
    second.alert()
    second.stop()

    kept = Demo(tmp_path, "--subscribers", "1", "--keep")
    demos.append(kept)
    # Kept: the earlier signal is there, and the banner lists every subscriber the strategy counts.
    assert kept.signals() == 1
    shown = kept.info["subscribers"]
    assert [s["username"] for s in shown] == ["trader1", "trader2"]
    assert kept.subscriber_count() == len(shown)
    assert all(kept.token(s["username"], s["password"]).status_code == 200 for s in shown)
    kept.stop()


def test_make_run_passes_port_and_keep_on() -> None:
    assert _make_run()[1:] == ["demo", "--subscribers", "3"]
    assert _make_run("PORT=8123", "KEEP=1", "SUBSCRIBERS=5")[1:] == [
        "demo", "--subscribers", "5", "--port", "8123", "--keep",
    ]  # fmt: skip


def test_a_busy_port_fails_make_run_before_any_login_is_printed_or_data_reset(tmp_path: Path) -> None:
    (tmp_path / "demo.db").write_bytes(b"the last demo")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            _make_run(f"PORT={port}"), cwd=ROOT, env=_env(tmp_path),
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    assert done.returncode == 1
    assert done.stdout == ""  # no passphrase, no logins
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert "make run PORT=N" in done.stderr
    assert (tmp_path / "demo.db").read_bytes() == b"the last demo"
    assert time.monotonic() - started < 20


def test_the_demo_never_empties_a_configured_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'mine.db'}"
    done = subprocess.run(
        [str(BIN), "demo", "--port", str(free_port())],
        env=_env(tmp_path, TRADEWIRE_DATABASE_URL=url), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert "TRADEWIRE_DATABASE_URL is set" in done.stderr and "--keep" in done.stderr
    assert not (tmp_path / "mine.db").exists()
