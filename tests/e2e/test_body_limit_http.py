"""Over real HTTP: no endpoint reads more than the configured body size, signed in or not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support import ServedRuntime, make_runtime

LIMIT = 64 * 1024


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedRuntime]:
    runtime = make_runtime(tmp_path, max_request_body_bytes=LIMIT)
    with ServedRuntime(runtime, free_port()) as served:
        yield served


def _chunks(total: int, size: int = 8192) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/auth/token", "/api/v1/accounts"])
def test_a_body_over_the_limit_is_refused_before_sign_in_or_parsing(served: ServedRuntime, path: str) -> None:
    with httpx.Client(base_url=served.url, timeout=15) as http:
        # Arrange / Act: a declared length over the limit, and a chunked body that never declares one
        declared = http.post(
            path, content=b"{" + b" " * LIMIT + b"}", headers={"Content-Type": "application/json"}
        )
        chunked = http.post(path, content=_chunks(LIMIT + 1), headers={"Content-Type": "application/json"})
        # A body within the limit still reaches the route (and is answered by it)
        small = http.post(path, json={"username": "someone"})

    # Assert
    assert declared.status_code == 413
    assert chunked.status_code == 413
    assert declared.json() == {"detail": f"request body over {LIMIT} bytes"}
    assert small.status_code in (401, 422)


def test_a_body_within_the_limit_works_as_before(served: ServedRuntime) -> None:
    with httpx.Client(base_url=served.url, timeout=15) as http:
        signup = http.post("/api/v1/users", json={"username": "bodylimit", "password": "a-long-passphrase-1"})
        token = http.post(
            "/api/v1/auth/token", data={"username": "bodylimit", "password": "a-long-passphrase-1"}
        )

    assert signup.status_code == 201, signup.text
    assert token.status_code == 200
