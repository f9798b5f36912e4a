"""The HTTP side of outgoing webhooks (`tradewire.ports.webhooks.Poster`), with httpx.

A hook's URL is its user's input and the server makes the call: without a check a user could make it
reach loopback, the private network or a cloud metadata address. So every connection resolves the
host itself and refuses it unless every address is public (adapters/live/addresses.py says which are),
then connects to the address it checked (TLS still verifies the host's name): a DNS answer that
changes between the check and the connection cannot lead elsewhere. Redirects are not followed and
no proxy from the environment is used. `allow_private` (TRADEWIRE_WEBHOOKS_ALLOW_PRIVATE) turns the
address checks off (and plain http is then allowed at creation).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpcore
import httpx

from tradewire.adapters.live.addresses import AddressRefused as PrivateAddress
from tradewire.adapters.live.addresses import check_ip
from tradewire.ports.webhooks import AddressRefused, Answer, Unreachable

MAX_ANSWER_CHARS = 200  # of a receiver's body, for the log


async def _public_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, each checked public (AddressRefused otherwise)."""
    literal = _ip_literal(host)
    if literal is not None:
        try:
            check_ip(literal, host)
        except PrivateAddress as exc:
            raise AddressRefused(str(exc)) from None
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"host {host!r} cannot be resolved") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise httpcore.ConnectError(f"host {host!r} cannot be resolved")
    for address in addresses:
        try:
            check_ip(address, host)
        except PrivateAddress as exc:
            raise AddressRefused(str(exc)) from None
    return addresses


def _ip_literal(host: str) -> str | None:
    text = host.strip("[]")
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    return text


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses: the name is resolved here, every address checked, and the
    connection made to a checked one."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _public_addresses(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook addresses")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class HttpPoster:
    """POSTs with one shared client: a timeout per request, no redirects, no environment proxies."""

    def __init__(self, timeout_s: float = 10.0, allow_private: bool = False) -> None:
        self.allow_private = allow_private
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=20)
        transport = httpx.AsyncHTTPTransport(trust_env=False, limits=limits)
        if not allow_private:
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=httpx.create_ssl_context(trust_env=False),
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=PublicOnlyBackend(),
            )
        self._client = httpx.AsyncClient(
            transport=transport, timeout=timeout_s, follow_redirects=False, trust_env=False
        )

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        try:
            response = await self._client.post(url, content=body, headers=dict(headers))
        except AddressRefused:
            raise
        except httpx.TimeoutException:
            raise Unreachable("no answer in time") from None
        except httpx.TransportError as exc:
            raise Unreachable(f"could not connect: {type(exc).__name__}: {str(exc)[:200]}") from None
        except httpx.InvalidURL as exc:
            raise AddressRefused(f"not a valid URL: {exc}") from None
        text = response.text[:MAX_ANSWER_CHARS] if response.content else ""
        return Answer(response.status_code, response.headers.get("retry-after"), text)

    async def check(self, url: str) -> None:
        if self.allow_private:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            await _public_addresses(host, port)
        except (httpcore.ConnectError, ValueError) as exc:
            raise AddressRefused(str(exc) or "the host cannot be resolved") from None

    async def aclose(self) -> None:
        await self._client.aclose()
