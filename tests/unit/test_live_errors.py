"""Default-deny classification of exchange errors: only an explicit list of definitive refusals is a
refusal; every other ccxt class (walked from ccxt itself, so a class it adds later is covered), plain
exceptions and any answer with a 5xx are "outcome unknown"."""

from __future__ import annotations

import json
from typing import Any

import ccxt
import pytest
from ccxt.base import errors as ccxt_errors

from tradewire.adapters.live.errors import http_status, is_not_found, is_refusal, remember_http_status

# Written out here, not imported: changing the list is a decision this test makes visible.
DEFINITIVE_REFUSALS = {
    "InvalidOrder",
    "OrderImmediatelyFillable",
    "InsufficientFunds",
    "BadSymbol",
    "AuthenticationError",
    "PermissionDenied",
    "AccountNotEnabled",
    "AccountSuspended",
}


def _every_ccxt_error_class() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    pending: list[type[BaseException]] = [ccxt.BaseError]
    while pending:
        klass = pending.pop()
        if klass not in found:
            found.append(klass)
            pending.extend(klass.__subclasses__())
    return sorted(found, key=lambda k: k.__name__)


CCXT_ERRORS = _every_ccxt_error_class()


def _raised(klass: type[BaseException], status: int | None = None, text: str = "refused") -> BaseException:
    exc = klass(f'binance {{"code":-2010,"msg":"{text}"}}')
    if status is not None:
        exc.http_status = status  # type: ignore[attr-defined]
    return exc


def test_the_walk_finds_every_class_ccxt_declares() -> None:
    declared = {name for name in ccxt_errors.__all__ if name != "error_hierarchy"}
    assert declared <= {k.__name__ for k in CCXT_ERRORS}


@pytest.mark.parametrize("klass", CCXT_ERRORS, ids=lambda k: k.__name__)
def test_only_the_explicit_list_of_ccxt_classes_is_a_refusal(klass: type[BaseException]) -> None:
    assert is_refusal(_raised(klass)) is (klass.__name__ in DEFINITIVE_REFUSALS)
    assert is_refusal(_raised(klass, status=400)) is (klass.__name__ in DEFINITIVE_REFUSALS)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520, 408, 429])
@pytest.mark.parametrize("klass", CCXT_ERRORS, ids=lambda k: k.__name__)
def test_an_answer_with_a_5xx_is_never_a_refusal_whatever_class_its_body_maps_to(
    klass: type[BaseException], status: int
) -> None:
    assert not is_refusal(_raised(klass, status=status))


def test_a_class_ccxt_adds_later_and_plain_exceptions_are_unknown() -> None:
    class OrderSomethingNew(ccxt.InvalidOrder):  # a subclass nobody has read the meaning of yet
        pass

    class SomethingElse(ccxt.ExchangeError):
        pass

    assert not is_refusal(OrderSomethingNew("new"))
    assert not is_refusal(SomethingElse("new"))
    assert not is_refusal(Exception("boom"))
    assert not is_refusal(RuntimeError("boom"))
    assert not is_refusal(KeyError("id"))


@pytest.mark.parametrize(
    "text",
    [
        "Order creation timeout",  # Bybit 170146, which ccxt maps to InvalidOrder
        "Request timed out",
        "Internal error; unable to process your request.",
        "System error. Please try again later.",
        "Server is busy",
        "Service temporarily unavailable",
        "Send status unknown; execution status unknown.",
    ],
)
def test_a_refusal_class_whose_words_say_the_outcome_is_unknown_is_unknown(text: str) -> None:
    assert not is_refusal(_raised(ccxt.InvalidOrder, text=text))
    assert not is_refusal(_raised(ccxt.InsufficientFunds, status=400, text=text))


def test_order_not_found_is_an_answer_only_below_5xx() -> None:
    assert is_not_found(ccxt.OrderNotFound("Order does not exist."))
    assert is_not_found(_raised(ccxt.OrderNotFound, status=400))
    assert not is_not_found(_raised(ccxt.OrderNotFound, status=500))
    assert not is_not_found(ccxt.ExchangeError("Order does not exist."))


@pytest.mark.parametrize(
    ("status", "body", "refusal"),
    [
        (400, {"code": -2010, "msg": "Account has insufficient balance for requested action."}, True),
        (503, {"code": -2010, "msg": "Account has insufficient balance for requested action."}, False),
        (400, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}, True),
        (500, {"code": -1013, "msg": "Filter failure: LOT_SIZE"}, False),
        (500, {"code": -1001, "msg": "Internal error; unable to process your request."}, False),
        (400, {"code": -1100, "msg": "Illegal characters found in a parameter."}, False),  # BadRequest
    ],
)
def test_the_status_ccxt_saw_travels_on_the_exception_it_raises(
    status: int, body: dict[str, Any], refusal: bool
) -> None:
    client = ccxt.binance()  # the same error handling as the async client, with no session to close
    remember_http_status(client)
    remember_http_status(client)  # once is enough; twice changes nothing
    text = json.dumps(body)
    with pytest.raises(ccxt.BaseError) as raised:
        # What ccxt's fetch does with every answer: the exchange's own codes, then the HTTP status.
        client.handle_errors(status, "", "https://api/v3/order", "POST", {}, text, body, {}, "")
        client.handle_http_status_code(status, "", "https://api/v3/order", "POST", text)

    assert http_status(raised.value) == status
    assert is_refusal(raised.value) is refusal
