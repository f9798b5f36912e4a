"""The HTTP side of outgoing webhooks (`tradewire.ports.webhooks.Poster`), with httpx.

A hook's URL is its user's input and the server makes the call: every connection goes to public
addresses only, checked as it is made (adapters/public_http.py). Redirects are not followed and no
proxy from the environment is used. `allow_private` (TRADEWIRE_WEBHOOKS_ALLOW_PRIVATE) turns the
address checks off (and plain http is then allowed at creation).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from tradewire.adapters.live.addresses import AddressRefused as PrivateAddress
from tradewire.adapters.public_http import Unresolvable, guarded_transport, public_addresses
from tradewire.ports.webhooks import AddressRefused, Answer, Unreachable

MAX_ANSWER_CHARS = 200  # of a receiver's body, for the log


class HttpPoster:
    """POSTs with one shared client: a timeout per request, no redirects, no environment proxies."""

    def __init__(self, timeout_s: float = 10.0, allow_private: bool = False) -> None:
        self.allow_private = allow_private
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=20)
        transport = guarded_transport(limits, allow_private)
        self._client = httpx.AsyncClient(
            transport=transport, timeout=timeout_s, follow_redirects=False, trust_env=False
        )

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        try:
            response = await self._client.post(url, content=body, headers=dict(headers))
        except PrivateAddress as exc:
            raise AddressRefused(str(exc)) from None
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
            await public_addresses(host, port)
        except (Unresolvable, ValueError) as exc:
            raise AddressRefused(str(exc) or "the host cannot be resolved") from None

    async def aclose(self) -> None:
        await self._client.aclose()
