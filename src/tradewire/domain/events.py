"""What a change tells its users: the events of the live channel (WebSocket /api/v1/ws). Pure.

Every write of the execution pipeline (a signal stored or routed, decisions, claims, a settled batch,
the platform's own orders), of backtests and of bots names the events it makes here; the store writes
them in the same transaction as the change (the `events` outbox), so a client that reconnects gets
exactly what it missed. Each event belongs to one user; the store numbers each user's events 1, 2, 3 …

Data is JSON-ready and total: exact decimals as strings, times as ISO 8601, enums as their values, and
a value of an unexpected type as its text, so building events never fails a trading transaction.
A strategy's owner hears of its signals and subscriber counts (`provider`), never of a subscriber's
account, intents or orders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from tradewire.domain.json_values import json_fields, plain
from tradewire.domain.positions import Position, PositionStatus
from tradewire.domain.records import (
    NewSignal,
    OrderOutcome,
    OrderRecord,
    Proposal,
    Rejection,
    SubscriptionTarget,
)
from tradewire.domain.settlement import OrdersSettled, PositionChange, StoredOrder


class Topic(StrEnum):
    """What a client subscribes to."""

    SIGNALS = "signals"  # signals of strategies the user owns, or that reached their subscriptions
    INTENTS = "intents"  # one per signal and subscription, with why it did or did not trade
    ORDERS = "orders"
    FILLS = "fills"
    POSITIONS = "positions"  # with realised PnL and fees on every change
    BALANCES = "balances"  # a paper account's balances after each change (live ones live on exchanges)
    BOTS = "bots"
    BACKTESTS = "backtests"  # queued, running (progress), done, failed
    PROVIDER = "provider"  # a strategy owner's signals and subscriber counts
    RISK = "risk"  # daily loss limit reached, drawdown warning and pause, a circuit breaker opening


class Event(NamedTuple):
    """One event for one user; the store gives it its number and time."""

    user_id: int
    topic: Topic
    type: str
    data: dict[str, Any]


# -- signals and routing -----------------------------------------------------------------------------


class SignalFacts(NamedTuple):
    """A stored signal as its events show it (no details: an alert's text stays with its owner)."""

    signal_id: int
    strategy_id: int
    action: Any
    ticker: str
    symbol: str
    contracts: Decimal | None
    price: Decimal | None
    received_at: datetime

    @classmethod
    def of(cls, signal_id: int, signal: NewSignal) -> SignalFacts:
        return cls(
            signal_id,
            signal.strategy_id,
            signal.action,
            signal.ticker,
            signal.symbol,
            signal.contracts,
            signal.price,
            signal.received_at,
        )

    def data(self, **more: Any) -> dict[str, Any]:
        return json_fields(**self._asdict(), **more)


def signal_received(owner_id: int, signal: SignalFacts) -> list[Event]:
    """A signal stored for the first time: its strategy's owner sees it."""
    return [Event(owner_id, Topic.SIGNALS, "received", signal.data())]


class NewIntent(NamedTuple):
    """An intent a routing stored (not one stored before), with its target."""

    intent_id: int
    target: SubscriptionTarget


def signal_routed(
    owner_id: int, signal: SignalFacts, status: str | None, intents: Sequence[NewIntent]
) -> list[Event]:
    """A signal routed (`status`: routed or unresolved; None when routed before and only new intents
    were stored): each subscriber it reached sees the signal and their intents; the owner sees how
    many subscriptions it reached (and nothing of whose)."""
    events: list[Event] = []
    reached: set[int] = set()
    received = signal.data()  # every subscriber's event shares it (event data is never changed)
    for intent in intents:
        user_id = intent.target.user_id
        if user_id not in reached and user_id != owner_id:
            reached.add(user_id)
            events.append(Event(user_id, Topic.SIGNALS, "received", received))
        events.append(
            Event(
                user_id,
                Topic.INTENTS,
                "created",
                json_fields(
                    intent_id=intent.intent_id,
                    signal_id=signal.signal_id,
                    subscription_id=intent.target.subscription_id,
                    account_id=intent.target.account_id,
                    symbol=signal.symbol,
                    action=signal.action,
                    status="created",
                ),
            )
        )
    if status is not None:
        summary = signal.data(status=status, subscriptions=len(intents))
        events.append(Event(owner_id, Topic.PROVIDER, "signal", summary))
    return events


def signal_failed(owner_id: int, signal_id: int, strategy_id: int, reason: str) -> list[Event]:
    """A signal whose routing kept failing, marked failed: its owner sees why."""
    data = json_fields(signal_id=signal_id, strategy_id=strategy_id, status="failed", reason=reason)
    return [Event(owner_id, Topic.SIGNALS, "failed", data)]


# -- decisions, orders and claims --------------------------------------------------------------------


class FailedIntent(NamedTuple):
    """An intent marked failed after its last attempt, with its owner."""

    intent_id: int
    user_id: int
    signal_id: int
    subscription_id: int
    reason: str


def _intent(
    user_id: int,
    intent_id: int | None,
    signal_id: int | None,
    subscription_id: int | None,
    status: str,
    **more: Any,
) -> Event:
    """An intent's new status, with what says why (reason, risk details) or what followed (order)."""
    data = json_fields(
        intent_id=intent_id, signal_id=signal_id, subscription_id=subscription_id, status=status, **more
    )
    return Event(user_id, Topic.INTENTS, status, data)


def decided(
    rejections: Sequence[Rejection],
    failed: Sequence[FailedIntent],
    new_orders: Sequence[OrderRecord],
    proposals: Sequence[Proposal] = (),
) -> list[Event]:
    """A page of decisions: intents rejected (with the reason and the risk rules' verdicts), failed,
    ordered (with the new order), or awaiting their owner's confirmation (with the proposal)."""
    events: list[Event] = []
    for p in proposals:
        item = p.item
        data = json_fields(
            intent_id=item.intent_id,
            signal_id=item.signal_id,
            subscription_id=item.subscription_id,
            status="awaiting_confirmation",
            via=item.confirmation.via,
            confirm_by=p.confirm_by,
            proposal=p.terms,
        )
        events.append(Event(item.user_id, Topic.INTENTS, "proposed", data))
    for r in failed:
        events.append(
            _intent(r.user_id, r.intent_id, r.signal_id, r.subscription_id, "failed", reason=r.reason)
        )
    for rejection in rejections:
        item = rejection.item
        reason, details = rejection.reason, rejection.details
        events.append(
            _intent(
                item.user_id,
                item.intent_id,
                item.signal_id,
                item.subscription_id,
                "rejected",
                reason=reason,
                details=details,
            )
        )
    for order in new_orders:
        events.append(
            _intent(
                order.user_id,
                order.intent_id,
                order.signal_id,
                order.subscription_id,
                "ordered",
                order_id=order.order_id,
            )
        )
        events.append(order_placed(order))
    return events


def answered(
    user_id: int,
    intent_id: int,
    signal_id: int,
    subscription_id: int,
    kind: str,
    status: str,
    reason: str | None = None,
) -> Event:
    """The end of a proposal (`kind`): confirmed (the intent is `created` again, to be decided
    afresh), declined or expired (`rejected`, with the reason)."""
    data = json_fields(
        intent_id=intent_id,
        signal_id=signal_id,
        subscription_id=subscription_id,
        status=status,
        reason=reason,
    )
    return Event(user_id, Topic.INTENTS, kind, data)


def order_placed(order: OrderRecord) -> Event:
    """A new order, stored before it is sent."""
    data = json_fields(
        order_id=order.order_id,
        intent_id=order.intent_id,
        signal_id=order.signal_id,
        account_id=order.account_id,
        subscription_id=order.subscription_id,
        position_id=order.position_id,
        mode=order.mode,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        amount=order.amount,
        price=order.price,
        state=order.state,
        close_reason=order.close_reason,
        tranche=order.tranche,
        sizing_note=order.sizing_note,
    )
    return Event(order.user_id, Topic.ORDERS, "new", data)


def orders_placed(orders: Iterable[OrderRecord]) -> list[Event]:
    return [order_placed(o) for o in orders]


def orders_submitted(claimed: Iterable[tuple[int, int]]) -> list[Event]:
    """Orders (order id, user id) claimed for sending: on their way to the exchange."""
    return [
        Event(user_id, Topic.ORDERS, "updated", {"order_id": order_id, "state": "submitted"})
        for order_id, user_id in claimed
    ]


# -- settlement --------------------------------------------------------------------------------------


def settled(
    outcomes: Sequence[OrderOutcome],
    stored: Mapping[int, StoredOrder],
    result: OrdersSettled,
    positions: Sequence[tuple[int, PositionChange]],
) -> list[Event]:
    """A settled batch of exchange reports: each order whose state or fills changed (once, as it ends
    the batch), each new fill, each position moved (`positions`: with their ids, new ones included)
    and each intent's new status with its reason."""
    records = {o.order.order_id: o.order for o in outcomes}
    by_intent = {o.order.intent_id: o.order for o in outcomes if o.order.intent_id is not None}
    last = {change.order_id: change for change in result.orders}
    events: list[Event] = []
    for order_id, change in last.items():
        before = stored.get(order_id)
        totals = change.totals
        filled = totals.filled if totals is not None else None
        if before is not None and change.state is before.state and filled in (None, before.filled):
            continue  # looked up, nothing new
        data = json_fields(order_id=order_id, state=change.state)
        if not change.keeps_reason:
            data["reason"] = change.reason
        if totals is not None:
            data |= json_fields(filled=totals.filled, average=totals.average, fee=totals.fee)
            data["fee_currency"] = totals.fee_currency
        events.append(Event(records[order_id].user_id, Topic.ORDERS, "updated", data))
    times: dict[int, str] = {}  # a batch's fills mostly share their time (one object): formatted once
    for fill in result.fills:
        order, trade = fill.order, fill.trade
        executed_at = times.get(id(fill.executed_at))
        if executed_at is None:
            executed_at = times[id(fill.executed_at)] = plain(fill.executed_at)
        data = json_fields(
            order_id=order.order_id,
            account_id=order.account_id,
            symbol=order.symbol,
            side=order.side,
            trade_id=trade.trade_id,
            amount=trade.amount,
            price=trade.price,
            fee=trade.fee,
            fee_currency=trade.fee_currency,
            executed_at=executed_at,
        )
        events.append(Event(order.user_id, Topic.FILLS, "new", data))
    events += [position_moved(position_id, moved) for position_id, moved in positions]
    for intent in result.intents:
        owner = by_intent.get(intent.intent_id)
        if owner is None:
            continue
        data = json_fields(
            intent_id=intent.intent_id,
            signal_id=owner.signal_id,
            subscription_id=owner.subscription_id,
            order_id=owner.order_id,
            status=intent.status,
            reason=None if intent.plain_done else intent.reason,
        )
        events.append(Event(owner.user_id, Topic.INTENTS, plain(intent.status), data))
    return events


def position_fields(
    position_id: int, account_id: int, subscription_id: int | None, mode: str, p: Position, **more: Any
) -> dict[str, Any]:
    """What every event about a position says of it (JSON-ready), and `more`."""
    return json_fields(
        position_id=position_id,
        account_id=account_id,
        subscription_id=subscription_id,
        mode=mode,
        symbol=p.symbol,
        side="long",
        status=p.status,
        amount=p.amount,
        avg_entry=p.avg_entry,
        cost_basis=p.cost_basis,
        realized_pnl=p.realized_pnl,
        fees=p.fees,
        close_reason=p.close_reason,
        **more,
    )


def position_moved(position_id: int, change: PositionChange) -> Event:
    """A position after fills: opened, changed or closed, with its realised PnL and fees."""
    p, a, order = change.position, change.automation, change.order
    opened = change.position_id is None
    kind = "closed" if p.status is PositionStatus.CLOSED else "opened" if opened else "changed"
    data = position_fields(
        position_id,
        order.account_id,
        order.subscription_id,
        order.mode,
        p,
        stop_loss=a.stop_loss,
        take_profit=a.take_profit,
        trailing_pct=a.trailing_pct,
        best_price=a.best_price,
        deadline_at=a.deadline_at,
        phase=a.phase,
    )
    return Event(order.user_id, Topic.POSITIONS, kind, data)


# -- backtests and bots ------------------------------------------------------------------------------


def backtest_changed(
    user_id: int, backtest_id: int, status: str, progress: float | None = None, error: str | None = None
) -> Event:
    """A backtest queued, running (with its progress, 0 … 1), done or failed."""
    data = json_fields(backtest_id=backtest_id, status=status, progress=progress)
    if error is not None:
        data["error"] = error
    return Event(user_id, Topic.BACKTESTS, status if progress is None else "progress", data)


def bot_changed(
    user_id: int,
    bot_id: int,
    status: str,
    enabled: bool | None,
    settings: Mapping[str, Any] | None = None,
    kind: str = "changed",
) -> Event:
    """A bot `created`, started or stopped (`changed`: the bot_changed notice) or `retuned` (its
    definition alone): its subscription's status, whether it is evaluated, and its rules (`settings`:
    min_temperature, confirmation_minutes, cooldown_minutes)."""
    data = json_fields(bot_id=bot_id, status=status, enabled=enabled)
    if settings is not None:
        data["settings"] = plain(settings)
    return Event(user_id, Topic.BOTS, kind, data)


def subscribers_counted(owner_id: int, strategy_id: int, active: int, total: int) -> Event:
    """A strategy's subscriber counts, for its owner (no subscriber named)."""
    data = json_fields(strategy_id=strategy_id, active=active, subscriptions=total)
    return Event(owner_id, Topic.PROVIDER, "subscribers", data)


class StoredEvent(NamedTuple):
    """An event as the outbox holds it: its user, its number, and its data as stored JSON text."""

    user_id: int
    id: int
    topic: str
    type: str
    ts: str  # ISO 8601, UTC
    data: str  # JSON

    def message(self) -> str:
        """The event as the live channel sends it: {"id","topic","type","ts","data"} (the stored JSON
        of `data` spliced in as it is, never parsed again)."""
        return (
            f'{{"id":{self.id},"topic":{_quoted(self.topic)},"type":{_quoted(self.type)},'
            f'"ts":{_quoted(self.ts)},"data":{self.data}}}'
        )


def _quoted(text: str) -> str:
    return json.dumps(text)


def balances_changed(user_id: int, account_id: int, assets: Mapping[str, tuple[Decimal, Decimal]]) -> Event:
    """A paper account's balances of the assets a change touched, as stored: free, used and total."""
    data = {
        "account_id": account_id,
        "mode": "paper",
        "assets": {a: json_fields(free=f, used=u, total=f + u) for a, (f, u) in sorted(assets.items())},
    }
    return Event(user_id, Topic.BALANCES, "changed", data)
