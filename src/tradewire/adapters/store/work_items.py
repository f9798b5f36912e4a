"""A pending intent read for its decision: the query of an intent still to decide with its signal,
subscription, strategy and account (PENDING), and how one of its rows becomes a WorkItem, each signal's
details and each distinct settings text parsed once per page (SqlIntents.pending_work_page)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Text, cast, select

from tradewire.adapters.store.tables import (
    exchange_accounts,
    execution_intents,
    signals,
    strategies,
    subscriptions,
)
from tradewire.adapters.store.values import decimal_or_none, signal_intent
from tradewire.domain.confirmation import TradeConfirmation, proposed_at
from tradewire.domain.entry_order import EntryOrder
from tradewire.domain.execution import IntentStatus, SubscriptionStatus
from tradewire.domain.exits import ExitRules
from tradewire.domain.orders import OrderType
from tradewire.domain.platform import Restrictions
from tradewire.domain.records import WorkItem
from tradewire.domain.risk import RiskLimits, TradingState
from tradewire.domain.signals import SignalIntent
from tradewire.domain.sizing import Sizing, SizingMode, SizingParams
from tradewire.domain.track_record import StrategyCurve
from tradewire.domain.tranches import DcaPlan

T = TypeVar("T")


def _text(column: Any) -> Any:
    """A JSON column read as its stored text (parsed by work_item once per distinct text: a fan-out's
    subscriptions mostly share their settings)."""
    return cast(column, Text).label(column.name)


# An intent still to decide, with its signal, subscription, strategy and account (work_item reads a row).
PENDING = (
    select(
        execution_intents.c.id,
        execution_intents.c.signal_id,
        execution_intents.c.subscription_id,
        execution_intents.c.account_id,
        execution_intents.c.user_id,
        exchange_accounts.c.mode,
        exchange_accounts.c.exchange,
        signals.c.symbol,
        signals.c.ticker,
        signals.c.action,
        signals.c.contracts,
        signals.c.price,
        _text(signals.c.details),  # parsed once per signal (signal_parts), not per row
        subscriptions.c.sizing_mode,
        subscriptions.c.sizing_value,
        _text(subscriptions.c.sizing_params),
        subscriptions.c.strategy_id,
        _text(subscriptions.c.risk_limits),
        _text(subscriptions.c.exit_rules),
        _text(subscriptions.c.dca),
        _text(subscriptions.c.entry_order),
        subscriptions.c.trading_state,
        subscriptions.c.status.label("subscription_status"),
        subscriptions.c.pnl_total,
        subscriptions.c.pnl_peak,
        subscriptions.c.confirmation,
        subscriptions.c.confirmation_timeout_s,
        subscriptions.c.max_confirm_drift_pct,
        _text(execution_intents.c.proposal),
        execution_intents.c.confirmed_at,
        strategies.c.track_index,
        strategies.c.track_peak,
        signals.c.signal_time,
        signals.c.received_at,
        execution_intents.c.attempts,
    )
    .join(signals, signals.c.id == execution_intents.c.signal_id)
    .join(subscriptions, subscriptions.c.id == execution_intents.c.subscription_id)
    .join(strategies, strategies.c.id == subscriptions.c.strategy_id)
    .join(exchange_accounts, exchange_accounts.c.id == execution_intents.c.account_id)
    .where(execution_intents.c.status == IntentStatus.CREATED.value)
    .order_by(execution_intents.c.id)
)


_UNRESTRICTED = Restrictions()


class SignalParts(NamedTuple):
    """What a work item takes from its signal's row (the same for every intent of the signal)."""

    intent: SignalIntent
    stop_loss: Decimal | None
    take_profit: Decimal | None
    order_type: OrderType | None
    confidence: Any
    strategy_drawdown_pct: Decimal | None


def signal_parts(r: Any) -> SignalParts:
    details = _parsed(r["details"]) or {}
    return SignalParts(
        signal_intent(r["action"], details),
        decimal_or_none(details.get("stop_loss")),
        decimal_or_none(details.get("take_profit")),
        _order_type(details.get("order_type")),
        details.get("confidence"),
        StrategyCurve(r["track_index"], r["track_peak"]).drawdown_pct,
    )


class Settings:
    """A subscription's settings as read from their stored JSON, each distinct text parsed once
    (settings are immutable: work items share them). A value already parsed is parsed as it is."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[Any, ...], Any] = {}

    def of(self, parse: Callable[[Any], T], raw: Any) -> T:
        if not isinstance(raw, str):
            return parse(raw)
        key = (parse, raw)
        found: T = self._parsed.get(key, _MISSING)
        if found is _MISSING:
            found = self._parsed[key] = parse(json.loads(raw))
        return found

    def confirmation(self, via: Any, timeout_s: Any, max_drift_pct: Any) -> TradeConfirmation:
        # The drift as written (a Decimal equal to another may print otherwise).
        key = (TradeConfirmation, via, timeout_s, str(max_drift_pct))
        found: TradeConfirmation | None = self._parsed.get(key)
        if found is None:
            found = self._parsed[key] = TradeConfirmation.of(via, timeout_s, max_drift_pct)
        return found


_MISSING: Any = object()


def _parsed(raw: Any) -> Any:
    """A JSON column's value read as text (_text), parsed; one read as JSON already, as it is."""
    return json.loads(raw) if isinstance(raw, str) else raw


def work_item(
    r: Any,
    limits: Restrictions = _UNRESTRICTED,
    signals: dict[int, SignalParts] | None = None,
    settings: Settings | None = None,
) -> WorkItem:
    """The work item of a row of PENDING; `signals` keeps each signal's parts for the next rows, and
    `settings` the subscription settings parsed so far."""
    signal = signals.get(r["signal_id"]) if signals is not None else None
    if signal is None:
        signal = signal_parts(r)
        if signals is not None:
            signals[r["signal_id"]] = signal
    intent = signal.intent
    settings = settings or Settings()
    state = TradingState(r["trading_state"])
    proposal = _parsed(r["proposal"])
    return WorkItem(
        intent_id=r["id"],
        signal_id=r["signal_id"],
        subscription_id=r["subscription_id"],
        account_id=r["account_id"],
        user_id=r["user_id"],
        mode=r["mode"],
        exchange=r["exchange"],
        symbol=r["symbol"],
        ticker=r["ticker"],
        action=intent.action,
        contracts=r["contracts"],
        signal_price=r["price"],
        market_position=intent.market_position,
        exit_ratio=intent.exit_ratio,
        sizing=Sizing(
            SizingMode(r["sizing_mode"]),
            r["sizing_value"],
            settings.of(SizingParams.from_json, r["sizing_params"]),
        ),
        strategy_id=r["strategy_id"],
        risk=settings.of(RiskLimits.from_json, r["risk_limits"]),
        signal_at=r["signal_time"] or r["received_at"],
        exit_rules=settings.of(ExitRules.from_json, r["exit_rules"]),
        # The subscription's own state, the platform's and its owner's: the most restrictive wins.
        state=limits.state(state, r["user_id"]),
        state_source=limits.source(state, r["user_id"]),
        pnl_total=r["pnl_total"],
        pnl_peak=r["pnl_peak"],
        strategy_drawdown_pct=signal.strategy_drawdown_pct,
        stop_loss=signal.stop_loss,
        take_profit=signal.take_profit,
        dca=settings.of(DcaPlan.from_json, r["dca"]),
        attempts=r.get("attempts") or 0,
        order_type=signal.order_type,
        entry=settings.of(EntryOrder.from_json, r["entry_order"]),
        confirmation=settings.confirmation(
            r["confirmation"], r["confirmation_timeout_s"], r["max_confirm_drift_pct"]
        ),
        confirmed=r["confirmed_at"] is not None,
        proposal_price=decimal_or_none((proposal or {}).get("price")),
        proposed_at=proposed_at(proposal),
        subscription_status=SubscriptionStatus(r["subscription_status"]),
        confidence=signal.confidence,
    )


def _order_type(value: Any) -> OrderType | None:
    return OrderType(value) if value in (OrderType.MARKET.value, OrderType.LIMIT.value) else None
