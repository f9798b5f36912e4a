"""The venue-independent core: markets, prices, balances, orders, trades and the matching engine.

Matching: market orders fill at once at the current price (one taker trade); a limit order that
crosses the current price fills at once at the *current* price (taker, price improvement like a
real book); otherwise it rests and is filled by :meth:`Book.fill` or when :meth:`Book.set_price`
moves the price through it (maker, at its limit price).  A fill can also land on an order after
its cancel (:meth:`Book.fill_late`), as when a trade and a cancel cross on the wire: the order
stays canceled with more executed (filled once nothing remains), and the trade is in the history.

Commission is 0.1 %, in the quote asset, or in the received asset where a venue charges that way
(``fee_in_base_on_buy``: base for buys, quote for sells).  Every change of an order is announced to
the ``listeners`` (the binance user-data stream, fills staged to race a cancel).  Callers hold
``lock``: the HTTP handlers, the test controls and the timers all change the same state.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from tests.fakes.exchange.formats import floor_to, now_ms, plain, q8

FEE_RATE = Decimal("0.001")
MAX_PRICE = Decimal("1000000")
MAX_QTY = Decimal("9000")
MAX_NOTIONAL = Decimal("9000000")


@dataclass(frozen=True)
class MarketSpec:
    """A spot market of the fake exchange; numbers are decimal strings."""

    symbol: str = "BTC/USDT"
    base: str = ""
    quote: str = ""
    amount_step: str = "0.00001"
    price_tick: str = "0.01"
    min_qty: str = "0.00001"
    min_notional: str = "5"

    def __post_init__(self) -> None:
        base, _, quote = self.symbol.partition("/")
        if not self.base:
            object.__setattr__(self, "base", base)
        if not self.quote:
            object.__setattr__(self, "quote", quote)

    @property
    def market_id(self) -> str:
        """The exchange's id for the market, e.g. ``BTCUSDT``."""
        return f"{self.base}{self.quote}"


DEFAULT_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec("BTC/USDT", "BTC", "USDT", "0.00001", "0.01", "0.00001", "5"),
    MarketSpec("ETH/USDT", "ETH", "USDT", "0.0001", "0.01", "0.0001", "5"),
)
DEFAULT_PRICES: dict[str, str] = {
    "BTC/USDT": "60000",
    "ETH/USDT": "3000",
    "BTC/USDC": "60000",
    "ETH/USDC": "3000",
}
DEFAULT_BALANCES: dict[str, str] = {"USDT": "10000"}


@dataclass
class Order:
    order_id: str
    client_order_id: str
    symbol: str
    side: str  # buy | sell
    kind: str  # market | limit
    amount: Decimal  # base quantity
    price: Decimal | None
    time_in_force: str
    post_only: bool
    created_ms: int
    updated_ms: int
    last_price_on_created: Decimal
    status: str = "open"  # open | closed | canceled | expired
    filled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    fee_asset: str = ""
    reserved: Decimal = Decimal(0)  # funds still locked for the unfilled part
    quote_order_qty: Decimal | None = None
    requested_qty: Decimal | None = None  # qty as sent (quote units for quote-sized orders)
    market_unit: str = ""
    iceberg_qty: Decimal | None = None
    stp_mode: str = "EXPIRE_MAKER"
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled


@dataclass
class Trade:
    trade_id: str
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    price: Decimal
    amount: Decimal
    cost: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    time_ms: int


@dataclass
class Ticker:
    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)
    last_qty: Decimal = Decimal(0)
    first_trade_id: int = -1
    last_trade_id: int = -1
    count: int = 0


class Reject(Exception):
    """A matching-engine rejection; each venue maps the kind to its own error."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass(frozen=True)
class OrderEvent:
    """One change of an order: NEW, TRADE, CANCELED or EXPIRED (binance's execution types)."""

    order: Order
    kind: str
    trade: Trade | None = None
    cancel_client_id: str | None = None  # the cancel request's own client id (binance)
    balances: bool = True  # funds moved


def order_record(order: Order, exchange_status: str) -> dict[str, Any]:
    """The fake's own view of an order (see ``FakeExchange.order``)."""
    return {
        "id": order.order_id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side,
        "type": order.kind,
        "post_only": order.post_only,
        "time_in_force": order.time_in_force,
        "price": None if order.price is None else plain(order.price),
        "amount": plain(order.amount),
        "filled": plain(order.filled),
        "remaining": plain(order.remaining),
        "cost": plain(order.cost),
        "fee": plain(order.fee),
        "fee_asset": order.fee_asset or None,
        "status": order.status,
        "exchange_status": exchange_status,
        "created_ms": order.created_ms,
        "updated_ms": order.updated_ms,
    }


def trade_record(trade: Trade) -> dict[str, Any]:
    """The fake's own view of a trade (see ``FakeExchange.trades``)."""
    ids = {"id": trade.trade_id, "order_id": trade.order_id, "client_order_id": trade.client_order_id}
    amounts = {name: plain(getattr(trade, name)) for name in ("price", "amount", "cost", "fee")}
    return {
        **ids,
        "symbol": trade.symbol,
        "side": trade.side,
        **amounts,
        "fee_asset": trade.fee_asset,
        "taker_or_maker": "maker" if trade.is_maker else "taker",
        "time_ms": trade.time_ms,
    }


class Book:
    """Markets, balances, orders and trades of one account, and the matching engine."""

    def __init__(
        self,
        markets: list[MarketSpec],
        prices: dict[str, str],
        balances: dict[str, str],
        *,
        order_id: Callable[[int], str],
        trade_id: Callable[[int], str],
        fee_in_base_on_buy: bool = False,
        min_notional: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.markets: dict[str, MarketSpec] = {spec.symbol: spec for spec in markets}
        # A market needs a price to trade; unknown ones start at 1 (tests set what they use).
        self.prices: dict[str, Decimal] = {s: Decimal(prices.get(s, "1")) for s in self.markets}
        self.tickers = {s: Ticker(p, p, p) for s, p in self.prices.items()}
        self.free: dict[str, Decimal] = {}
        self.locked: dict[str, Decimal] = {}
        for spec in markets:
            for asset in (spec.base, spec.quote):
                self.free.setdefault(asset, Decimal(0))
                self.locked.setdefault(asset, Decimal(0))
        for asset, amount in balances.items():
            self.free[asset] = Decimal(amount)
            self.locked.setdefault(asset, Decimal(0))
        self._start_balances = dict(self.free)  # for reset()
        self.orders: list[Order] = []
        self.orders_by_id: dict[str, Order] = {}
        self.trades: list[Trade] = []
        self.listeners: list[Callable[[OrderEvent], None]] = []
        self._order_ids = itertools.count(4_000_000_001)
        self._trade_ids = itertools.count(300_000_001)
        self.book_ids = itertools.count(25_000_001)  # order book snapshots, synthetic ticks
        self._order_id, self._trade_id = order_id, trade_id
        self._fee_in_base_on_buy = fee_in_base_on_buy
        self._min_notional = min_notional
        # The next this many market orders find no liquidity and rest open until filled or canceled.
        self.resting_market_orders = 0
        self.walking_market_orders = False  # resting IOC market orders stay open (still walking the book)

    def latest(self, client_order_id: str) -> Order | None:
        for order in reversed(self.orders):
            if order.client_order_id == client_order_id:
                return order
        return None

    def latest_open(self, client_order_id: str) -> Order:
        for order in reversed(self.orders):
            if order.client_order_id == client_order_id and order.status == "open":
                return order
        raise KeyError(f"no open order with client order id {client_order_id!r}")

    def levels(self, spec: MarketSpec, depth: int) -> tuple[list[Decimal], list[Decimal]]:
        """A synthetic book around the current price: asks from the price up, bids one tick below."""
        price, tick = self.prices[spec.symbol], Decimal(spec.price_tick)
        asks = [price + tick * i for i in range(depth)]
        bids = [price - tick * (i + 1) for i in range(depth) if price - tick * (i + 1) > 0]
        return bids, asks

    def _check(
        self,
        spec: MarketSpec,
        kind: str,
        amount: Decimal | None,
        quote_qty: Decimal | None,
        price: Decimal | None,
    ) -> Decimal:
        """The order's base amount once it passes the market's filters; raises ``Reject``."""
        step, tick = Decimal(spec.amount_step), Decimal(spec.price_tick)
        min_qty, min_notional = Decimal(spec.min_qty), Decimal(spec.min_notional)
        current = self.prices[spec.symbol]
        if kind == "limit":
            assert price is not None
            if price % tick != 0:
                raise Reject("price_tick")
            if price < tick or price > MAX_PRICE:
                raise Reject("price_range")
        if quote_qty is not None:
            # Market order sized in quote: as much base as the quote buys, on the lot step.
            if quote_qty < min_notional:
                raise Reject("notional")
            amount = floor_to(quote_qty / current, step)
        assert amount is not None
        if amount % step != 0:
            raise Reject("qty_step")
        if amount < min_qty or amount <= 0:
            raise Reject("qty_min")
        if amount > MAX_QTY:
            raise Reject("qty_max")
        reference = price if kind == "limit" and price is not None else current
        if amount * reference < min_notional and self._min_notional:
            raise Reject("notional")
        return amount

    def place(
        self,
        spec: MarketSpec,
        side: str,
        kind: str,
        *,
        client_order_id: str,
        amount: Decimal | None,
        quote_qty: Decimal | None = None,
        price: Decimal | None = None,
        time_in_force: str = "GTC",
        post_only: bool = False,
        reject_post_only: bool = True,
        unique_among: Literal["open", "all", "none"] = "open",
        iceberg_qty: Decimal | None = None,
        stp_mode: str = "EXPIRE_MAKER",
        requested_qty: Decimal | None = None,
        market_unit: str = "",
    ) -> Order:
        """Validate, reserve and match a new order; raises ``Reject(kind)``."""
        clashes = (
            o
            for o in self.orders
            if unique_among != "none"
            and o.client_order_id == client_order_id
            and (unique_among == "all" or o.status == "open")
        )
        if any(True for _ in clashes):
            raise Reject("duplicate")
        amount = self._check(spec, kind, amount, quote_qty, price)
        current = self.prices[spec.symbol]
        crosses = kind == "market" or (
            price is not None and (price >= current if side == "buy" else price <= current)
        )
        rests = kind == "market" and self.resting_market_orders > 0
        if rests:
            self.resting_market_orders -= 1
        if post_only and crosses and reject_post_only:
            raise Reject("would_take")
        fee_in_quote = side == "buy" and not self._fee_in_base_on_buy
        if side == "buy":
            unit_price = price if kind == "limit" and price is not None else current
            need = amount * unit_price * (1 + FEE_RATE if fee_in_quote else 1)
            asset = spec.quote
        else:
            need, asset = amount, spec.base
        if self.free.get(asset, Decimal(0)) < need:
            raise Reject("insufficient")
        now = now_ms()
        order = Order(
            order_id=self._order_id(next(self._order_ids)),
            client_order_id=client_order_id,
            symbol=spec.symbol,
            side=side,
            kind=kind,
            amount=amount,
            price=price if kind == "limit" else None,
            time_in_force=time_in_force,
            post_only=post_only,
            created_ms=now,
            updated_ms=now,
            last_price_on_created=current,
            quote_order_qty=quote_qty,
            requested_qty=requested_qty,
            market_unit=market_unit,
            iceberg_qty=iceberg_qty,
            stp_mode=stp_mode,
        )
        self.orders.append(order)
        self.orders_by_id[order.order_id] = order
        if kind == "limit":
            # Lock the funds of a limit order until it fills or is cancelled.
            order.reserved = need
            self.free[asset] -= need
            self.locked[asset] = self.locked.get(asset, Decimal(0)) + need
        self._emit(OrderEvent(order, "NEW", balances=kind == "limit"))
        if crosses and post_only:
            # bybit and okx accept a crossing post-only order and cancel it at once.
            order.reject_reason = "EC_PostOnlyWillTakeLiquidity"
            self.cancel(order)
        elif crosses and not rests:
            self.execute(order, amount, current, maker=False)
        elif time_in_force in ("IOC", "FOK") and not (rests and self.walking_market_orders):
            self.cancel(order, status="expired")
        return order

    def execute(self, order: Order, qty: Decimal, price: Decimal, *, maker: bool) -> None:
        """One trade of ``qty`` at ``price`` on the order: balances, order totals, ticker, history."""
        spec = self.markets[order.symbol]
        base, quote = spec.base, spec.quote
        cost = qty * price
        remaining_before = order.remaining
        if order.side == "buy":
            if self._fee_in_base_on_buy:
                fee, fee_asset = q8(qty * FEE_RATE), base
            else:
                fee, fee_asset = q8(cost * FEE_RATE), quote
            if order.reserved > 0:
                release = (
                    order.reserved if qty >= remaining_before else order.reserved * qty / remaining_before
                )
                self._unlock(quote, release, order)
            self.free[quote] -= cost + (fee if fee_asset == quote else 0)
            self.free[base] = self.free.get(base, Decimal(0)) + qty - (fee if fee_asset == base else 0)
        else:
            fee, fee_asset = q8(cost * FEE_RATE), quote
            if order.reserved > 0:
                self._unlock(base, min(order.reserved, qty), order)
            self.free[base] -= qty
            self.free[quote] = self.free.get(quote, Decimal(0)) + cost - fee
        now = now_ms()
        order.filled += qty
        order.cost += cost
        order.fee += fee
        order.fee_asset = fee_asset
        order.updated_ms = now
        if order.filled >= order.amount:
            order.status = "closed"
            if order.reserved > 0:
                self._unlock(quote if order.side == "buy" else base, order.reserved, order)
        trade = Trade(
            trade_id=self._trade_id(next(self._trade_ids)),
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            amount=qty,
            cost=cost,
            fee=fee,
            fee_asset=fee_asset,
            is_maker=maker,
            time_ms=now,
        )
        self.trades.append(trade)
        self._tick(trade)
        self._emit(OrderEvent(order, "TRADE", trade=trade))

    def _tick(self, trade: Trade) -> None:
        ticker = self.tickers[trade.symbol]
        ticker.volume += trade.amount
        ticker.quote_volume += trade.cost
        ticker.last_qty = trade.amount
        ticker.count += 1
        if trade.trade_id.isdigit():  # binance reports the first and last trade id of the day
            ticker.last_trade_id = int(trade.trade_id)
            if ticker.first_trade_id < 0:
                ticker.first_trade_id = ticker.last_trade_id

    def _unlock(self, asset: str, amount: Decimal, order: Order) -> None:
        self.locked[asset] -= amount
        self.free[asset] += amount
        order.reserved -= amount

    def cancel(
        self,
        order: Order,
        *,
        status: str = "canceled",
        cancel_type: str = "UNKNOWN",
        cancel_client_id: str | None = None,
    ) -> None:
        """End an open order; ``cancel_client_id`` is the cancel request's own client id (binance)."""
        spec = self.markets[order.symbol]
        had_funds = order.reserved > 0
        if had_funds:
            self._unlock(spec.quote if order.side == "buy" else spec.base, order.reserved, order)
        order.status = status
        order.cancel_type = cancel_type
        order.updated_ms = now_ms()
        kind = "CANCELED" if status == "canceled" else "EXPIRED"
        self._emit(OrderEvent(order, kind, cancel_client_id=cancel_client_id, balances=had_funds))

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Move the market price; resting limit orders it crosses fill (maker, at their limit)."""
        spec = self.markets[symbol]
        self.prices[symbol] = price
        ticker = self.tickers[symbol]
        ticker.high = max(ticker.high, price)
        ticker.low = min(ticker.low, price)
        for order in list(self.orders):
            if order.symbol != spec.symbol or order.status != "open" or order.price is None:
                continue
            crossed = order.price >= price if order.side == "buy" else order.price <= price
            if crossed:
                self.execute(order, order.remaining, order.price, maker=True)

    def fill(self, order: Order, qty: Decimal | None, price: Decimal | None) -> None:
        """A maker trade of ``qty`` (None: the rest) at ``price`` (default: its limit, else the market)."""
        qty = order.remaining if qty is None else qty
        if qty <= 0 or qty > order.remaining:
            raise ValueError(f"cannot fill {qty} of {order.client_order_id}: {order.remaining} remaining")
        price = price if price is not None else order.price or self.prices[order.symbol]
        self.execute(order, qty, price, maker=True)

    def balance_view(self) -> dict[str, dict[str, str]]:
        return {
            asset: {
                "free": plain(self.free[asset]),
                "locked": plain(self.locked[asset]),
                "total": plain(self.free[asset] + self.locked[asset]),
            }
            for asset in self.free
        }

    def reset(self) -> None:
        """Forget every order and trade; balances back to where they started."""
        self.resting_market_orders = 0
        self.walking_market_orders = False
        self.orders.clear()
        self.orders_by_id.clear()
        self.trades.clear()
        for asset in self.free:
            self.free[asset] = self._start_balances.get(asset, Decimal(0))
            self.locked[asset] = Decimal(0)

    def _emit(self, event: OrderEvent) -> None:
        for listener in self.listeners:
            listener(event)
