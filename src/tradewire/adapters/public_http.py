"""HTTP to addresses users give (outgoing webhooks, AI endpoints), public hosts only, checked on every
connection.

A URL given by a user is called by the server: without a check a user could make it reach loopback,
the private network or a cloud metadata address. Checking the name once, when the URL is stored, is
not enough: its DNS answer can change before the call. So every connection resolves the host here,
refuses it unless every address is public (adapters/live/addresses.py says which are), then connects
to the address it checked (TLS still verifies the host's name). Works for httpx and for httpx2 (the
fork the openai SDK uses), each with its own httpcore.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from types import ModuleType
from typing import Any

import httpcore
import httpx

from tradewire.adapters.live.addresses import AddressRefused, check_ip

__all__ = ["AddressRefused", "Unresolvable", "guard", "guarded_transport", "public_addresses"]


class Unresolvable(OSError):
    """A host name that resolves to no address."""


async def public_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, each checked public (AddressRefused otherwise; Unresolvable
    when it resolves to none)."""
    literal = _ip_literal(host)
    if literal is not None:
        check_ip(literal, host)
        return [literal]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Unresolvable(f"host {host!r} cannot be resolved") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise Unresolvable(f"host {host!r} cannot be resolved")
    for address in addresses:
        check_ip(address, host)
    return addresses


def _ip_literal(host: str) -> str | None:
    text = host.strip("[]")
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    return text


_BACKENDS: dict[str, type] = {}


def _backend(core: ModuleType) -> Any:
    """A network backend of `core` (httpcore or httpcore2) that connects to public addresses only."""
    made = _BACKENDS.get(core.__name__)
    if made is None:

        class PublicOnlyBackend(core.AsyncNetworkBackend):  # type: ignore[name-defined,misc]
            def __init__(self) -> None:
                self._inner = core.AnyIOBackend()

            async def connect_tcp(
                self,
                host: str,
                port: int,
                timeout: float | None = None,
                local_address: str | None = None,
                socket_options: Any = None,
            ) -> Any:
                try:
                    addresses = await public_addresses(host, port)
                except Unresolvable as exc:
                    raise core.ConnectError(str(exc)) from exc
                failure: Exception | None = None
                for address in addresses:
                    try:
                        return await self._inner.connect_tcp(
                            address, port, timeout, local_address, socket_options
                        )
                    except (core.ConnectError, core.ConnectTimeout) as exc:
                        failure = exc
                assert failure is not None
                raise failure

            async def connect_unix_socket(
                self, path: str, timeout: float | None = None, socket_options: Any = None
            ) -> Any:
                raise core.ConnectError("unix sockets are not public addresses")

            async def sleep(self, seconds: float) -> None:
                await self._inner.sleep(seconds)

        made = _BACKENDS[core.__name__] = PublicOnlyBackend
    return made()


def guard(transport: Any, core: ModuleType) -> Any:
    """`transport` (an httpx or httpx2 AsyncHTTPTransport, `core` its httpcore) made to connect to
    public addresses only. Neither takes a network backend as a parameter: its connection pool's is
    replaced (the tests of both users of this module fail if a new version names it otherwise)."""
    pool = transport._pool
    if not hasattr(pool, "_network_backend"):
        raise RuntimeError("this httpx version cannot be guarded: its pool has no _network_backend")
    pool._network_backend = _backend(core)
    return transport


def guarded_transport(limits: httpx.Limits, allow_private: bool) -> httpx.AsyncHTTPTransport:
    """An httpx transport that connects to public addresses only (any address when `allow_private`:
    an operator's setting for local endpoints and tests)."""
    transport = httpx.AsyncHTTPTransport(trust_env=False, limits=limits)
    return transport if allow_private else guard(transport, httpcore)
