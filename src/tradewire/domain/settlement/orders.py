"""What an exchange's report means for our orders: new fills, the next state, the next check, the
execution log entry and the intent's status.

Every fill the exchange reports is recorded, whatever state the order is in: a fill reported after we
saw the order canceled is real money. The state itself only moves along the transition table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from tradewire.domain.execution import IntentStatus, LogStatus
from tradewire.domain.money import ZERO, fmt
from tradewire.domain.orders import (
    LATE_FILL_CHECKS_S,
    ExchangeOrder,
    IllegalTransition,
    OrderState,
    RejectionKind,
    Trade,
    after_report,
    late_fill_check_delay_s,
    next_check_delay_s,
    rechecked,
    transition,
)
from tradewire.domain.records import OrderOutcome, OrderRecord

# How often an order resting on the book (open, partially filled) is looked up.
OPEN_CHECK_S = 2.0

FOUND_AFTER_LOST = "found on the exchange after we concluded it never reached it"

# The records a batch yields by the thousand (a fan-out fills every subscriber at once) are NamedTuples:
# as immutable as frozen dataclasses, and several times cheaper to build.


@dataclass(slots=True)
class StoredOrder:
    """An order's recorded state and fill totals, kept current while one batch is settled."""

    state: OrderState
    filled: Decimal
    cost: Decimal  # Σ amount × price of the recorded fills
    fee: Decimal
    fee_currency: str | None
    late_checks: int = 0
    rejection: RejectionKind | None = None

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.filled if self.filled else None

    def copy(self) -> StoredOrder:
        return StoredOrder(
            self.state, self.filled, self.cost, self.fee, self.fee_currency, self.late_checks, self.rejection
        )

    def add(self, trade: Trade) -> None:
        self.filled += trade.amount
        self.cost += trade.amount * trade.price
        self.fee += trade.fee
        self.fee_currency = self.fee_currency or trade.fee_currency or None


class FillTotals(NamedTuple):
    """An order's fill totals as recorded after the report, with the exchange's id for it."""

    exchange_order_id: str
    filled: Decimal
    average: Decimal | None
    fee: Decimal
    fee_currency: str | None


class OrderChange(NamedTuple):
    """An order's new state and when it is looked up next (None: never again)."""

    order_id: int
    state: OrderState
    check_attempts: int
    next_check_at: datetime | None
    late_checks: int  # late-fill (or lost-order) checks done in the current window
    rejection: RejectionKind | None  # set only on a REJECTED order
    reason: str | None
    keeps_reason: bool = False  # the stored reason stays (a final order re-checked without news)
    totals: FillTotals | None = None  # None: the report carried no view of the order


class NewFill(NamedTuple):
    """A fill not recorded before, with the order it belongs to."""

    order: OrderRecord
    trade: Trade
    executed_at: datetime
    min_sellable: Decimal | None  # below this the position left is dust (the market's minimum)


class LogEntry(NamedTuple):
    """One line of the user's execution log about an order."""

    order: OrderRecord
    status: LogStatus
    reason: str
    response: dict[str, Any]


class IntentChange(NamedTuple):
    """An execution intent's new status. `late`: it follows a fill reported after the order was final
    (a failed intent turns done, and says why)."""

    intent_id: int
    status: IntentStatus
    reason: str
    late: bool = False

    @property
    def plain_done(self) -> bool:
        """Done on its order's first verdict: the fill is in the log; the intent records no reason."""
        return self.status is IntentStatus.DONE and not self.late


class Anomaly(NamedTuple):
    """Something an operator should read in the logs; the batch goes on without it."""

    text: str
    severe: bool = False


@dataclass(slots=True)
class OrdersSettled:
    """What one batch of exchange reports changes, in the order it was decided."""

    orders: list[OrderChange] = field(default_factory=list)
    fills: list[NewFill] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    intents: list[IntentChange] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)

    @property
    def position_keys(self) -> set[tuple[int | None, str]]:
        """(subscription, symbol) of every position a new fill moves."""
        return {(f.order.subscription_id, f.order.symbol) for f in self.fills}


def settle_orders(
    outcomes: Sequence[OrderOutcome],
    stored: Mapping[int, StoredOrder],
    seen_trades: set[tuple[int, str]],
    now: datetime,
    late_fill_checks: tuple[float, ...] = LATE_FILL_CHECKS_S,
) -> OrdersSettled:
    """Settle a batch of reports against the orders as recorded (`stored`, by order id) and the
    (order id, trade id) pairs recorded already. An outcome whose order is not in `stored` is skipped.
    Reports of one order later in the batch see what earlier ones recorded; the inputs stay as given.
    """
    batch = _Batch(now, late_fill_checks)
    current: dict[int, StoredOrder] = {}
    seen = set(seen_trades)
    for outcome in outcomes:
        order_id = outcome.order.order_id
        order = current.get(order_id)
        if order is None:
            if order_id not in stored:
                continue
            order = current[order_id] = stored[order_id].copy()
        batch.settle(outcome.order, order, outcome, seen)
    return batch.result


def new_fills(
    order_id: int, stored: StoredOrder, view: ExchangeOrder, seen: set[tuple[int, str]]
) -> list[Trade]:
    """The fills of `view` not yet recorded, never more in total than the exchange says is filled;
    each one returned is added to `seen`.

    Exchanges that list an order's trades give them with their ids; where they only report the
    cumulative fill (ccxt's `filled` / `average` / `fee`), the increment since the last record becomes
    one fill whose id is the cumulative amount, so seeing the same state twice records nothing.
    """
    fresh: list[Trade] = []
    total = stored.filled
    for trade in view.trades:
        if (order_id, trade.trade_id) in seen or total + trade.amount > view.filled:
            continue
        seen.add((order_id, trade.trade_id))
        fresh.append(trade)
        total += trade.amount
    missing = view.filled - total
    if missing > 0 and view.average is not None:
        cost_so_far = stored.cost + sum((t.amount * t.price for t in fresh), ZERO)
        fee_so_far = stored.fee + sum((t.fee for t in fresh), ZERO)
        trade_id = f"cum:{fmt(view.filled)}"
        if (order_id, trade_id) not in seen:
            seen.add((order_id, trade_id))
            fresh.append(
                Trade(
                    trade_id=trade_id,
                    amount=missing,
                    price=(view.average * view.filled - cost_so_far) / missing,
                    fee=max(ZERO, (view.fee or ZERO) - fee_so_far),
                    fee_currency=view.fee_currency or "",
                    timestamp_ms=0,
                )
            )
    return fresh


def log_verdict(state: OrderState, view: ExchangeOrder) -> tuple[LogStatus, str]:
    """The execution log's status and text for an order that reached `state` as `view` shows it."""
    filled = fmt(view.filled)
    average = fmt(view.average) if view.average is not None else "-"
    if state is OrderState.FILLED:
        return LogStatus.SUCCESS, f"filled {filled} {view.symbol} at {average}"
    if state is OrderState.PARTIALLY_FILLED:
        return (
            LogStatus.PARTIAL,
            f"partially filled {filled} of {fmt(view.amount)} {view.symbol} at {average}",
        )
    if state is OrderState.OPEN:
        return LogStatus.SUCCESS, f"order open on the exchange for {fmt(view.amount)} {view.symbol}"
    if view.filled > 0:
        return LogStatus.PARTIAL, f"{state.value} after filling {filled} of {fmt(view.amount)} {view.symbol}"
    return LogStatus.FAILED, f"{state.value}: {view.reason or 'no fill'}"


def next_check_at(
    state: OrderState,
    attempts: int,
    late_checks: int,
    rejection: RejectionKind | None,
    now: datetime,
    late_fill_checks: tuple[float, ...] = LATE_FILL_CHECKS_S,
) -> datetime | None:
    """When an order is looked up next: soon while its outcome is unknown (backing off), every few
    seconds while it rests on the book, a few more times once canceled, expired or concluded lost
    (late fills, a late sighting), and never once otherwise final."""
    if rechecked(state, rejection):
        delay = late_fill_check_delay_s(late_checks, late_fill_checks)
        return None if delay is None else now + timedelta(seconds=delay)
    if state.is_terminal:
        return None
    resting = state in (OrderState.OPEN, OrderState.PARTIALLY_FILLED)
    return now + timedelta(seconds=OPEN_CHECK_S if resting else next_check_delay_s(attempts))


class _Batch:
    """The decisions of one batch, in the order they are taken."""

    def __init__(self, now: datetime, late_fill_checks: tuple[float, ...]) -> None:
        self.now = now
        self.late_fill_checks = late_fill_checks
        self.result = OrdersSettled()
        self._times: dict[int, datetime] = {}  # by trade time (ms): one object per time

    def _executed_at(self, timestamp_ms: int) -> datetime:
        """When a trade executed (now if the exchange did not say): the fills of one batch mostly
        share a time, made once (and its text once, in its events)."""
        if not timestamp_ms:
            return self.now
        at = self._times.get(timestamp_ms)
        if at is None:
            at = self._times[timestamp_ms] = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
        return at

    def settle(
        self, order: OrderRecord, stored: StoredOrder, outcome: OrderOutcome, seen: set[tuple[int, str]]
    ) -> None:
        """Apply one outcome to the order as recorded now (the record may be older)."""
        if outcome.unknown_reason is not None:
            self._unknown(order, stored, outcome, outcome.unknown_reason)
        elif outcome.rejected_reason is not None or outcome.exchange_order is None:
            self._rejected(order, stored, outcome, outcome.rejected_reason or "rejected by the exchange")
        else:
            self._reported(order, stored, outcome, outcome.exchange_order, seen)

    def _unknown(self, order: OrderRecord, stored: StoredOrder, outcome: OrderOutcome, reason: str) -> None:
        """No answer: looked up again later; a final order keeps why it is final."""
        self._change(
            order.order_id,
            stored.state,
            order.check_attempts + 1,
            reason,
            stored.late_checks + 1,
            stored.rejection,
            keeps_reason=stored.state.is_terminal,
        )
        if order.check_attempts == 0:
            self._log(order, LogStatus.PENDING, reason, outcome.response)

    def _rejected(self, order: OrderRecord, stored: StoredOrder, outcome: OrderOutcome, reason: str) -> None:
        """Refused by the exchange, not sent, or concluded lost (our conclusion, not the exchange's:
        looked up a few more times)."""
        state = stored.state
        if state is OrderState.REJECTED or not self._allowed(order, state, OrderState.REJECTED):
            return
        self._change(order.order_id, OrderState.REJECTED, order.check_attempts, reason, 0, outcome.rejection)
        stored.state, stored.rejection, stored.late_checks = OrderState.REJECTED, outcome.rejection, 0
        self._log(order, LogStatus.FAILED, reason, outcome.response)
        self._intent(order, IntentStatus.FAILED, reason)

    def _reported(
        self,
        order: OrderRecord,
        stored: StoredOrder,
        outcome: OrderOutcome,
        view: ExchangeOrder,
        seen: set[tuple[int, str]],
    ) -> None:
        state, rejection, reported = stored.state, stored.rejection, view.state
        target = after_report(state, reported, rejection)
        # An order we concluded lost that the exchange reports after all: found (any state but
        # rejected), or refused by the exchange itself.
        found = rejection is RejectionKind.LOST and target is not OrderState.REJECTED
        refused_late = rejection is RejectionKind.LOST and reported is OrderState.REJECTED
        if target is OrderState.REJECTED and reported is OrderState.REJECTED:
            rejection = RejectionKind.EXCHANGE
        if target is not reported and reported is not state:
            self.result.anomalies.append(
                Anomaly(
                    f"order {order.order_id} (client {order.client_order_id}): the exchange reports "
                    f"{reported.value} after {state.value}; keeping {state.value}, recording its fills"
                )
            )
        fresh = new_fills(order.order_id, stored, view, seen)
        for trade in fresh:
            executed_at = self._executed_at(trade.timestamp_ms)
            self.result.fills.append(NewFill(order, trade, executed_at, outcome.min_sellable))
            stored.add(trade)
        # A window of late-fill checks opens when an order is seen canceled or expired, and again
        # after each late fill; each check without news uses one of its few lookups.
        late_checks = 0 if target is not state or fresh else stored.late_checks + 1
        why = view.reason
        if refused_late:
            why = f"rejected by the exchange after we concluded it never reached it: {why or '-'}"
        self._change(
            order.order_id,
            target,
            order.check_attempts + 1,
            why,
            late_checks,
            rejection,
            # Nothing new: it stays rejected for the reason it was.
            keeps_reason=target is OrderState.REJECTED and state is OrderState.REJECTED and not refused_late,
            totals=FillTotals(
                view.exchange_order_id, stored.filled, stored.average, stored.fee, stored.fee_currency
            ),
        )
        stored.state, stored.late_checks = target, late_checks
        stored.rejection = rejection if target is OrderState.REJECTED else None
        if found:
            self.result.anomalies.append(
                Anomaly(
                    f"order {order.order_id} (client {order.client_order_id}): found on the exchange "
                    f"({target.value}) after we concluded it never reached it"
                )
            )
        if target != state:
            self._verdict(order, stored, outcome, view, state, target, found)
        elif refused_late and why is not None:
            self._log(order, LogStatus.FAILED, why, outcome.response)
            self._intent(order, IntentStatus.FAILED, why)
        elif fresh and state.is_terminal:
            more = sum((t.amount for t in fresh), ZERO)
            average = fmt(stored.average) if stored.average is not None else "-"
            text = (
                f"{fmt(more)} {order.symbol} more filled after the order was {state.value}: "
                f"{fmt(stored.filled)} of {fmt(order.amount)} filled in all at {average}"
            )
            self._log(order, LogStatus.PARTIAL, text, outcome.response)
            self._intent(order, IntentStatus.DONE, text, late=True)

    def _verdict(
        self,
        order: OrderRecord,
        stored: StoredOrder,
        outcome: OrderOutcome,
        view: ExchangeOrder,
        state: OrderState,
        target: OrderState,
        found: bool,
    ) -> None:
        """The log entry and intent status of an order that moved from `state` to `target`."""
        status, text = log_verdict(target, view)
        if found:
            text = f"{text} ({FOUND_AFTER_LOST})"
        elif state.is_terminal:
            text = f"{text} (reported after the order was {state.value})"
        # The first answer and the final fill both say how the order was sized (a live order may be
        # seen open first and filled on a later check).
        first = state in (OrderState.NEW, OrderState.SUBMITTED) or found
        if order.sizing_note and (first or (target.is_terminal and stored.filled > 0)):
            label = order.close_reason.value if order.close_reason else "sized"
            text = f"{text}; {label}: {order.sizing_note}"
        self._log(order, status, text, outcome.response)
        if not target.is_terminal:
            if found:  # in flight again: the intent waits for the order, like any other
                self._intent(order, IntentStatus.ORDERED, text, late=True)
        elif stored.filled == 0:
            self._intent(order, IntentStatus.FAILED, text)
        else:
            self._intent(order, IntentStatus.DONE, text, late=state.is_terminal)

    def _allowed(self, order: OrderRecord, state: OrderState, target: OrderState) -> bool:
        try:
            transition(state, target)
        except IllegalTransition as exc:
            text = f"order {order.order_id} (client {order.client_order_id}): {exc}; keeping {state.value}"
            self.result.anomalies.append(Anomaly(text))
            return False
        return True

    def _change(
        self,
        order_id: int,
        state: OrderState,
        attempts: int,
        reason: str | None,
        late_checks: int,
        rejection: RejectionKind | None,
        keeps_reason: bool = False,
        totals: FillTotals | None = None,
    ) -> None:
        """An order's new state and its next check: none once final, except for the few late checks
        of a canceled or expired order, or of one we concluded lost."""
        rejection = rejection if state is OrderState.REJECTED else None
        self.result.orders.append(
            OrderChange(
                order_id=order_id,
                state=state,
                check_attempts=attempts,
                next_check_at=next_check_at(
                    state, attempts, late_checks, rejection, self.now, self.late_fill_checks
                ),
                late_checks=late_checks if rechecked(state, rejection) else 0,
                rejection=rejection,
                reason=reason,
                keeps_reason=keeps_reason,
                totals=totals,
            )
        )

    def _log(self, order: OrderRecord, status: LogStatus, reason: str, response: dict[str, Any]) -> None:
        self.result.log.append(LogEntry(order, status, reason, response))

    def _intent(self, order: OrderRecord, status: IntentStatus, reason: str, late: bool = False) -> None:
        if order.intent_id is not None:
            self.result.intents.append(IntentChange(order.intent_id, status, reason, late))
