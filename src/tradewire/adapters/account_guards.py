"""The checks and encryption a new exchange account goes through (`tradewire.ports.AccountGuards`)."""

from __future__ import annotations

from collections.abc import Mapping

from tradewire.adapters.exchanges import AccountExchanges
from tradewire.adapters.live.addresses import check_urls
from tradewire.adapters.secrets_box import SecretBox


class ExchangeAccountGuards:
    """ccxt's exchange ids, the public-address guard on API URLs, and the secret box (when configured)."""

    def __init__(self, box: SecretBox | None, exchanges: AccountExchanges, allow_private_urls: bool) -> None:
        self._box = box
        self._exchanges = exchanges
        self._allow_private = allow_private_urls

    def is_exchange_id(self, exchange: str) -> bool:
        import ccxt  # loaded on first use: a server with only paper accounts never needs it here

        return exchange in ccxt.exchanges

    async def check_urls(self, urls: Mapping[str, str]) -> None:
        await check_urls(urls, self._allow_private)

    def can_seal(self) -> bool:
        return self._box is not None

    def seal(self, secret: str, context: str) -> str:
        if self._box is None:
            raise RuntimeError("no encryption key is configured")
        return self._box.encrypt(secret, context)

    def forget(self, account_id: int) -> None:
        self._exchanges.forget(account_id)
