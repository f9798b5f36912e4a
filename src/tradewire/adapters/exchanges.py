"""Which Exchange adapter serves an account: the shared paper venue, or a ccxt client per live account."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from tradewire.adapters.live.ccxt_exchange import CcxtExchange, LiveAccount, RetryPolicy
from tradewire.adapters.live.guards import RateLimiter
from tradewire.adapters.live.tickers import TickerCache
from tradewire.adapters.paper.venue import PaperVenue
from tradewire.adapters.secrets_box import SecretBox, SecretsError
from tradewire.ports import Exchange, ExchangeUnavailable

log = logging.getLogger("tradewire.exchanges")

LiveLoader = Callable[[int], dict[str, Any] | None]


class AccountExchanges:
    """Exchange ports per account: paper accounts share the paper venue; each live account gets one
    ccxt client (created on first use, kept for the life of the process)."""

    def __init__(
        self,
        paper: PaperVenue,
        live_loader: LiveLoader | None = None,
        secret_box: SecretBox | None = None,
        live_factory: Callable[..., CcxtExchange] = CcxtExchange,
        ticker_ttl_s: float = 10.0,
        timeout_ms: int = 10_000,
        retry: RetryPolicy | None = None,
        allow_private_urls: bool = False,
    ) -> None:
        self._retry = retry or RetryPolicy()
        self._allow_private_urls = allow_private_urls
        self._ticker_ttl = ticker_ttl_s
        self._timeout_ms = timeout_ms
        self._paper = paper
        self._load = live_loader
        self._box = secret_box
        self._factory = live_factory
        self._live: dict[int, CcxtExchange] = {}
        self._tickers: dict[str, TickerCache] = {}
        self._in_flight: asyncio.Semaphore | None = None  # requests open at once, all live accounts
        self._public: dict[str, RateLimiter] = {}  # public-call budget per exchange

    def for_account(self, account_id: int, exchange: str, mode: str) -> Exchange:
        if mode == "paper":
            return self._paper.account(account_id)
        live = self._live.get(account_id)
        if live is None:
            account = self._live_account(account_id, exchange)
            tickers = self._tickers.setdefault(_ticker_key(account), TickerCache(self._ticker_ttl))
            if self._in_flight is None:
                self._in_flight = asyncio.Semaphore(256)
            key = _ticker_key(account)
            live = self._live[account_id] = self._factory(
                account,
                retry=self._retry,
                tickers=tickers,
                in_flight=self._in_flight,
                public_limiter=self._public.get(key),
            )
            # The first account's client sets the budget (ccxt's rate for the exchange); others share it.
            self._public.setdefault(key, live.public_limiter)
        return live

    def live_accounts(self) -> dict[int, CcxtExchange]:
        """The live accounts in use so far."""
        return dict(self._live)

    def forget(self, account_id: int) -> None:
        """Drop a cached client (account deleted or its keys changed)."""
        self._live.pop(account_id, None)

    async def close(self) -> None:
        for live in self._live.values():
            await live.close()
        self._live.clear()

    def _live_account(self, account_id: int, exchange: str) -> LiveAccount:
        row = self._load(account_id) if self._load else None
        if row is None:
            raise ExchangeUnavailable(f"live account {account_id} not found")
        if self._box is None:
            raise ExchangeUnavailable("TRADEWIRE_ENCRYPTION_KEY is not set: live API keys cannot be read")
        try:
            secrets = {
                name: self._box.decrypt(row[f"{name}_enc"], f"account:{account_id}:{name}")
                if row.get(f"{name}_enc")
                else None
                for name in ("api_key", "api_secret", "api_password")
            }
        except SecretsError as exc:
            raise ExchangeUnavailable(f"API keys of account {account_id} cannot be decrypted: {exc}") from exc
        return LiveAccount(
            account_id=account_id,
            exchange=exchange,
            api_key=secrets["api_key"] or "",
            secret=secrets["api_secret"] or "",
            password=secrets["api_password"],
            sandbox=bool(row.get("sandbox")),
            api_urls=dict(row.get("api_urls") or {}),
            timeout_ms=self._timeout_ms,
            private_urls_allowed=self._allow_private_urls,
        )


def _ticker_key(account: LiveAccount) -> str:
    """Accounts share prices when they reach the same exchange at the same addresses."""
    urls = ",".join(f"{k}={v}" for k, v in sorted(account.api_urls.items()))
    return f"{account.exchange}|{account.sandbox}|{urls}"
