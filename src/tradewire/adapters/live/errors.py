"""ccxt's exceptions sorted into tradewire's taxonomy, with the question that matters: did it happen?

Default-deny: an exchange error is a refusal only when the exchange definitively refused the request
(a short, explicit list of ccxt classes, answered without a 5xx and without words that say the
outcome is unknown). Every other exception, including classes ccxt adds later and plain Exception,
means "outcome unknown": the order is looked up by its client order id, never concluded absent.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

import ccxt

from tradewire.ports import ErrorKind

# The exact classes (not their subclasses) that mean "the exchange refused; nothing happened".
# Subclasses are left out on purpose: OrderNotFound, DuplicateOrderId, OrderNotCached, OrderNotFillable
# and ContractUnavailable are InvalidOrder subclasses that say something else, and a subclass ccxt adds
# later is unknown until someone reads what it means. BadRequest is left out too: ccxt maps answers
# such as MEXC's "Repeated request" (603) and Bybit's "order_link_id is repeated" to it.
REFUSALS: frozenset[type[BaseException]] = frozenset(
    {
        ccxt.InvalidOrder,  # the order breaks a rule of the market (size, price, filters)
        ccxt.OrderImmediatelyFillable,  # a post-only order that would have taken: refused unplaced
        ccxt.InsufficientFunds,
        ccxt.BadSymbol,
        ccxt.AuthenticationError,
        ccxt.PermissionDenied,
        ccxt.AccountNotEnabled,
        ccxt.AccountSuspended,
    }
)

# Words in an answer that say the exchange itself does not know what became of the request. ccxt maps
# some such answers to a refusal class (Bybit 170146 "Order creation timeout" is an InvalidOrder).
_UNSURE = re.compile(
    r"time ?out|timed out|status unknown|unknown error|internal|system error|server error|"
    r"busy|unavailable|try again later",
    re.IGNORECASE,
)


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of the answer that raised `exc`, when it came from an answer (see
    `remember_http_status`); None for an error raised before or without an answer."""
    status = getattr(exc, "http_status", None)
    return status if isinstance(status, int) else None


def is_refusal(exc: BaseException) -> bool:
    """True only when the exchange definitively refused: the request did not and will not happen."""
    if type(exc) not in REFUSALS:
        return False
    status = http_status(exc)
    if status is not None and (status >= 500 or status in (408, 429)):
        return False  # whatever the body says, a 5xx means the execution status is unknown
    return not _UNSURE.search(str(exc))


def is_ambiguous(exc: BaseException) -> bool:
    """True when the request may or may not have been executed: everything but a definitive refusal."""
    return not is_refusal(exc)


def is_not_found(exc: BaseException) -> bool:
    """The exchange answered that it does not know the order (not a 5xx that happens to say so)."""
    status = http_status(exc)
    return isinstance(exc, ccxt.OrderNotFound) and (status is None or status < 500)


def answered(exc: BaseException) -> bool:
    """The exchange answered in its own words below 5xx: it is up (for the circuit breaker)."""
    status = http_status(exc)
    return status is not None and status < 500 and status != 429


def kind_of(exc: BaseException) -> ErrorKind:
    """The taxonomy bucket of an exception, for messages and users (order matters: subclasses first)."""
    status = http_status(exc)
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection) or status == 429:
        return ErrorKind.RATE_LIMITED
    if isinstance(exc, ccxt.ExchangeNotAvailable) or (status is not None and status >= 500):
        return ErrorKind.UNAVAILABLE  # includes OnMaintenance
    if isinstance(exc, ccxt.NetworkError | ccxt.BadResponse):  # RequestTimeout, lost connection, garbage
        return ErrorKind.NETWORK
    if not is_refusal(exc):
        return ErrorKind.UNKNOWN
    if isinstance(exc, ccxt.InsufficientFunds):
        return ErrorKind.INSUFFICIENT_FUNDS
    if isinstance(exc, ccxt.AuthenticationError):  # includes PermissionDenied, AccountSuspended
        return ErrorKind.AUTHENTICATION
    return ErrorKind.INVALID_ORDER


# What names the order in an exchange's "duplicate" answer: Binance/MEXC "Duplicate order sent.",
# Bybit "OrderLinkedID is duplicate" / "Duplicate clientOrderId.", OKX "Duplicated clOrdId" (51016).
_ORDER_WORDS = ("order", "clordid", "client")


def is_duplicate(exc: BaseException) -> bool:
    """The exchange refused a client order id it already has: the first order exists. (Read broadly:
    a wrong guess only costs a lookup, after which a missing order is an outcome unknown.)"""
    if isinstance(exc, ccxt.DuplicateOrderId):
        return True
    text = str(exc).lower()
    return isinstance(exc, ccxt.ExchangeError) and "duplicat" in text and any(w in text for w in _ORDER_WORDS)


def one_line(exc: BaseException) -> str:
    """The exception's text on one line (an edge's HTML page included), at most 300 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def remember_http_status(client: Any) -> None:
    """Make every exception a ccxt client raises from an HTTP answer carry that answer's status.

    ccxt decides an error's class from the body first (an exchange's own code), then from the status;
    the status is not kept. It is what tells a definitive refusal (4xx) from an unknown outcome (5xx),
    so it is stamped on the exception itself (`http_status`), which concurrent requests cannot mix up.
    """
    if getattr(client, "_tradewire_statuses", False):
        return
    for name in ("handle_errors", "handle_http_status_code"):
        setattr(client, name, _stamping(getattr(client, name)))
    client._tradewire_statuses = True


def _stamping(handler: Callable[..., Any]) -> Callable[..., Any]:
    def handle(code: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(code, *args, **kwargs)
        except Exception as exc:
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                if http_status(exc) is None:
                    exc.http_status = int(code)  # type: ignore[attr-defined]
            raise

    return handle
