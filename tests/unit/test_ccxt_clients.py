"""One factory builds every ccxt client: what it refuses, what it applies, and that nothing else does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tradewire.adapters.live.clients import (
    ClientError,
    Credentials,
    UnknownExchange,
    UnknownUrlKey,
    build_client,
    client_class,
)
from tradewire.logs import redact

SRC = Path(__file__).resolve().parents[2] / "src" / "tradewire"


@pytest.mark.parametrize("flavour", ["async", "pro", "sync"])
@pytest.mark.parametrize("name", ["Exchange", "base", "errors", "exchanges", "nosuchexchange"])
def test_only_exchange_ids_ccxt_lists_get_a_client(name: str, flavour: str) -> None:
    # getattr(ccxt, name) finds ccxt's base class and its modules too; none of them is an exchange.
    assert client_class(name, flavour) is None  # type: ignore[arg-type]
    with pytest.raises(UnknownExchange, match=repr(name)):
        build_client(name, flavour=flavour, private_urls_allowed=True)  # type: ignore[arg-type]


def test_url_overrides_reach_nested_keys_and_stream_keys_only_stream_clients() -> None:
    urls = {"public": "http://127.0.0.1:9/api/v3", "ws.spot": "ws://127.0.0.1:9/ws"}

    rest = build_client("binance", api_urls=urls, private_urls_allowed=True)
    stream = build_client("binance", flavour="pro", api_urls=urls, private_urls_allowed=True)

    assert rest.urls["api"]["public"] == stream.urls["api"]["public"] == urls["public"]
    assert "ws" not in rest.urls["api"]  # ignored, not refused: one account's urls serve both clients
    assert stream.urls["api"]["ws"]["spot"] == urls["ws.spot"]


@pytest.mark.parametrize("flavour", ["async", "sync"])
def test_a_misspelt_url_key_is_refused_rather_than_ignored(flavour: str) -> None:
    # Ignored, the client would send its requests to the exchange's public host instead of the proxy.
    with pytest.raises(UnknownUrlKey, match="binance has no API url key 'publc'"):
        build_client(
            "binance", flavour=flavour, api_urls={"publc": "http://127.0.0.1:9"}, private_urls_allowed=True
        )  # type: ignore[arg-type]


def test_user_addresses_must_be_public_https() -> None:
    for url in ("https://127.0.0.1/api", "http://api.example.com/api", "https://169.254.169.254/api"):
        with pytest.raises(ClientError):
            build_client("binance", api_urls={"public": url})
    with pytest.raises(ClientError, match="sync"):  # its connections could not be checked
        build_client("binance", flavour="sync", api_urls={"public": "https://api.example.com/api"})
    client = build_client("binance", api_urls={"public": "https://api.example.com/api"})
    assert client.urls["api"]["public"] == "https://api.example.com/api"


def test_credentials_are_set_and_blanked_in_logs() -> None:
    keys = Credentials("factory-key-0123456789", "factory-secret-0123456789", "factory-pass-0123")

    client = build_client("okx", credentials=keys, timeout_ms=1_234, throttle=False)

    assert (client.apiKey, client.secret, client.password) == (keys.api_key, keys.secret, keys.password)
    assert (client.timeout, client.enableRateLimit) == (1_234, False)
    assert client.options["defaultType"] == "spot"
    line = f"GET /?key={keys.api_key} sig {keys.secret} pass {keys.password}"
    assert keys.api_key not in redact(line) and keys.secret not in redact(line)
    assert keys.password not in redact(line)  # type: ignore[operator]
    assert "factory" not in repr(keys)


def test_no_module_but_the_factory_builds_a_ccxt_client() -> None:
    """Looking a class up on ccxt (getattr(ccxt...), ccxt.binance(...)) is the factory's alone."""
    builds = re.compile(r"getattr\(\s*ccxt|\bccxt(?:_async|_pro)?\.(?!pro\b)[a-z][a-z0-9]*\(")
    found = [
        f"{path.relative_to(SRC)}:{number}"
        for path in SRC.rglob("*.py")
        if path.name != "clients.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if builds.search(line)
    ]
    assert found == []
