"""Limits the real `tradewire serve` process applies before anyone signs in."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import free_port
from tests.e2e.test_crash_recovery import BIN, _env, _serve, processes  # noqa: F401  (the fixture)


def test_a_websocket_message_over_the_limit_is_refused_by_the_server_before_sign_in(
    tmp_path: Path,
    processes: list[subprocess.Popen[str]],  # noqa: F811
) -> None:
    port = free_port()
    _serve(tmp_path, port, tmp_path / "served.db", processes)

    async def send(size: int) -> int | None:
        async with connect(f"ws://127.0.0.1:{port}/api/v1/ws", max_size=None) as ws:
            await ws.send("x" * size)
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd else None
        return None

    # 1009 "message too big" from the protocol layer (the default ws_max_message_bytes is 4 KiB);
    # a small wrong first message is answered by the app's own 4401.
    assert asyncio.run(send(64 * 1024)) == 1009
    assert asyncio.run(send(10)) == 4401


def test_a_second_server_on_the_same_database_refuses_to_start_and_the_first_goes_on(
    tmp_path: Path,
    processes: list[subprocess.Popen[str]],  # noqa: F811
) -> None:
    database = tmp_path / "served.db"
    port = free_port()
    _serve(tmp_path, port, database, processes)

    second = subprocess.run(
        [str(BIN), "serve", "--port", str(free_port())],
        env={
            **_env(tmp_path, None),
            "TRADEWIRE_DATABASE_URL": f"sqlite:///{database}",
            "TRADEWIRE_SERVER_LOCK_WAIT_S": "1",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert second.returncode == 1
    assert "another tradewire server (pid" in second.stderr and "is running on" in second.stderr
    assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
