"""Strategies' track records in SQL: each routed signal moves its strategy's virtual position on the
pair (strategy_pairs) and, when a trade closes, the strategy's curve (domain/track_record decides)."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, update

from tradewire.adapters.store import bulk
from tradewire.adapters.store.tables import signals, strategies, strategy_pairs
from tradewire.adapters.store.values import signal_intent
from tradewire.domain.signals import SignalAction
from tradewire.domain.track_record import PairRecord, PairStatus, StrategyCurve

log = logging.getLogger("tradewire.store")

# The strategy_pairs columns that hold a PairRecord's fields under their own names (status aside).
_PAIR_FIELDS = (
    "symbol",
    "trades",
    "wins",
    "gross_return_pct",
    "window_trades",
    "window_return_pct",
    "consecutive_losses",
    "open_entry",
    "status_reason",
    "status_until",
    "manual",
)


def pair_record(r: Any) -> PairRecord:
    """A PairRecord from a strategy_pairs row (a mapping)."""
    return PairRecord(**{name: r[name] for name in _PAIR_FIELDS}, status=PairStatus(r["status"]))


def pair_row(strategy_id: int, p: PairRecord, now: datetime) -> dict[str, Any]:
    """A strategy_pairs row for one PairRecord."""
    fields = {name: getattr(p, name) for name in _PAIR_FIELDS}
    return {"strategy_id": strategy_id, **fields, "status": p.status.value, "updated_at": now}


def track_signal(conn: Connection, signal_id: int, market_price: Decimal | None, now: datetime) -> None:
    """Move the strategy's virtual position on the signal's pair, and its curve when a trade closes."""
    signal = conn.execute(
        select(
            signals.c.strategy_id, signals.c.symbol, signals.c.action, signals.c.price, signals.c.details
        ).where(signals.c.id == signal_id)
    ).one()
    price = signal.price or market_price
    if price is None:
        log.info("signal %s has no price and none is known: not counted in the track record", signal_id)
        return
    key = (signal.strategy_id, signal.symbol)
    found = conn.execute(
        select(strategy_pairs)
        .where(strategy_pairs.c.strategy_id == key[0], strategy_pairs.c.symbol == key[1])
        .with_for_update()
    ).first()
    before = pair_record(found._mapping) if found else PairRecord(signal.symbol)
    record = before.reviewed(now)
    action = SignalAction(signal.action)
    details = signal.details or {}
    if action is SignalAction.BUY and details.get("market_position") not in ("short", "flat"):
        record = record.after_entry(price)
    elif action is not SignalAction.BUY and not partial_exit(details, signal.action):
        record = record.after_exit(price, now)
    if record == before:
        return
    bulk.insert(
        conn, strategy_pairs, [pair_row(key[0], record, now)], update_conflicts_on=["strategy_id", "symbol"]
    )
    if record.trades > before.trades:
        ret = trade_return(before, price)
        row = conn.execute(
            select(strategies.c.track_index, strategies.c.track_peak)
            .where(strategies.c.id == key[0])
            .with_for_update()
        ).one()
        curve = StrategyCurve(row.track_index, row.track_peak).after_trade(ret)
        conn.execute(
            update(strategies)
            .where(strategies.c.id == key[0])
            .values(track_index=curve.index, track_peak=curve.peak)
        )


def trade_return(before: PairRecord, exit_price: Decimal) -> Decimal:
    """The closed virtual trade's return in percent."""
    assert before.open_entry is not None
    return (exit_price / before.open_entry - 1) * 100


def partial_exit(details: dict[str, Any], action: str) -> bool:
    """Whether a sell signal closes only part of the strategy's position (TradingView's sizes)."""
    sold, before = signal_intent(action, details).exit_ratio
    return sold < before
