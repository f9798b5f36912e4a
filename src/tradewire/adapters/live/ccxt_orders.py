"""ccxt's unified structures (orders, trades, balances) as tradewire's, with exact decimals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from tradewire.domain.balances import AssetBalance
from tradewire.domain.money import to_decimal
from tradewire.domain.orders import ExchangeOrder, OrderRequest, OrderSide, OrderType, Trade


def order_from_ccxt(raw: Mapping[str, Any], request: OrderRequest | None = None) -> ExchangeOrder:
    """ccxt's unified order structure as our ExchangeOrder (missing fields filled from the request)."""
    amount = _dec(raw.get("amount")) or (request.amount if request else Decimal(0))
    filled = _dec(raw.get("filled")) or Decimal(0)
    fee = raw.get("fee") or {}
    fees = raw.get("fees") or ([fee] if fee else [])
    fee_total = sum((_dec(f.get("cost")) or Decimal(0) for f in fees), Decimal(0)) if fees else None
    trades = trades_from_ccxt(raw.get("trades") or [])
    side = raw.get("side") or (request.side.value if request else "buy")
    kind = raw.get("type") or (request.type.value if request else "market")
    return ExchangeOrder(
        exchange_order_id=str(raw.get("id") or ""),
        client_order_id=str(raw.get("clientOrderId") or (request.client_order_id if request else "")),
        symbol=str(raw.get("symbol") or (request.symbol if request else "")),
        side=OrderSide(side),
        type=OrderType(kind) if kind in ("market", "limit") else OrderType.LIMIT,
        status=_status(raw),
        amount=amount,
        filled=filled,
        average=_dec(raw.get("average")),
        price=_dec(raw.get("price")),
        trades=trades,
        fee=fee_total,
        fee_currency=(fees[0].get("currency") if fees else None),
        updated_ms=_ms(raw.get("lastTradeTimestamp") or raw.get("lastUpdateTimestamp")),
    )


# Exchanges' own words for an order canceled after part of it filled, which ccxt reports as 'closed'
# (Bybit: ccxt issue 18685). Read as "filled", such an order would be final at once: never looked up
# again for the fill that raced its cancel, and logged as filled when most of it was not.
_CANCELED_AFTER_FILLS = frozenset({"PartiallyFilledCanceled", "PARTIALLY_FILLED_CANCELLED"})


def _status(raw: Mapping[str, Any]) -> str:
    """ccxt's unified status, except where ccxt calls a canceled order 'closed'; None (ccxt knows no
    status: an answer with ids only) is open until the exchange says more."""
    info = raw.get("info")
    said = (info.get("orderStatus"), info.get("status")) if isinstance(info, Mapping) else ()
    if any(isinstance(word, str) and word in _CANCELED_AFTER_FILLS for word in said):
        return "canceled"
    return str(raw.get("status") or "open")


def trades_from_ccxt(raws: Sequence[Mapping[str, Any]]) -> tuple[Trade, ...]:
    """ccxt's unified trade structures (those with an id) as our Trades, oldest first."""
    trades = [
        Trade(
            trade_id=str(t["id"]),
            amount=_dec(t.get("amount")) or Decimal(0),
            price=_dec(t.get("price")) or Decimal(0),
            fee=_dec((t.get("fee") or {}).get("cost")) or Decimal(0),
            fee_currency=str((t.get("fee") or {}).get("currency") or ""),
            timestamp_ms=int(t.get("timestamp") or 0),
        )
        for t in raws
        if t.get("id") is not None
    ]
    return tuple(sorted(trades, key=lambda t: (t.timestamp_ms, t.trade_id)))


def balance_from_ccxt(raw: Mapping[str, Any]) -> dict[str, Decimal]:
    """ccxt's balance structure as the total per asset (assets it gives no total for left out)."""
    totals = raw.get("total") or {}
    return {asset: to_decimal(amount) for asset, amount in totals.items() if amount is not None}


def balance_detail_from_ccxt(raw: Mapping[str, Any]) -> dict[str, AssetBalance]:
    """ccxt's balance structure as free, used (in open orders) and total per asset."""
    free, used, total = (raw.get(part) or {} for part in ("free", "used", "total"))
    detail: dict[str, AssetBalance] = {}
    for asset in {*free, *used, *total}:
        parts = [_dec(side.get(asset)) for side in (free, used, total)]
        if all(p is None for p in parts):
            continue
        detail[asset] = AssetBalance.of(*parts)
    return detail


def _ms(value: Any) -> int | None:
    try:
        return int(value) if value else None
    except (TypeError, ValueError):
        return None


def _dec(value: Any) -> Decimal | None:
    return None if value is None or value == "" else to_decimal(value)
