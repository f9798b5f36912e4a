"""Execution intents and how one signal becomes one order (or a reasoned skip) for one subscription."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tradewire.domain.markets import Market, OrderRejected
from tradewire.domain.money import ZERO, fmt
from tradewire.domain.orders import OrderSide, OrderType
from tradewire.domain.signals import MarketPosition, SignalAction
from tradewire.domain.sizing import Sizing, SizingError, SizingMode, TradeStats
from tradewire.domain.tranches import DcaPlan


class IntentStatus(StrEnum):
    """An execution intent's life (one per signal and subscription):

        created ─► ordered ─► done | failed          an order was stored and sent
        created ─► rejected | failed                  refused (risk, sizing, market) or kept failing
        created ─► awaiting_confirmation ─► created   an entry of a subscription that asks a human
                                        └─► rejected  (declined, or not confirmed in time)

    Only entries wait; a confirmed intent (`confirmed_at` set) is decided afresh and never waits
    again (domain/confirmation.py)."""

    CREATED = "created"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    ORDERED = "ordered"
    DONE = "done"
    REJECTED = "rejected"
    FAILED = "failed"


class LogStatus(StrEnum):
    """Outcome of one execution attempt, as the execution log records it."""

    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    PARTIAL = "PARTIAL"
    SKIPPED = "SKIPPED"
    PENDING = "PENDING"  # sent, outcome not yet known: the order is looked up, never blindly resent
    WAITING = "WAITING"  # an entry proposed to its owner, waiting for a confirmation


class SubscriptionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    CANCELLED = "CANCELLED"


def pair_matches(pairs: Sequence[str] | None, symbol: str) -> bool:
    """A subscription with no pair list takes every pair; otherwise only the listed ones."""
    return pairs is None or symbol in pairs


@dataclass(frozen=True, slots=True)
class OrderPlan:
    """An order ready to be stored and sent."""

    side: OrderSide
    type: OrderType
    amount: Decimal
    reference_price: Decimal
    limit_price: Decimal | None = None
    sizing_note: str | None = None
    later: tuple[Decimal, ...] = ()  # DCA: the tranches after this first one, bought by the monitor
    sizing_equity: Decimal | None = None  # the account equity an entry was sized against
    verdicts: list[dict[str, Any]] | None = None  # an approved entry's risk rules, each with its numbers
    market_price: Decimal | None = None  # an entry's market price when decided (a limit may differ)


@dataclass(frozen=True, slots=True)
class Skip:
    """Why a signal did not trade on one subscription (and, for risk rules, each rule's numbers)."""

    reason: str
    details: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SpotSignal:
    """The parts of a signal that decide a spot order."""

    action: SignalAction
    contracts: Decimal | None
    market_position: MarketPosition | None
    exit_ratio: tuple[Decimal, Decimal] = (Decimal(1), Decimal(1))


def plan_spot_order(
    signal: SpotSignal,
    sizing: Sizing,
    market: Market,
    price: Decimal,
    position_amount: Decimal,
    equity: Decimal | None,
    stats: TradeStats | None = None,
) -> OrderPlan | Skip:
    """Decide the market order a spot account places for a signal.

    Spot accounts hold longs only: BUY opens or adds to the long, SELL and EXIT reduce or close it.
    A short entry can only close the long (the short side needs a derivatives account).
    """
    if signal.action is SignalAction.BUY:
        if signal.market_position in (MarketPosition.FLAT, MarketPosition.SHORT):
            return Skip("signal covers a short; spot accounts hold no short positions")
        try:
            sized = sizing.entry(price, equity, signal.contracts, stats, market.quote)
        except SizingError as exc:
            return Skip(str(exc))
        return _checked(OrderSide.BUY, sized.amount, price, market, sized.note)
    if position_amount <= ZERO:
        return Skip(f"no open long position in {market.symbol} to close")
    sold, before = signal.exit_ratio
    if sold >= before:
        amount, note = position_amount, f"the whole position {fmt(position_amount)}"
    else:
        amount = position_amount * sold / before
        note = f"the strategy sold {fmt(sold)} of {fmt(before)}: that share of {fmt(position_amount)}"
    return _checked(OrderSide.SELL, amount, price, market, note)


def split_into_tranches(plan: OrderPlan, dca: DcaPlan, market: Market) -> OrderPlan | Skip:
    """A new position's entry split by its DCA plan: this order buys the first tranche; the later ones
    must each be big enough for the market at today's price, or the entry is refused as a whole."""
    first, later = dca.split(plan.amount)
    amounts = (first, *later)
    for number, amount in enumerate(amounts, start=1):
        try:
            market.prepare(amount, plan.reference_price)
        except OrderRejected as exc:
            return Skip(f"DCA in {dca.tranches} tranches: tranche {number} would be refused: {exc}")
    rounded, _ = market.prepare(first, plan.reference_price)
    note = f"DCA {dca.mode.value}: tranche 1/{dca.tranches} of {fmt(plan.amount)} in all"
    sizing = f"{plan.sizing_note}; {note}" if plan.sizing_note else note
    return replace(plan, amount=rounded, later=later, sizing_note=sizing)


def _checked(
    side: OrderSide, amount: Decimal, price: Decimal, market: Market, note: str | None
) -> OrderPlan | Skip:
    try:
        rounded, _ = market.prepare(amount, price)
    except OrderRejected as exc:
        return Skip(str(exc))
    return OrderPlan(
        side=side, type=OrderType.MARKET, amount=rounded, reference_price=price, sizing_note=note
    )


__all__ = ["Sizing", "SizingError", "SizingMode", "TradeStats"]
