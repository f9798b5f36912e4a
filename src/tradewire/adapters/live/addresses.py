"""Where a user may point an exchange account: https (wss for streams) to public hosts only.

An account's `api_urls` are the user's input, and the server makes the calls: without this check a
user could make it reach loopback, the private network or a cloud metadata address. Addresses are
checked when an account is created (every address the name resolves to) and again on every
connection (a DNS answer can change; a redirect can point elsewhere). The operator may allow private
addresses (`TRADEWIRE_ALLOW_PRIVATE_EXCHANGE_URLS=true`: a local proxy, a test exchange).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses it resolves to (text); injectable for tests.
Resolver = Callable[[str, int], Awaitable[list[str]]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(ValueError):
    """An exchange address the server will not call."""


def is_public(ip: IPAddress) -> bool:
    """True for an address on the public internet: not loopback, private, link-local, multicast,
    reserved, unspecified or shared, including IPv4 addresses carried inside IPv6 ones."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return ip.is_global and not (
        ip.is_multicast
        or ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_ip(text: str, host: str) -> None:
    """Refuse `text` (an address `host` stands for) unless it is public."""
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone
    except ValueError as exc:
        raise AddressRefused(f"{host!r} is not a valid address") from exc
    if not is_public(ip):
        raise AddressRefused(f"{host!r} is not a public address ({ip})")


def check_url(key: str, url: str) -> tuple[str, int]:
    """The host and port of `url` if its form is acceptable (https, or wss for a 'ws.' key; no
    credentials; an IP literal must be public); names are checked by `check_urls`."""
    scheme = "wss" if key.split(".", 1)[0] == "ws" else "https"
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError as exc:
        raise AddressRefused(f"api_urls[{key!r}] is not a valid URL") from exc
    if parts.scheme.lower() != scheme:
        raise AddressRefused(f"api_urls[{key!r}] must be a {scheme}:// URL")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused(f"api_urls[{key!r}] must not carry credentials")
    host = parts.hostname
    if not host:
        raise AddressRefused(f"api_urls[{key!r}] has no host")
    if _is_ip_literal(host):
        check_ip(host, host)
    return host, port


async def check_urls(urls: Mapping[str, str], allow_private: bool, resolve: Resolver | None = None) -> None:
    """Refuse (AddressRefused) any URL the server may not call: the checks of `check_url`, then every
    address each host name resolves to must be public. Nothing is checked when private addresses are
    allowed."""
    if allow_private:
        return
    lookup = resolve or _resolve
    for key, url in urls.items():
        host, port = check_url(key, url)
        if _is_ip_literal(host):
            continue
        try:
            addresses = await lookup(host, port)
        except OSError as exc:
            raise AddressRefused(f"api_urls[{key!r}]: host {host!r} cannot be resolved") from exc
        if not addresses:
            raise AddressRefused(f"api_urls[{key!r}]: host {host!r} cannot be resolved")
        for address in addresses:
            check_ip(address, host)


def check_static(urls: Mapping[str, str]) -> None:
    """`check_url` for every URL: what can be checked without a DNS lookup (when a client is built)."""
    for key, url in urls.items():
        check_url(key, url)


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class PublicOnlyConnector(aiohttp.TCPConnector):
    """A connector that refuses to connect to any non-public address, whatever the name resolved to
    at the moment of the connection (redirects and IP literals included)."""

    async def _resolve_host(self, host: str, port: int, traces: Any = None) -> Any:
        results = await super()._resolve_host(host, port, traces=traces)
        for result in results or ():
            try:
                check_ip(str(result["host"]), host)
            except AddressRefused as exc:
                # aiohttp reports it as a failed connection, with this as its reason
                raise OSError(errno.EACCES, str(exc)) from exc
        return results


def guard_connections(client: Any) -> None:
    """Make a ccxt async client open its HTTP session (REST and streams) on a PublicOnlyConnector."""
    import ssl

    original_open = client.open

    def open_guarded(lazy: bool = False) -> Any:
        if client.own_session and client.session is None and not (lazy and client.closed_by_user):
            if client.ssl_context is None:
                client.ssl_context = (
                    ssl.create_default_context(cafile=client.cafile) if client.verify else client.verify
                )
            client.tcp_connector = PublicOnlyConnector(
                ssl=client.ssl_context, enable_cleanup_closed=True, family=socket.AF_UNSPEC
            )
            client.session = aiohttp.ClientSession(
                connector=client.tcp_connector, trust_env=client.aiohttp_trust_env
            )
        return original_open(lazy)

    client.open = open_guarded
