"""What new fills mean for positions: size, average entry, realised PnL and fees, dust closed with the
reason of the sale that left it, DCA tranches ticked off, and exit levels recomputed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from tradewire.domain.exit_plan import ExitPlan
from tradewire.domain.money import fmt
from tradewire.domain.orders import OrderSide
from tradewire.domain.positions import CloseReason, Position, PositionStatus, position_change
from tradewire.domain.records import OrderRecord
from tradewire.domain.settlement.orders import Anomaly, NewFill
from tradewire.domain.tranches import PositionPhase, phase_after

PositionKey = tuple[int | None, str]  # (subscription id, symbol): one open position each

# Records built once per fill or position are NamedTuples, as in orders.py: immutable and cheap.


class Automation(NamedTuple):
    """A position's exit levels, its phase and its DCA book (None: no such level, no such book).

    `tranches` is the DCA book as the exit monitor reads it: {"plan": the entry's ExitPlan as JSON,
    "first": the first fill's price, "pending": the tranches still to buy}.
    """

    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing_pct: Decimal | None = None
    trailing_activation_pct: Decimal | None = None
    best_price: Decimal | None = None
    deadline_at: datetime | None = None
    phase: PositionPhase | None = None
    tranches: dict[str, Any] | None = None


class OpenPosition(NamedTuple):
    """An open position as recorded: its id, its accounting, its automation and when it opened."""

    position_id: int
    position: Position
    automation: Automation
    opened_at: datetime


class PositionChange(NamedTuple):
    """A position after a batch's fills. `position_id` None: a new position, opened by `order`."""

    position_id: int | None
    position: Position
    automation: Automation
    order: OrderRecord  # the last order that moved it (its account, subscription, user and mode)


class ClosedResult(NamedTuple):
    """The net result (realised PnL less fees) of a position a batch closed."""

    account_id: int
    subscription_id: int | None
    net: Decimal


NO_AUTOMATION = Automation()  # a new position's, before its first fill
_PLAIN_OPEN = Automation(phase=PositionPhase.OPEN)  # a position opened without automation


@dataclass(slots=True)
class PositionsSettled:
    """Every position a batch moved (in the order first moved), what closed, and what to log."""

    changes: list[PositionChange] = field(default_factory=list)
    closed: list[ClosedResult] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)


def settle_positions(
    fills: Sequence[NewFill], open_positions: Mapping[PositionKey, OpenPosition], now: datetime
) -> PositionsSettled:
    """Apply new fills, in order, to the open positions of their (subscription, symbol); a buy where
    none is open opens one. A sale of more than the position holds changes nothing and is reported."""
    result = PositionsSettled()
    touched: dict[PositionKey, tuple[int | None, Position, Automation, datetime, OrderRecord]] = {}
    for fill in fills:
        order, trade = fill.order, fill.trade
        key = (order.subscription_id, order.symbol)
        if key in touched:
            position_id, position, automation, opened_at, _ = touched[key]
        elif key in open_positions:
            known = open_positions[key]
            position_id, position, automation, opened_at = (
                known.position_id,
                known.position,
                known.automation,
                known.opened_at,
            )
        else:
            position_id, position, automation, opened_at = None, Position(order.symbol), NO_AUTOMATION, now
            if order.tranche is not None and order.side is OrderSide.BUY:
                # A DCA buy that filled after its position was closed (an exit does not wait for a
                # buy's late checks): what it bought is closed at once, by a time limit of now.
                automation = _PLAIN_OPEN._replace(deadline_at=now)
                result.anomalies.append(
                    Anomaly(
                        f"order {order.client_order_id} (DCA tranche {order.tranche}) filled after its "
                        f"position was closed; the {order.symbol} it bought is sold at once",
                        severe=False,
                    )
                )
        amount, fee = position_change(
            order.side, trade.amount, trade.price, trade.fee, trade.fee_currency, order.symbol
        )
        if order.side is OrderSide.SELL and amount > position.amount:
            result.anomalies.append(
                Anomaly(
                    f"order {order.client_order_id} sold {amount} {order.symbol} but position holds "
                    f"{position.amount}; position left unchanged",
                    severe=True,
                )
            )
            continue
        reason = order.close_reason or CloseReason.SIGNAL
        changed = position.apply_fill(order.side, amount, trade.price, fee, reason)
        if order.side is OrderSide.SELL:
            changed = changed.settle_dust(fill.min_sellable, reason)
            automation = automation_after_sell(changed, automation)
        else:
            automation = automation_after_buy(order, changed, trade.price, automation, opened_at)
        touched[key] = (position_id, changed, automation, opened_at, order)
    for position_id, position, automation, _, order in touched.values():
        if position.status is PositionStatus.CLOSED:
            result.closed.append(
                ClosedResult(order.account_id, order.subscription_id, position.realized_pnl - position.fees)
            )
        result.changes.append(PositionChange(position_id, position, automation, order))
    return result


def automation_after_buy(
    order: OrderRecord, position: Position, price: Decimal, before: Automation, opened_at: datetime
) -> Automation:
    """Automation of a position after a buy: exit levels from the entry's plan at the new average entry
    (a DCA tranche moves percentage levels), the best price and original time limit kept; DCA tranches
    scheduled from the first fill, and ticked off as they fill. An entry without a plan (and no DCA
    book) leaves everything as it was."""
    dca = before.tranches
    plan = order.exit_plan or (ExitPlan.from_json(dca["plan"]) if dca else None)
    if plan is None:
        if before.phase is not None:
            return before
        return _PLAIN_OPEN if before == NO_AUTOMATION else before._replace(phase=PositionPhase.OPEN)
    best = max(before.best_price or price, price)
    levels = plan.levels(position.avg_entry, opened_at.timestamp(), best)
    if dca is None and plan.dca is not None and plan.later:
        pending = plan.dca.schedule(plan.later, price)
        dca = {"plan": plan.as_json(), "first": fmt(price), "pending": [t.as_json() for t in pending]}
    elif dca is not None and order.tranche is not None:
        dca = {**dca, "pending": [t for t in dca["pending"] if int(t["number"]) != order.tranche]}
    phase = phase_after(True, False, len(dca["pending"]) if dca else 0, before.phase)
    deadline = levels.deadline_s
    return Automation(
        stop_loss=levels.stop_loss,
        take_profit=levels.take_profit,
        trailing_pct=levels.trailing_pct,
        trailing_activation_pct=levels.trailing_activation_pct,
        best_price=levels.best_price,
        deadline_at=datetime.fromtimestamp(deadline, tz=UTC) if deadline is not None else None,
        phase=phase,
        tranches=dca,
    )


def automation_after_sell(position: Position, before: Automation) -> Automation:
    """A sale ends the building of a position: the tranches still to buy are dropped."""
    phase = phase_after(position.status is PositionStatus.OPEN, True, 0, None)
    tranches = {**before.tranches, "pending": []} if before.tranches else before.tranches
    return before._replace(phase=phase, tranches=tranches)
