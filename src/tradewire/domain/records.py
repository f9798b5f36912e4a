"""What the services and the store hand each other: plain, typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tradewire.domain.execution import LogStatus, Sizing
from tradewire.domain.orders import ExchangeOrder, OrderRequest, OrderSide, OrderState, OrderType
from tradewire.domain.risk import RiskLimits
from tradewire.domain.signals import MarketPosition, SignalAction


@dataclass(frozen=True, slots=True)
class NewSignal:
    """A validated signal to store (idempotently, by `dedup_key`)."""

    strategy_id: int
    dedup_key: str
    action: SignalAction
    ticker: str
    symbol: str
    contracts: Decimal | None
    price: Decimal | None
    signal_time: datetime | None
    details: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True, slots=True)
class SubscriptionTarget:
    """An active subscription that may receive a signal."""

    subscription_id: int
    user_id: int
    account_id: int
    pairs: list[str] | None


@dataclass(frozen=True, slots=True)
class WorkItem:
    """An execution intent still to be decided, with all it needs to decide."""

    intent_id: int
    signal_id: int
    subscription_id: int
    account_id: int
    user_id: int
    mode: str
    exchange: str
    symbol: str
    action: SignalAction
    contracts: Decimal | None
    signal_price: Decimal | None
    market_position: MarketPosition | None
    exit_ratio: tuple[Decimal, Decimal]
    sizing: Sizing
    strategy_id: int = 0
    risk: RiskLimits = field(default_factory=RiskLimits)
    signal_at: datetime | None = None  # when the signal was emitted (or received, if it has no time)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An intent that ends without an order, and why."""

    item: WorkItem
    reason: str
    log_status: LogStatus = LogStatus.SKIPPED
    details: dict[str, Any] | None = None  # e.g. each risk rule's verdict and numbers


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order to store before it is sent."""

    item: WorkItem
    client_order_id: str
    side: OrderSide
    type: OrderType
    amount: Decimal
    price: Decimal | None
    sizing_note: str | None = None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """Our stored view of one order."""

    order_id: int
    intent_id: int | None
    account_id: int
    subscription_id: int | None
    user_id: int
    mode: str
    exchange: str
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    amount: Decimal
    price: Decimal | None
    state: OrderState
    check_attempts: int = 0
    signal_id: int | None = None
    created_at: datetime | None = None
    sizing_note: str | None = None

    def request(self) -> OrderRequest:
        """The request that (re)sends this order, always under its own client order id."""
        return OrderRequest(self.client_order_id, self.symbol, self.side, self.type, self.amount, self.price)


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What an exchange said about an order (or that it could not say)."""

    order: OrderRecord
    exchange_order: ExchangeOrder | None = None
    rejected_reason: str | None = None
    unknown_reason: str | None = None
    response: dict[str, Any] = field(default_factory=dict)
    min_sellable: Decimal | None = None  # below this a remaining position is dust (market minimum)
