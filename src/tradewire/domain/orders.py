"""Orders and their state machine, written as a transition table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class OrderState(StrEnum):
    """Where an order stands. Only exchange events move an order past SUBMITTED."""

    NEW = "new"  # stored, not yet sent
    SUBMITTED = "submitted"  # sent; outcome unknown until the exchange answers
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED, OrderState.EXPIRED})


class RejectionKind(StrEnum):
    """Who decided that an order is REJECTED. Only our own conclusion that an order was lost can be
    overturned by the exchange; a refusal by the exchange and an order we never sent stay final."""

    EXCHANGE = "exchange"  # the exchange definitively refused the create
    NOT_SENT = "not_sent"  # we did not send it (its subscription's trading state, no exchange to ask)
    LOST = "lost"  # we concluded it never reached the exchange: not found by its client order id


# Final states that a late report may still add fills to: a fill and a cancel acknowledgement can cross
# on the wire (NautilusTrader's table marks CANCELED -> FILLED a "real world possibility"), and an
# exchange's trade history can lag its order status. Such orders are checked a few more times.
LATE_FILL_STATES = frozenset({OrderState.CANCELED, OrderState.EXPIRED})

_S = OrderState
# An ambiguous outcome (timeout) keeps an order SUBMITTED until it is found, or concluded lost after
# bounded lookups. A NEW order may be rejected before it is sent (its subscription was halted).
# A canceled or expired order stays final, but the exchange may still report that it filled.
ORDER_STATE_TABLE: dict[OrderState, frozenset[OrderState]] = {
    _S.NEW: frozenset({_S.SUBMITTED, _S.REJECTED}),
    _S.SUBMITTED: frozenset(
        {_S.SUBMITTED, _S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.REJECTED, _S.EXPIRED}
    ),
    _S.OPEN: frozenset({_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED}),
    _S.PARTIALLY_FILLED: frozenset({_S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED}),
    _S.FILLED: frozenset(),
    _S.CANCELED: frozenset({_S.CANCELED, _S.FILLED}),
    _S.REJECTED: frozenset(),
    _S.EXPIRED: frozenset({_S.EXPIRED, _S.FILLED}),
}


# A REJECTED order that we concluded lost was rejected by our conclusion, not by the exchange: if the
# exchange reports it after all (an order index that lags, a 5xx that hid it), it takes the state the
# exchange reports. These are the only edges out of REJECTED, and only for RejectionKind.LOST.
CONCLUDED_LOST_EDGES: frozenset[OrderState] = frozenset(
    {_S.OPEN, _S.PARTIALLY_FILLED, _S.FILLED, _S.CANCELED, _S.EXPIRED, _S.REJECTED}
)


# Orders whose effect on the position is not known yet: not yet answered by the exchange, or a
# market order not yet finished. A resting limit order is left out: it may rest for days, and what it
# has filled so far is already in the position.
OUTCOME_PENDING_STATES = frozenset({OrderState.NEW, OrderState.SUBMITTED})
MARKET_PENDING_STATES = frozenset(s for s in OrderState if s not in TERMINAL_STATES)


def outcome_pending(state: OrderState, order_type: OrderType) -> bool:
    """Whether a decision sized on the position now would miss what this order is about to do.

    The executor decides one intent of a subscription's symbol at a time: the next waits while an
    earlier order is outcome-pending, so an exit is never sized on the position as it was before a
    buy (or a sell) that is still on its way."""
    if order_type is OrderType.MARKET:
        return state in MARKET_PENDING_STATES
    return state in OUTCOME_PENDING_STATES


def edges(current: OrderState, rejection: RejectionKind | None = None) -> frozenset[OrderState]:
    """The states an order in `current` (rejected as `rejection`, if it is REJECTED) may move to."""
    if current is OrderState.REJECTED and rejection is RejectionKind.LOST:
        return CONCLUDED_LOST_EDGES
    return ORDER_STATE_TABLE[current]


def rechecked(state: OrderState, rejection: RejectionKind | None = None) -> bool:
    """Whether a final order is still looked up a few times: for fills reported late (canceled,
    expired), or because we, not the exchange, concluded it never arrived (REJECTED as LOST)."""
    return state in LATE_FILL_STATES or (state is OrderState.REJECTED and rejection is RejectionKind.LOST)


class IllegalTransition(RuntimeError):
    """An order was asked to move along an edge the state table does not have."""


def transition(current: OrderState, target: OrderState, rejection: RejectionKind | None = None) -> OrderState:
    """Return `target` if the table allows current → target, else raise IllegalTransition."""
    if target not in edges(current, rejection):
        raise IllegalTransition(f"order cannot go from {current.value} to {target.value}")
    return target


def after_report(
    current: OrderState, reported: OrderState, rejection: RejectionKind | None = None
) -> OrderState:
    """The state an exchange report moves an order to: `reported` along a table edge, else `current`.

    An exchange never reopens a final order, so a report the table refuses (a stale "open" that
    crossed a cancel on the wire) leaves the state as it is; the fills it carries count all the same.
    """
    return reported if reported in edges(current, rejection) else current


def state_from_exchange(status: str, filled: Decimal, amount: Decimal) -> OrderState:
    """Map a ccxt unified order status ('open', 'closed', 'canceled', ...) and fill to our state."""
    status = status.lower()
    if status in {"closed", "filled"}:
        return OrderState.FILLED
    if status in {"canceled", "cancelled"}:
        return OrderState.CANCELED
    if status == "rejected":
        return OrderState.REJECTED
    if status == "expired":
        return OrderState.EXPIRED
    if status in {"open", "new", "partially_filled"}:
        if filled > 0:
            # An amount of 0 is one the exchange did not say (a Coinbase market buy sized in quote):
            # an order still open is complete only when it filled an amount it stated.
            return OrderState.FILLED if 0 < amount <= filled else OrderState.PARTIALLY_FILLED
        return OrderState.OPEN
    raise ValueError(f"unknown exchange order status {status!r}")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What we ask an exchange to do; `client_order_id` makes a retry find the first order."""

    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    amount: Decimal
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution of an order on the exchange (ccxt's trade structure, the parts we keep)."""

    trade_id: str
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class ExchangeOrder:
    """An exchange's view of one order (ccxt's order structure, the parts we keep)."""

    exchange_order_id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    status: str
    amount: Decimal
    filled: Decimal
    average: Decimal | None
    price: Decimal | None
    trades: tuple[Trade, ...] = ()
    reason: str | None = None
    fee: Decimal | None = None  # cumulative, when the exchange reports it on the order
    fee_currency: str | None = None
    updated_ms: int | None = None  # when the exchange last traded on (or changed) it, by its clock

    @property
    def state(self) -> OrderState:
        return state_from_exchange(self.status, self.filled, self.amount)


# When an order seen canceled or expired (or concluded lost) is checked again for late fills, in
# seconds after it was seen so (and after each late fill): trades normally show within a second or
# two, a lagging trade history or order index within tens of seconds. Three lookups per order keep
# the cost of the window small.
LATE_FILL_CHECKS_S: tuple[float, ...] = (2.0, 10.0, 60.0)


def late_fill_check_delay_s(done: int, schedule: tuple[float, ...] = LATE_FILL_CHECKS_S) -> float | None:
    """Seconds until the next late-fill check after `done` of them, or None once the window is over."""
    if done >= len(schedule):
        return None
    previous = schedule[done - 1] if done > 0 else 0.0
    return max(0.0, schedule[done] - previous)


def next_check_delay_s(attempts: int, base_s: float = 0.5, cap_s: float = 30.0) -> float:
    """Exponential backoff between status checks of one order: 0.5, 1, 2, 4, … seconds, capped.

    Starts short: an order whose outcome is unknown should be settled within seconds.
    """
    return float(min(cap_s, base_s * (2 ** min(attempts, 16))))


def first_check_after_claim(now: datetime) -> datetime:
    """When an order claimed for sending is first looked up, should the exchange's answer never come
    (a crash, a timeout): as soon as after any first check."""
    return now + timedelta(seconds=next_check_delay_s(0))


class PostponedCheck(NamedTuple):
    """An order's next look at the exchange after its report could not be recorded."""

    check_attempts: int
    next_check_at: datetime


def postponed_check(check_attempts: int, now: datetime) -> PostponedCheck:
    """Count the failed check and back off as after any failed check: the order neither blocks the
    others nor is ever given up (the exchange keeps the truth)."""
    attempts = check_attempts + 1
    return PostponedCheck(attempts, now + timedelta(seconds=next_check_delay_s(attempts)))
