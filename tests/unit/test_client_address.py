"""The client address a request is counted and throttled by: X-Forwarded-For is believed only as far
as trusted proxies wrote it."""

from __future__ import annotations

import pytest
from fastapi import Request

from tradewire.api.addresses import client_address


def _request(peer: str | None, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    scope = {"type": "http", "headers": headers, "client": (peer, 1234) if peer else None}
    return Request(scope)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("198.51.100.1", ["10.0.0.1"], [], "198.51.100.1"),  # no trusted proxy: the header is ignored
        ("198.51.100.1", ["10.0.0.1"], ["127.0.0.1"], "198.51.100.1"),  # not from a trusted proxy
        ("127.0.0.1", ["203.0.113.5"], ["127.0.0.1"], "203.0.113.5"),
        ("127.0.0.1", ["6.6.6.6, 203.0.113.5"], ["127.0.0.1"], "203.0.113.5"),  # a client's own entry
        ("10.0.0.2", ["6.6.6.6, 203.0.113.5, 10.0.0.1"], ["10.0.0.0/8"], "203.0.113.5"),  # two proxies
        ("10.0.0.2", ["6.6.6.6", "203.0.113.5"], ["10.0.0.0/8"], "203.0.113.5"),  # repeated header
        ("127.0.0.1", ["not-an-ip, 203.0.113.5"], ["127.0.0.1"], "203.0.113.5"),
        ("127.0.0.1", ["203.0.113.5, garbage"], ["127.0.0.1"], "127.0.0.1"),  # no proxy wrote that
        ("127.0.0.1", ["::1, 2001:db8::7"], ["127.0.0.1", "::1"], "2001:db8::7"),
        ("127.0.0.1", [], ["127.0.0.1"], "127.0.0.1"),
        (None, ["203.0.113.5"], ["127.0.0.1"], "?"),
    ],
)
def test_the_client_address(
    peer: str | None, forwarded: list[str], trusted: list[str], expected: str
) -> None:
    assert client_address(_request(peer, *forwarded), trusted) == expected
