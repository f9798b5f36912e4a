"""A user cannot make the server call loopback or private addresses through an account's api_urls:
only https (wss for streams) to public hosts, checked at creation (every resolved address) and on
every connection; the operator may allow private addresses (TRADEWIRE_ALLOW_PRIVATE_EXCHANGE_URLS)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import httpx
import pytest
from sqlalchemy import Engine, func, select

from tests.conftest import free_port
from tests.e2e.owned import Owned, seed_user
from tests.fakes.exchange import FakeExchange
from tests.support import ServedRuntime, make_runtime, now
from tradewire.adapters.live.addresses import AddressRefused, check_urls, guard_connections, is_public
from tradewire.adapters.secrets_box import generate_key
from tradewire.adapters.store.tables import exchange_accounts
from tradewire.ports import ExchangeUnavailable

PUBLIC = "93.184.215.14"  # a public address, written as a literal: no DNS needed


class Site:
    def __init__(self, served: ServedRuntime) -> None:
        self.runtime = served.runtime
        self.http = httpx.Client(base_url=served.url, timeout=20)
        self.alice: Owned = seed_user(self.runtime, "alice")

    def create(self, urls: dict[str, str]) -> httpx.Response:
        body = {
            "name": f"live-{len(urls)}-{abs(hash(tuple(urls.items())))}",
            "exchange": "binance",
            "mode": "live",
            "api_key": "k" * 16,
            "api_secret": "s" * 32,
            "api_urls": urls,
        }
        return self.http.post("/api/v1/accounts", headers=self.alice.headers, json=body)

    def live_accounts(self) -> int:
        with self.runtime.engine.connect() as conn:
            query = (
                select(func.count()).select_from(exchange_accounts).where(exchange_accounts.c.mode == "live")
            )
            return int(conn.execute(query).scalar_one())


def _site(engine: Engine, tmp_path: Path, allow: bool) -> Iterator[Site]:
    url = engine.url.render_as_string(hide_password=False)
    runtime = make_runtime(tmp_path, url, encryption_key=generate_key(), allow_private_exchange_urls=allow)
    with ServedRuntime(runtime, free_port()) as served:
        yield Site(served)


@pytest.fixture
def site(engine: Engine, tmp_path: Path) -> Iterator[Site]:
    yield from _site(engine, tmp_path, allow=False)


REFUSED = [
    "http://" + PUBLIC + "/api/v3",  # not https
    "https://127.0.0.1/api/v3",
    "https://127.1/api/v3",  # loopback by another spelling (resolved)
    "https://2130706433/api/v3",  # 127.0.0.1 as one number (resolved)
    "https://localhost:8443/api/v3",  # a name resolving to loopback
    "https://10.1.2.3/api",
    "https://172.16.0.1/api",
    "https://192.168.1.1/api",
    "https://100.64.0.1/api",  # shared address space (carrier NAT)
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://0.0.0.0/api",
    "https://224.0.0.1/api",  # multicast
    "https://240.0.0.1/api",  # reserved
    "https://[::1]/api",
    "https://[::ffff:127.0.0.1]/api",  # IPv4-mapped loopback
    "https://[::ffff:a00:1]/api",  # IPv4-mapped 10.0.0.1
    "https://[fe80::1]/api",
    "https://[fc00::1]/api",
    "https://[ff02::1]/api",
    "https://[2002:7f00:1::1]/api",  # 6to4 of 127.0.0.1
    "https://[64:ff9b::a9fe:a9fe]/api",  # NAT64 of 169.254.169.254
    "https://user:pw@" + PUBLIC + "/api",  # credentials in the URL
    "https://no-such-host.invalid/api",  # does not resolve
]


def test_private_or_plain_addresses_are_refused_and_nothing_is_stored(site: Site) -> None:
    for url in REFUSED:
        response = site.create({"public": url})
        assert response.status_code == 422, (url, response.text)
    assert site.live_accounts() == 0


def test_stream_addresses_must_be_wss_to_public_hosts(site: Site) -> None:
    assert site.create({"ws.spot": "ws://" + PUBLIC + "/ws"}).status_code == 422
    assert site.create({"ws.spot": "wss://127.0.0.1/ws"}).status_code == 422
    assert site.create({"ws.spot": "wss://" + PUBLIC + "/ws"}).status_code == 201
    assert site.live_accounts() == 1


def test_https_to_a_public_host_is_accepted(site: Site) -> None:
    response = site.create(
        {"public": f"https://{PUBLIC}/api/v3", "private": "https://[2606:4700::1111]:8443/api/v3"}
    )
    assert response.status_code == 201, response.text
    assert site.live_accounts() == 1


@pytest.fixture
def permissive_site(engine: Engine, tmp_path: Path) -> Iterator[Site]:
    yield from _site(engine, tmp_path, allow=True)


def test_the_operator_may_allow_private_addresses(permissive_site: Site) -> None:
    assert permissive_site.create({"public": "http://127.0.0.1:1/api/v3"}).status_code == 201


# -- resolution, at the function level (tests cannot resolve real names) ---------------------------


def _resolver(answers: dict[str, list[str]]) -> Any:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"no such host {host}")
        return answers[host]

    return resolve


@pytest.mark.parametrize(
    ("addresses", "accepted"),
    [
        (["104.16.1.1"], True),
        (["104.16.1.1", "2606:4700::6810:101"], True),
        (["10.0.0.5"], False),
        (["104.16.1.1", "127.0.0.1"], False),  # every address must be public
        (["2606:4700::6810:101", "::ffff:192.168.0.1"], False),
        ([], False),
    ],
)
async def test_every_address_a_name_resolves_to_must_be_public(addresses: list[str], accepted: bool) -> None:
    resolve = _resolver({"api.example.com": addresses})
    urls = {"public": "https://api.example.com/api/v3"}
    if accepted:
        await check_urls(urls, allow_private=False, resolve=resolve)
    else:
        with pytest.raises(AddressRefused):
            await check_urls(urls, allow_private=False, resolve=resolve)
    await check_urls(urls, allow_private=True, resolve=resolve)  # the operator's choice


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.2", False),
        ("::", False),
        ("198.18.0.1", False),
        ("192.0.2.1", False),
        ("::ffff:8.8.8.8", True),
        ("fd12:3456::1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


# -- at use time: the client built for an account -------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeExchange]:
    exchange = FakeExchange("binance", prices={"BTC/USDT": "60000"}, balances={"USDT": "100"})
    exchange.start()
    yield exchange
    exchange.stop()


async def test_each_connection_is_checked_whatever_the_name_resolves_to_then(fake: FakeExchange) -> None:
    """The real ccxt client against the fake (on loopback): unguarded it connects; guarded, every
    connection to a private address is refused, by IP literal or by a name resolving there now."""
    for host in ("127.0.0.1", "localhost"):
        urls = {key: url.replace("127.0.0.1", host) for key, url in fake.ccxt_urls().items()}
        open_client = ccxt_async.binance({**fake.ccxt_config(), "urls": {"api": urls}})
        guarded = ccxt_async.binance({**fake.ccxt_config(), "urls": {"api": urls}})
        guard_connections(guarded)
        try:
            assert await open_client.fetch_time() > 0
            with pytest.raises(ccxt.NetworkError) as refused:
                await guarded.fetch_time()
            assert "not a public address" in str(refused.value.__cause__), refused.value.__cause__
        finally:
            await open_client.close()
            await guarded.close()


def test_a_stored_private_address_is_not_used(engine: Engine, tmp_path: Path) -> None:
    """An account stored before the check (or by hand) with a private address: its client is never
    built while private addresses are not allowed."""
    url = engine.url.render_as_string(hide_password=False)
    runtime = make_runtime(tmp_path, url, encryption_key=generate_key(), allow_private_exchange_urls=False)
    alice = seed_user(runtime, "alice")
    box = runtime.secret_box
    assert box is not None
    account_id = runtime.members.create_account(
        {
            "user_id": alice.user_id,
            "name": "old",
            "exchange": "binance",
            "mode": "live",
            "sandbox": False,
            "api_urls": {"public": "https://169.254.169.254/api", "private": "https://169.254.169.254/api"},
            "created_at": now(),
        }
    )
    runtime.members.set_account_secrets(
        account_id,
        {
            "api_key_enc": box.encrypt("k" * 16, f"account:{account_id}:api_key"),
            "api_secret_enc": box.encrypt("s" * 32, f"account:{account_id}:api_secret"),
            "api_password_enc": None,
        },
    )
    with pytest.raises(ExchangeUnavailable, match="not a public address"):
        runtime.exchanges.for_account(account_id, "binance", "live")
    runtime.engine.dispose()
