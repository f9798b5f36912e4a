"""The address a request comes from: the connection's peer, or, when that peer is a trusted proxy
(setting `trusted_proxies`), the nearest address in X-Forwarded-For that is not one of them. A client
can put anything in X-Forwarded-For; only entries added by trusted proxies are believed."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from fastapi import Request

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_FORWARDED_ENTRIES = 20


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _trusted(address: str, networks: Iterable[IpNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request, trusted_proxies: Iterable[str] = ()) -> str:
    """The client's address ("?" when the server does not know it)."""
    peer = request.client.host if request.client else "?"
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",")][-MAX_FORWARDED_ENTRIES:]
    address = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # not written by a proxy of ours: believe nothing further left
        address = hop
        if not _trusted(hop, networks):
            break
    return address
