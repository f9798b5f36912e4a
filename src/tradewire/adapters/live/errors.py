"""ccxt's exceptions sorted into tradewire's taxonomy, with the question that matters: did it happen?"""

from __future__ import annotations

import ccxt

from tradewire.ports import ErrorKind


def kind_of(exc: BaseException) -> ErrorKind:
    """The taxonomy bucket of a ccxt exception (order matters: subclasses first)."""
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return ErrorKind.RATE_LIMITED
    if isinstance(exc, ccxt.ExchangeNotAvailable):  # includes OnMaintenance
        return ErrorKind.UNAVAILABLE
    if isinstance(exc, ccxt.NetworkError | ccxt.BadResponse):  # RequestTimeout, lost connection, garbage
        return ErrorKind.NETWORK
    if isinstance(exc, ccxt.InsufficientFunds):
        return ErrorKind.INSUFFICIENT_FUNDS
    if isinstance(exc, ccxt.AuthenticationError):  # includes PermissionDenied, AccountSuspended
        return ErrorKind.AUTHENTICATION
    if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest | ccxt.BadSymbol):
        return ErrorKind.INVALID_ORDER
    return ErrorKind.REJECTED


def is_duplicate(exc: BaseException) -> bool:
    """The exchange refused a client order id it already has: the first order exists."""
    if isinstance(exc, ccxt.DuplicateOrderId):
        return True
    text = str(exc).lower()
    return isinstance(exc, ccxt.ExchangeError) and ("duplicate" in text and "order" in text)


def is_ambiguous(exc: BaseException) -> bool:
    """True when the request may or may not have been executed (so it is never treated as a refusal).

    Timeouts, lost connections, unreadable answers and 5xx (ccxt: ExchangeNotAvailable, which Binance
    documents as "execution status UNKNOWN") are ambiguous. A 429 is normally refused before
    execution, but an order is only ever concluded absent after a lookup, so it is treated the same.
    An error the exchange answered with in its own words (4xx with a code) is a refusal.
    """
    return isinstance(exc, ccxt.NetworkError | ccxt.BadResponse)
