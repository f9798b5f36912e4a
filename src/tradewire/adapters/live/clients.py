"""Every ccxt client the platform opens is built here: live accounts and their order streams, public
candles for strategies, live prices for the paper market, `tradewire data download`.

One place decides what a client is allowed to do: spot options per exchange, only exchange ids ccxt
lists (never one of its modules or base classes), base-URL overrides by key, the address guard on
overrides a user gave (`addresses.py`), and credentials blanked in every log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tradewire.adapters.live.addresses import AddressRefused, check_static, guard_connections
from tradewire.logs import register_secret

# async: ccxt.async_support (REST); pro: ccxt.pro (REST and WebSocket streams); sync: plain ccxt.
Flavour = Literal["async", "pro", "sync"]

# Options that keep ccxt to the spot endpoints we use (checked against a local fake of each API).
SPOT_OPTIONS: dict[str, dict[str, Any]] = {
    "binance": {
        "defaultType": "spot",
        "fetchMarkets": {"types": ["spot"]},  # not the futures exchangeInfo endpoints
        "fetchCurrencies": False,  # not sapi capital/config
        "fetchMargins": False,  # not sapi margin pairs
        "fetchOpenOrders": {"warnWithoutSymbol": False},  # one call for all of an account's open orders
    },
    "bybit": {
        "defaultType": "spot",
        "fetchMarkets": {"types": ["spot"]},
        # A unified trading account (what Bybit opens today): skips the account-type lookups.
        "enableUnifiedMargin": False,
        "enableUnifiedAccount": True,
        "unifiedMarginStatus": 6,
        "fetchOrder": {"acknowledged": True},  # by-id lookups only reach the last 500 orders: understood
    },
    "okx": {
        "defaultType": "spot",
        "fetchMarkets": {"types": ["spot"]},
        "createOrder": "privatePostTradeOrder",  # one order, not a batch of one
    },
    "mexc": {"defaultType": "spot"},
    "coinbase": {
        "fetchBalance": "v3PrivateGetBrokerageAccounts",  # Advanced Trade accounts, not v2 wallets
        "fetchTime": "v3PublicGetBrokerageTime",
    },
}
_OTHER_EXCHANGES = {"defaultType": "spot"}


class ClientError(ValueError):
    """A client that cannot be built as asked (nothing was sent anywhere)."""


class UnknownExchange(ClientError):
    """ccxt has no client of that flavour for the exchange id."""


class UnknownUrlKey(ClientError):
    """A base-URL override names a key the exchange's `urls['api']` does not have."""


@dataclass(frozen=True)
class Credentials:
    """An account's API keys; plaintext only in memory, never in a repr."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    password: str | None = field(default=None, repr=False)


def client_class(exchange: str, flavour: Flavour = "async") -> type[Any] | None:
    """ccxt's client class for `exchange`, or None when ccxt lists no such exchange in that flavour."""
    if flavour == "sync":
        import ccxt as module
    elif flavour == "pro":
        import ccxt.pro as module
    else:
        import ccxt.async_support as module
    if exchange not in module.exchanges:
        return None
    klass: type[Any] | None = getattr(module, exchange, None)
    return klass


def offers(exchange: str, feature: str, flavour: Flavour = "async") -> bool:
    """Whether ccxt's client for `exchange` offers `feature` (a key of its `has`, e.g. watchOrders)."""
    klass = client_class(exchange, flavour)
    return bool(klass is not None and klass().has.get(feature))


def build_client(
    exchange: str,
    *,
    flavour: Flavour = "async",
    credentials: Credentials | None = None,
    api_urls: Mapping[str, Any] | None = None,
    timeout_ms: int = 10_000,
    sandbox: bool = False,
    private_urls_allowed: bool = False,
    throttle: bool = True,
) -> Any:
    """A ccxt client for `exchange`, the only way the platform makes one.

    `api_urls` override entries of ccxt's `urls['api']`; keys like 'ws.spot' reach nested entries,
    'ws' keys apply to streaming (pro) clients only, and a key the exchange does not have is refused
    (a typo must not send requests to the public host instead of the proxy). Unless
    `private_urls_allowed` (the operator's own settings), overrides are a user's input: https/wss to
    public hosts only, checked again on every connection the client opens. `throttle` leaves
    ccxt's own rate limiting on; live accounts turn it off for the limiter all their subscriptions
    share. Raises ClientError (UnknownExchange, UnknownUrlKey, or a refused address).
    """
    urls = dict(api_urls or {})
    if urls and not private_urls_allowed:
        if flavour == "sync":
            raise ClientError("a sync client cannot check its connections: user addresses need async")
        try:
            check_static(urls)
        except AddressRefused as exc:
            raise ClientError(str(exc)) from exc
    if credentials is not None:
        register_secret(credentials.api_key, credentials.secret, credentials.password)
    klass = client_class(exchange, flavour)
    if klass is None:
        kind = "streams for" if flavour == "pro" else "the exchange"
        raise UnknownExchange(f"ccxt does not know {kind} {exchange!r}")
    config: dict[str, Any] = {
        "enableRateLimit": throttle,
        "timeout": timeout_ms,
        "options": dict(SPOT_OPTIONS.get(exchange, _OTHER_EXCHANGES)),
    }
    if credentials is not None:
        config["apiKey"] = credentials.api_key
        config["secret"] = credentials.secret
        if credentials.password:
            config["password"] = credentials.password
    client = klass(config)
    if sandbox:
        client.set_sandbox_mode(True)
    if urls:
        api = client.urls.get("api")
        if not isinstance(api, dict):
            client.urls["api"] = api = {}
        _override_urls(api, urls, flavour == "pro", exchange)
        if not private_urls_allowed:
            guard_connections(client)
    return client


def public_client(
    exchange: str,
    api_urls: Mapping[str, Any] | None = None,
    timeout_ms: int = 10_000,
    flavour: Flavour = "async",
) -> Any:
    """A ccxt client for an exchange's public data (candles, tickers), at the operator's own urls."""
    return build_client(
        exchange, flavour=flavour, api_urls=api_urls, timeout_ms=timeout_ms, private_urls_allowed=True
    )


def _override_urls(api: dict[str, Any], overrides: Mapping[str, Any], streaming: bool, exchange: str) -> None:
    for key, url in overrides.items():
        path = key.split(".")
        if path[0] == "ws" and not streaming:
            continue  # stream addresses are for the streaming client only
        node = api
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                raise UnknownUrlKey(f"{exchange} has no API url key {key!r}")
            node = child
        if path[-1] not in node:
            raise UnknownUrlKey(f"{exchange} has no API url key {key!r}")
        node[path[-1]] = url
